"""Tests for renp_scan.sweep.scanfile: schema validation, grid resolution, shipped scans.

Reference grids come from numpy (linspace/geomspace/log) and from the pair-threshold
formula omega_ij = eps/2 - (m_i + m_j)^2 / (2 eps) (arXiv:1310.6472, Eq. 18) written
out here, not from the module under test.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.errors import InputError
from renp_scan.model.grids import linear_grid, log_grid, merge_grids
from renp_scan.sweep.scanfile import (
    MAX_ENTRIES,
    ScanSpec,
    load_scan,
    parse_scan,
)

SCANS = Path(__file__).resolve().parents[1] / "scans"
SHIPPED = sorted(SCANS.glob("*.toml"))

BASE = {
    "scan": 'name = "t"\ntargets = ["Cs"]\nhierarchies = ["NH"]\nnatures = ["majorana"]\n'
            'channels = ["nucleus"]',
    "m0": "values_eV = [0.1]",
    "omega": "count = 10\nstart_fraction = 0.0\nstop_fraction = 1.0",
}


def make(extra: str = "", **sections) -> str:
    """TOML text from BASE with sections replaced (None drops one) and raw text appended."""
    merged = {**BASE, **sections}
    parts = [f"[{name}]\n{body}\n" for name, body in merged.items() if body is not None]
    return "\n".join(parts) + extra


def eps_eg(target: str) -> float:
    from renp_scan.model.targets import get_target

    return float(get_target(target).eps_eg_eV)


def thresholds_by_formula(eps_eV: float, m0_values, hierarchies) -> np.ndarray:
    """All omega_ij (Eq. 18) over m0 and hierarchies, from the lead's neutrino masses."""
    from renp_scan.model.neutrinos import neutrino_masses

    out = []
    for hierarchy in hierarchies:
        for m0 in m0_values:
            m = neutrino_masses(float(m0), hierarchy)
            for i in range(3):
                for j in range(3):
                    out.append(eps_eV / 2 - (m[i] + m[j]) ** 2 / (2 * eps_eV))
    return np.array(out)


# ---------------------------------------------------------------- shipped scans


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scan_parses(path):
    spec = load_scan(path)
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.name == path.stem
    for target in spec.targets:
        omega = spec.omega_eV[target]
        assert np.all(np.diff(omega) > 0.0)
        assert omega[0] > 0.0 and omega[-1] < eps_eg(target)


def test_expected_shipped_files_exist():
    names = {p.name for p in SHIPPED}
    expected = {"cs_fig4.toml", "cs_fig5_threshold.toml", "xe_fig6.toml", "benchmark.toml",
                "benchmark_x10.toml", "quick.toml", "cs_coulomb_models.toml"}
    assert expected <= names


def test_quick_is_small():
    assert load_scan(SCANS / "quick.toml").n_entries() < 10_000


def test_benchmark_sizes():
    bench = load_scan(SCANS / "benchmark.toml")
    x10 = load_scan(SCANS / "benchmark_x10.toml")
    assert 1.0e8 <= bench.n_entries() <= 1.5e8
    assert x10.n_entries() == 10 * bench.n_entries()
    assert len(bench.targets) >= 2


def test_cs_fig4_is_paper_setup_and_dense_at_thresholds():
    spec = load_scan(SCANS / "cs_fig4.toml")
    # arXiv:1310.6472 Fig. 4 caption: Cs, m0 = 0.1 eV, NH, Majorana and Dirac.
    assert spec.targets == ("Cs",)
    assert spec.hierarchies == ("NH",)
    assert set(spec.natures) == {"majorana", "dirac"}
    np.testing.assert_array_equal(spec.m0_eV, [0.1])
    omega = spec.omega_eV["Cs"]
    assert 1000 <= omega.size <= 10_000
    w = thresholds_by_formula(eps_eg("Cs"), [0.1], ["NH"])
    inside = omega[(omega >= w.min() - 1e-12) & (omega <= w.max() + 1e-12)]
    # The threshold window is ~0.5% of the range; a uniform 3000-point grid would put
    # ~15 points there, the refinement puts >= 1000.
    assert inside.size >= 1000


def test_cs_coulomb_models_is_fig4_with_both_models():
    fig4 = load_scan(SCANS / "cs_fig4.toml")
    both = load_scan(SCANS / "cs_coulomb_models.toml")
    assert both.coulomb_models == ("thomas-fermi", "valence")
    assert fig4.coulomb_models == ("thomas-fermi",)
    for key in ("targets", "hierarchies", "natures", "channels"):
        assert getattr(both, key) == getattr(fig4, key), key
    for key in ("density_cm3", "volume_cm3", "eta"):
        assert getattr(both.physics, key) == getattr(fig4.physics, key), key
    np.testing.assert_array_equal(both.m0_eV, fig4.m0_eV)
    np.testing.assert_array_equal(both.omega_eV["Cs"], fig4.omega_eV["Cs"])
    assert both.n_entries() == 2 * fig4.n_entries()


def test_xe_fig6_is_paper_setup():
    spec = load_scan(SCANS / "xe_fig6.toml")
    # arXiv:1310.6472 Fig. 6 caption: n = 7e19 cm^-3, V = 1e2 cm^3, eta = 1e-6, m0 = 50, 100 meV.
    assert spec.physics.density_cm3 == pytest.approx(7e19, rel=1e-15)
    assert spec.physics.volume_cm3 == pytest.approx(100.0, rel=1e-15)
    assert spec.physics.eta == pytest.approx(1e-6, rel=1e-15)
    np.testing.assert_allclose(spec.m0_eV, [0.05, 0.1], rtol=1e-15)
    assert set(spec.hierarchies) == {"NH", "IH"}


def test_cs_fig5_brackets_all_thresholds():
    spec = load_scan(SCANS / "cs_fig5_threshold.toml")
    omega = spec.omega_eV["Cs"]
    w = thresholds_by_formula(eps_eg("Cs"), spec.m0_eV, spec.hierarchies)
    assert omega[0] < w.min() and omega[-1] > w.max()
    assert np.max(np.diff(omega)) < 1e-5  # eV: fine enough to resolve sqrt edges


# ---------------------------------------------------------------- malformed input

MALFORMED = [
    # (id, text, expected field)
    ("toml-syntax", "[scan\nname = 1", "toml"),
    ("no-scan-table", make(scan=None), "scan"),
    ("no-m0-table", make(m0=None), "m0"),
    ("no-omega-table", make(omega=None), "omega"),
    ("omega-not-table", make(omega=None, extra="").replace("[scan]", "omega = 5\n[scan]"),
     "omega"),
    ("unknown-top", make(extra="[physic]\neta = 1e-6\n"), "physic"),
    ("missing-name", make(scan=BASE["scan"].replace('name = "t"\n', "")), "scan.name"),
    ("bad-name", make(scan=BASE["scan"].replace('"t"', '"my scan"')), "scan.name"),
    ("schema-version", make(scan=BASE["scan"] + "\nschema_version = 2"), "scan.schema_version"),
    ("typo-scan-key", make(scan=BASE["scan"].replace("targets", "targts")), "scan.targts"),
    ("targets-string", make(scan=BASE["scan"].replace('["Cs"]', '"Cs"')), "scan.targets"),
    ("unknown-target", make(scan=BASE["scan"].replace('["Cs"]', '["Unobtainium"]')),
     "scan.targets"),
    ("dup-target", make(scan=BASE["scan"].replace('["Cs"]', '["Cs", "Cs"]')), "scan.targets"),
    ("bad-hierarchy", make(scan=BASE["scan"].replace('["NH"]', '["NO"]')), "scan.hierarchies"),
    ("dup-hierarchy", make(scan=BASE["scan"].replace('["NH"]', '["NH", "IH", "NH"]')),
     "scan.hierarchies"),
    ("bad-nature-case", make(scan=BASE["scan"].replace('["majorana"]', '["Majorana"]')),
     "scan.natures"),
    ("bad-channel", make(scan=BASE["scan"].replace('["nucleus"]', '["valence"]')),
     "scan.channels"),
    ("empty-channels", make(scan=BASE["scan"].replace('["nucleus"]', "[]")), "scan.channels"),
    ("bad-coulomb-model", make(scan=BASE["scan"] + '\ncoulomb_models = ["hartree-fock"]'),
     "scan.coulomb_models"),
    ("coulomb-model-case", make(scan=BASE["scan"] + '\ncoulomb_models = ["Thomas-Fermi"]'),
     "scan.coulomb_models"),
    ("dup-coulomb-model",
     make(scan=BASE["scan"] + '\ncoulomb_models = ["valence", "thomas-fermi", "valence"]'),
     "scan.coulomb_models"),
    ("empty-coulomb-models", make(scan=BASE["scan"] + "\ncoulomb_models = []"),
     "scan.coulomb_models"),
    ("coulomb-models-string", make(scan=BASE["scan"] + '\ncoulomb_models = "valence"'),
     "scan.coulomb_models"),
    ("m0-count-zero", make(m0='start_eV = 0.0\nstop_eV = 0.1\ncount = 0'), "m0.count"),
    ("m0-count-float", make(m0='start_eV = 0.0\nstop_eV = 0.1\ncount = 10.0'), "m0.count"),
    ("m0-count-missing", make(m0='start_eV = 0.0\nstop_eV = 0.1'), "m0.count"),
    ("m0-negative", make(m0='start_eV = -0.1\nstop_eV = 0.1\ncount = 5'), "m0.start_eV"),
    ("m0-log-zero", make(m0='spacing = "log"\nstart_eV = 0.0\nstop_eV = 0.1\ncount = 5'),
     "m0.start_eV"),
    ("m0-reversed", make(m0='start_eV = 0.2\nstop_eV = 0.1\ncount = 5'), "m0.stop_eV"),
    ("m0-empty-range", make(m0='start_eV = 0.1\nstop_eV = 0.1\ncount = 5'), "m0.stop_eV"),
    ("m0-single-mismatch", make(m0='start_eV = 0.1\nstop_eV = 0.2\ncount = 1'), "m0.stop_eV"),
    ("m0-bad-spacing", make(m0='spacing = "geometric"\nstart_eV = 0.1\nstop_eV = 0.2\ncount = 3'),
     "m0.spacing"),
    ("m0-nan", make(m0="values_eV = [0.1, nan]"), "m0.values_eV[1]"),
    ("m0-inf", make(m0="values_eV = [inf]"), "m0.values_eV[0]"),
    ("m0-neg-value", make(m0="values_eV = [-0.01, 0.1]"), "m0.values_eV[0]"),
    ("m0-dup", make(m0="values_eV = [0.1, 0.1]"), "m0.values_eV[1]"),
    ("m0-decreasing", make(m0="values_eV = [0.2, 0.1]"), "m0.values_eV[1]"),
    ("m0-empty-list", make(m0="values_eV = []"), "m0.values_eV"),
    ("m0-string", make(m0='values_eV = ["0.1"]'), "m0.values_eV[0]"),
    ("m0-mev-slip", make(m0="values_eV = [50.0]"), "m0.values_eV[0]"),
    ("m0-both-forms", make(m0="values_eV = [0.1]\ncount = 3"), "m0.count"),
    ("m0-typo", make(m0="values_ev = [0.1]"), "m0.values_ev"),
    ("omega-count-zero", make(omega="count = 0\nstart_eV = 0.1\nstop_eV = 0.5"), "omega.count"),
    ("omega-count-bool", make(omega="count = true\nstart_eV = 0.1\nstop_eV = 0.5"),
     "omega.count"),
    ("omega-count-missing", make(omega="start_eV = 0.1\nstop_eV = 0.5"), "omega.count"),
    ("omega-count-huge", make(omega="count = 1_000_000_000\nstart_eV = 0.1\nstop_eV = 0.5"),
     "omega.count"),
    ("omega-no-range", make(omega="count = 10"), "omega.start_eV"),
    ("omega-half-range", make(omega="count = 10\nstart_eV = 0.1"), "omega.stop_eV"),
    ("omega-mixed-forms", make(omega="count = 10\nstart_eV = 0.1\nstop_fraction = 0.5"),
     "omega.stop_fraction"),
    ("omega-negative", make(omega="count = 10\nstart_eV = -0.1\nstop_eV = 0.5"),
     "omega.start_eV"),
    ("omega-reversed", make(omega="count = 10\nstart_eV = 0.5\nstop_eV = 0.1"), "omega.stop_eV"),
    # Cs eps_eg = 1.3859 eV: 2 eV is above it.
    ("omega-above-eps", make(omega="count = 10\nstart_eV = 0.1\nstop_eV = 2.0"),
     "omega.stop_eV"),
    ("omega-fraction-2", make(omega="count = 10\nstart_fraction = 0.5\nstop_fraction = 2.0"),
     "omega.stop_fraction"),
    ("omega-zero-stop", make(omega="count = 1\nstart_eV = 0.0\nstop_eV = 0.0"),
     "omega.stop_eV"),
    ("omega-log-zero", make(omega='count = 5\nspacing = "log"\nstart_fraction = 0.0\n'
                                  'stop_fraction = 1.0'), "omega.start_fraction"),
    ("omega-bad-spacing", make(omega='count = 5\nspacing = "cubic"\nstart_eV = 0.1\n'
                                     'stop_eV = 0.5'), "omega.spacing"),
    ("omega-nan", make(omega="count = 5\nstart_eV = nan\nstop_eV = 0.5"), "omega.start_eV"),
    ("omega-typo", make(omega="cont = 5\nstart_eV = 0.1\nstop_eV = 0.5"), "omega.cont"),
    ("omega-threshold-negative", make(omega=BASE["omega"] + "\nthreshold_points = -1"),
     "omega.threshold_points"),
    ("omega-override-above-eps", make(extra="[omega.Cs]\nstart_eV = 0.1\nstop_eV = 1.5\n"),
     "omega.Cs.stop_eV"),
    ("omega-override-typo", make(extra="[omega.Cs]\ncnt = 5\n"), "omega.Cs.cnt"),
    ("omega-override-not-in-scan", make(extra="[omega.Xe]\ncount = 5\n"), "omega.Xe"),
    ("omega-override-count", make(omega="start_eV = 0.1\nstop_eV = 0.5",
                                  extra="[omega.Cs]\ncount = 0\n"), "omega.Cs.count"),
    # Cs eps_eg = 1.3859 eV < 2 m0: every threshold is negative, nothing to refine.
    ("omega-thresholds-closed", make(m0="values_eV = [5.0]",
                                     omega=BASE["omega"] + "\nthreshold_points = 10"),
     "omega.threshold_points"),
    ("phases-no-unit", make(extra="[phases]\nvalues = [[0.0, 0.0]]\n"), "phases.unit"),
    ("phases-bad-unit", make(extra='[phases]\nunit = "grad"\nvalues = [[0.0, 0.0]]\n'),
     "phases.unit"),
    ("phases-no-values", make(extra='[phases]\nunit = "rad"\n'), "phases.values"),
    ("phases-triple", make(extra='[phases]\nunit = "rad"\nvalues = [[0.0, 0.0, 1.0]]\n'),
     "phases.values[0]"),
    ("phases-dup", make(scan=BASE["scan"].replace('["nucleus"]', '["core"]'),
                        extra='[phases]\nunit = "deg"\nvalues = [[0, 90], [0.0, 90.0]]\n'),
     "phases.values[1]"),
    ("phases-rad-slip", make(extra='[phases]\nunit = "rad"\nvalues = [[90.0, 0.0]]\n'),
     "phases.values[0]"),
    ("phases-useless", make(extra='[phases]\nunit = "rad"\nvalues = [[0.0, 0.0], [1.0, 0.0]]\n'),
     "phases.values"),
    ("density-negative", make(extra="[physics]\ndensity_cm3 = -1e21\n"), "physics.density_cm3"),
    ("volume-string", make(extra='[physics]\nvolume_cm3 = "100"\n'), "physics.volume_cm3"),
    ("eta-above-one", make(extra="[physics]\neta = 2.0\n"), "physics.eta"),
    ("physics-typo", make(extra="[physics]\ntemperature = 300\n"), "physics.temperature"),
    ("dtype", make(extra='[output]\ndtype = "float16"\n'), "output.dtype"),
    ("compression", make(extra='[output]\ncompression = "bzip2"\n'), "output.compression"),
    ("gzip-level", make(extra='[output]\ncompression = "gzip"\ncompression_level = 12\n'),
     "output.compression_level"),
    ("lzf-level", make(extra='[output]\ncompression = "lzf"\ncompression_level = 4\n'),
     "output.compression_level"),
    ("shuffle-string", make(extra='[output]\nshuffle = "yes"\n'), "output.shuffle"),
    ("block-seconds-zero", make(extra="[engine]\nblock_target_seconds = 0\n"),
     "engine.block_target_seconds"),
    # 10^7 m0 x 10^7 omega = 10^14 entries: refused from the counts, before allocation.
    ("too-big", make(m0="start_eV = 0.0\nstop_eV = 0.1\ncount = 10_000_000",
                     omega="count = 10_000_000\nstart_fraction = 0.0\nstop_fraction = 1.0"),
     "scan"),
]


@pytest.mark.parametrize("text, field", [(t, f) for _, t, f in MALFORMED],
                         ids=[i for i, _, _ in MALFORMED])
def test_malformed_raises_inputerror_naming_field(text, field):
    with pytest.raises(InputError) as info:
        parse_scan(text)
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError)


def test_base_template_is_valid():
    # Guards the table above: each variant must fail because of its own change.
    spec = parse_scan(make())
    assert spec.omega_eV["Cs"].size == 10


def test_toml_syntax_error_reports_line_and_column():
    with pytest.raises(InputError) as info:
        parse_scan(make() + "\n[engine\n", path="x.toml")
    assert "line" in info.value.message and "column" in info.value.message
    assert "x.toml" in info.value.message


def test_too_big_fails_fast():
    # MAX_ENTRIES is an absolute cap, independent of free disk.
    assert MAX_ENTRIES <= 10**12
    text = make(m0="start_eV = 0.0\nstop_eV = 0.1\ncount = 100_000_000",
                omega="count = 100_000_000\nstart_fraction = 0.0\nstop_fraction = 1.0")
    with pytest.raises(InputError, match="exceed"):
        parse_scan(text)


def test_size_cap_counts_coulomb_models():
    # 10^6 m0 x 6 x 10^5 omega = 6e11 entries per spectrum line: under the 10^12 cap
    # with one Coulomb model, over it with two.
    sizes = dict(m0="start_eV = 0.0\nstop_eV = 0.1\ncount = 1_000_000",
                 omega="count = 600_000\nstart_fraction = 0.0\nstop_fraction = 1.0")
    assert parse_scan(make(**sizes)).n_entries() == 6 * 10**11
    both = BASE["scan"] + '\ncoulomb_models = ["thomas-fermi", "valence"]'
    with pytest.raises(InputError, match="exceed") as info:
        parse_scan(make(scan=both, **sizes))
    assert info.value.field == "scan"
    assert "(2 spectra per (m0, omega)" in info.value.message


def test_unknown_key_suggests_fix():
    with pytest.raises(InputError, match="did you mean 'count'"):
        parse_scan(make(omega="cuont = 5\nstart_eV = 0.1\nstop_eV = 0.5"))


def test_load_scan_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        load_scan(tmp_path / "nope.toml")
    assert info.value.field == "path"


def test_load_scan_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(make(extra='# caf\xe9\n').encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_scan(path)
    assert info.value.field == "path"


# ---------------------------------------------------------------- grid resolution


def test_linear_omega_in_eV_matches_linspace():
    spec = parse_scan(make(omega="count = 101\nstart_eV = 0.1\nstop_eV = 0.6"))
    np.testing.assert_array_equal(spec.omega_eV["Cs"], np.linspace(0.1, 0.6, 101))


def test_log_omega_has_constant_ratio_and_exact_ends():
    spec = parse_scan(make(omega='count = 50\nspacing = "log"\nstart_eV = 1e-3\nstop_eV = 0.6'))
    omega = spec.omega_eV["Cs"]
    assert omega[0] == 1e-3 and omega[-1] == 0.6
    ratios = np.diff(np.log(omega))
    np.testing.assert_allclose(ratios, math.log(0.6 / 1e-3) / 49, rtol=1e-9)


def test_fraction_range_maps_to_half_eps():
    eps = eps_eg("Cs")
    spec = parse_scan(make(omega="count = 7\nstart_fraction = 0.2\nstop_fraction = 0.8"))
    np.testing.assert_allclose(spec.omega_eV["Cs"], np.linspace(0.1 * eps, 0.4 * eps, 7),
                               rtol=1e-15, atol=0)


def test_zero_start_is_an_open_end():
    eps = eps_eg("Cs")
    spec = parse_scan(make(omega="count = 4\nstart_fraction = 0.0\nstop_fraction = 1.0"))
    expected = np.array([1, 2, 3, 4]) * (eps / 2) / 4
    np.testing.assert_allclose(spec.omega_eV["Cs"], expected, rtol=1e-15, atol=0)


def test_m0_grids():
    linear = parse_scan(make(m0="start_eV = 0.0\nstop_eV = 0.1\ncount = 11"))
    np.testing.assert_array_equal(linear.m0_eV, np.linspace(0.0, 0.1, 11))
    assert linear.m0_eV[0] == 0.0  # m0 = 0 is a valid mass
    log = parse_scan(make(m0='spacing = "log"\nstart_eV = 1e-4\nstop_eV = 1.0\ncount = 5'))
    np.testing.assert_allclose(log.m0_eV, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-14)
    explicit = parse_scan(make(m0="values_eV = [0, 0.05, 0.1]"))
    np.testing.assert_array_equal(explicit.m0_eV, [0.0, 0.05, 0.1])
    single = parse_scan(make(m0="start_eV = 0.07\nstop_eV = 0.07\ncount = 1"))
    np.testing.assert_array_equal(single.m0_eV, [0.07])


def test_threshold_refinement_covers_window():
    eps = eps_eg("Cs")
    m0 = [0.0, 0.02, 0.05]
    text = make(
        scan=BASE["scan"].replace('["NH"]', '["NH", "IH"]'),
        m0=f"values_eV = {m0}",
        omega="count = 100\nstart_fraction = 0.0\nstop_fraction = 1.0\nthreshold_points = 500",
    )
    omega = parse_scan(text).omega_eV["Cs"]
    w = thresholds_by_formula(eps, m0, ["NH", "IH"])
    lo, hi = w.min(), w.max()
    assert np.all(np.diff(omega) > 0.0)
    assert omega[0] > 0.0 and omega[-1] < eps
    inside = omega[(omega >= lo - 1e-12) & (omega <= hi + 1e-12)]
    assert inside.size >= 500
    # The window ends themselves are grid points.
    assert np.min(np.abs(omega - lo)) < 1e-12
    assert np.min(np.abs(omega - hi)) < 1e-12
    assert omega.size <= 100 + 500


def test_override_replaces_range_and_inherits_count():
    text = make(
        scan=BASE["scan"].replace('["Cs"]', '["Cs", "Xe"]'),
        omega="count = 9\nstart_fraction = 0.5\nstop_fraction = 1.0",
        extra="[omega.Cs]\nstart_eV = 0.2\nstop_eV = 0.3\n",
    )
    spec = parse_scan(text)
    np.testing.assert_array_equal(spec.omega_eV["Cs"], np.linspace(0.2, 0.3, 9))
    eps_xe = eps_eg("Xe")
    np.testing.assert_allclose(spec.omega_eV["Xe"], np.linspace(eps_xe / 4, eps_xe / 2, 9),
                               rtol=1e-15, atol=0)


def test_phases_deg_to_rad_and_default():
    text = make(scan=BASE["scan"].replace('["nucleus"]', '["nucleus", "core"]'),
                extra='[phases]\nunit = "deg"\nvalues = [[0, 0], [90, 180], [-45, 360]]\n')
    phases = parse_scan(text).majorana_phases_rad
    expected = [[0.0, 0.0], [math.pi / 2, math.pi], [-math.pi / 4, 2 * math.pi]]
    np.testing.assert_allclose(phases, expected, rtol=1e-15, atol=1e-15)
    default = parse_scan(make()).majorana_phases_rad
    np.testing.assert_array_equal(default, [[0.0, 0.0]])


def test_defaults():
    spec = parse_scan(make())
    physics = spec.physics
    assert (physics.density_cm3, physics.volume_cm3, physics.eta) == (1e21, 100.0, 1e-6)
    assert (spec.dtype, spec.compression, spec.compression_level, spec.shuffle) == (
        "float64", "gzip", 1, True)
    assert spec.block_target_seconds == 0.3
    assert spec.description == "" and spec.path is None
    assert spec.coulomb_models == ("thomas-fermi",)  # the paper's TF integrals


def test_coulomb_models_keep_file_order():
    spec = parse_scan(make(scan=BASE["scan"] + '\ncoulomb_models = ["valence", "thomas-fermi"]'))
    assert spec.coulomb_models == ("valence", "thomas-fermi")
    single = parse_scan(make(scan=BASE["scan"] + '\ncoulomb_models = ["valence"]'))
    assert single.coulomb_models == ("valence",)


def test_coulomb_models_are_those_of_spectrum():
    # The scan file offers exactly the models renp_scan.spectrum accepts.
    import renp_scan

    omega = [0.5]
    for model in ("thomas-fermi", "valence"):
        spec = parse_scan(make(scan=BASE["scan"] + f'\ncoulomb_models = ["{model}"]'))
        assert spec.coulomb_models == (model,)
        assert renp_scan.spectrum("Cs", omega, 0.1, coulomb_model=model)[0] > 0.0
    with pytest.raises(InputError) as info:
        renp_scan.spectrum("Cs", omega, 0.1, coulomb_model="hartree-fock")
    assert info.value.field == "coulomb_model"


def test_compression_levels():
    lzf = parse_scan(make(extra='[output]\ncompression = "lzf"\n'))
    assert lzf.compression_level is None
    none = parse_scan(make(extra='[output]\ncompression = "none"\nshuffle = false\n'))
    assert none.compression_level is None and none.shuffle is False
    zstd = parse_scan(make(extra='[output]\ncompression = "zstd"\n'))
    assert zstd.compression_level == 3


# ---------------------------------------------------------------- identity, shape, size


def test_sha256_is_digest_of_exact_text(tmp_path):
    text = make().replace("\n", "\r\n")  # CRLF must survive untranslated
    path = tmp_path / "crlf.toml"
    path.write_bytes(text.encode("utf-8"))
    spec = load_scan(path)
    assert spec.text == text
    assert spec.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert spec.path == str(path)
    assert parse_scan(text + " ").sha256 != spec.sha256


def test_shape_and_n_entries():
    text = make(
        scan='name = "s"\ntargets = ["Cs", "Xe"]\nhierarchies = ["NH", "IH"]\n'
             'natures = ["majorana", "dirac"]\nchannels = ["nucleus", "core"]\n'
             'coulomb_models = ["thomas-fermi", "valence"]',
        m0="start_eV = 0.0\nstop_eV = 0.1\ncount = 3",
        omega="count = 10\nstart_fraction = 0.0\nstop_fraction = 1.0",
        extra='[omega.Xe]\ncount = 7\n[phases]\nunit = "rad"\nvalues = [[0, 0], [1, 2]]\n'
              '[output]\ndtype = "float32"\n',
    )
    spec = parse_scan(text)
    # (hierarchy, nature, channel, coulomb_model, phase, m0, omega)
    assert spec.shape("Cs") == (2, 2, 2, 2, 2, 3, 10)
    assert spec.shape("Xe") == (2, 2, 2, 2, 2, 3, 7)
    assert spec.n_entries() == 32 * 3 * 10 + 32 * 3 * 7
    default = parse_scan(text.replace('\ncoulomb_models = ["thomas-fermi", "valence"]', ""))
    assert default.shape("Cs") == (2, 2, 2, 1, 2, 3, 10)
    assert default.n_entries() == spec.n_entries() // 2
    assert spec.n_bytes() == 4 * spec.n_entries()
    with pytest.raises(InputError) as info:
        spec.shape("Rb87")
    assert info.value.field == "target"


def test_spec_is_frozen_and_read_only():
    spec = parse_scan(make())
    assert isinstance(spec, ScanSpec)
    with pytest.raises(AttributeError):
        spec.name = "other"
    with pytest.raises(ValueError):
        spec.m0_eV[0] = 1.0
    with pytest.raises(ValueError):
        spec.omega_eV["Cs"][0] = 1.0


# ---------------------------------------------------------------- properties

_pos = st.floats(min_value=1e-6, max_value=10.0, allow_nan=False, allow_infinity=False)


@settings(deadline=None, max_examples=200)
@given(a=_pos, b=_pos, count=st.integers(1, 5000), spacing=st.sampled_from(["linear", "log"]))
def test_grid_helpers_property(a, b, count, spacing):
    start, stop = min(a, b), max(a, b)
    if count > 1 and (stop - start) < 1e-9 * stop:
        stop = start * 2.0
    if count == 1:
        stop = start
    grid = (log_grid if spacing == "log" else linear_grid)(start, stop, count)
    assert grid.size == count
    assert grid[0] == start and grid[-1] == pytest.approx(stop, rel=1e-15)
    assert np.all(np.diff(grid) > 0.0)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(0, 300).map(lambda k: k * 1e-3), max_size=200),
       st.lists(st.floats(0.0, 0.3, allow_nan=False), max_size=50),
       st.floats(0.0, 5e-3))
def test_merge_grids_property(a, b, atol):
    merged = merge_grids([np.array(a), np.array(b)], atol)
    assert np.all(np.diff(merged) > atol)
    # Independent reference: plain greedy scan over the sorted points.
    reference = []
    for x in sorted(set(a + b)):
        if not reference or x - reference[-1] > atol:
            reference.append(x)
    np.testing.assert_array_equal(merged, reference)
    for x in a + b:
        # Every input point is represented within atol (by itself or a kept neighbour).
        assert np.min(np.abs(merged - x)) <= atol * (1 + 1e-12) + 1e-300


@settings(deadline=None, max_examples=40)
@given(
    f0=st.floats(0.0, 1.9), f1=st.floats(0.0, 1.9),
    count=st.integers(1, 300), spacing=st.sampled_from(["linear", "log"]),
    k=st.integers(0, 200),
    m0=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=4, unique=True),
)
def test_resolved_omega_property(f0, f1, count, spacing, k, m0):
    start, stop = sorted((f0, f1))
    if spacing == "log":
        start = max(start, 1e-3)
    if stop - start < 1e-3:
        stop = start + 1e-3
    if count == 1 and start > 0:
        stop = start
    m0 = sorted(m0)
    text = make(
        m0=f"values_eV = {m0}",
        omega=f'count = {count}\nspacing = "{spacing}"\nstart_fraction = {start!r}\n'
              f"stop_fraction = {stop!r}\nthreshold_points = {k}",
    )
    eps = eps_eg("Cs")
    omega = parse_scan(text).omega_eV["Cs"]
    assert np.all(np.diff(omega) > 0.0)
    assert omega[0] > 0.0 and omega[-1] < eps
    assert count <= omega.size <= count + k
    if k:
        w = thresholds_by_formula(eps, m0, ["NH"])
        w = w[w > 0]
        assert np.sum((omega >= w.min() - 1e-12) & (omega <= w.max() + 1e-12)) >= min(k, 1)


def test_docs_complete_example_parses():
    # Keeps docs/scan_schema.md honest: its complete example must be a valid scan.
    doc = (SCANS.parent / "docs" / "scan_schema.md").read_text(encoding="utf-8")
    section = doc.split("## Complete example", 1)[1]
    text = section.split("```toml\n", 1)[1].split("```", 1)[0]
    spec = parse_scan(text)
    assert spec.targets == ("Cs", "Xe")
    assert spec.majorana_phases_rad.shape == (2, 2)
    assert spec.omega_eV["Xe"][0] == pytest.approx(4.15, abs=1e-15)
    assert spec.omega_eV["Xe"][-1] < 4.2185 + 1e-12
    assert spec.dtype == "float32"
    assert spec.coulomb_models == ("thomas-fermi", "valence")
