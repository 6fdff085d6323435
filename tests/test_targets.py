"""Tests of renp_scan.model.targets and renp_scan/data/targets.toml.

References: the paper's numbers (Yoshimura & Sasao, arXiv:1310.6472, Sec. III),
periodictable's isotope tables, ARC (for the ARC-derived targets) and D1-line
frequencies from D. A. Steck's alkali D line data (independent of ARC and NIST ASD
level tables).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import ROOT, assert_bad_files_named, assert_input_error, load_script
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import constants as sc

from renp_scan.errors import InputError
from renp_scan.model.targets import (
    SCHEMES,
    Target,
    available_targets,
    get_target,
    load_targets,
)

ALL_TARGETS = available_targets()

FIELD_ORDER = (
    "scheme",
    "isotope",
    "Z",
    "N",
    "g_label",
    "g_eV",
    "e_label",
    "e_eV",
    "u_label",
    "u_eV",
    "A_ug_per_s",
    "source",
)


def _toml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def write_targets(path, tables, format_version=1, extra_top=""):
    """Independent minimal TOML writer for target tables (dict of name -> field dict)."""
    lines = [] if format_version is None else [f"format_version = {format_version}"]
    if extra_top:
        lines.append(extra_top)
    for key, table in tables.items():
        lines.append(f"[targets.{key}]")
        info = table.get("info")
        lines += [f"{k} = {_toml_scalar(v)}" for k, v in table.items() if k != "info"]
        if info is not None:
            lines.append(f"[targets.{key}.info]")
            lines += [f"{k} = {_toml_scalar(v)}" for k, v in info.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def valid_table(**changes):
    # A made-up but consistent target (87Rb-like numbers rounded), not a package entry.
    table = {
        "scheme": "alkali",
        "isotope": "87Rb",
        "Z": 37,
        "N": 50,
        "g_label": "5s 2S1/2",
        "g_eV": 0.0,
        "e_label": "5p 2P1/2",
        "e_eV": 1.5596,
        "u_label": "6p 2P1/2",
        "u_eV": 2.9403,
        "A_ug_per_s": 1.5e6,
        "source": "test",
    }
    table.update(changes)
    return table


# ---------------------------------------------------------------- literature values


#: The paper's two targets, field by field (Yoshimura & Sasao, arXiv:1310.6472, Sec. III).
PAPERS_TARGETS = {
    # 133Cs, |e> = 6P1/2 (1.3859 eV), |g> = 6S1/2 (0), A = 7.93e5 s^-1 for 7P1/2 (2.6986)
    # -> 6S1/2.
    "Cs": {"scheme": "alkali", "isotope": "133Cs", "Z": 55, "N": 78, "g_eV": 0.0,
           "e_eV": 1.3859, "u_eV": 2.6986, "A_ug_per_s": 7.93e5},
    # Before eq. 23: 131Xe, 6s 3P1 (8.437 eV) initial, 7s 3P1 (10.593 eV),
    # gamma_7s5p = 8.51e7 s^-1.
    "Xe": {"scheme": "electron_hole", "isotope": "131Xe", "Z": 54, "N": 77, "g_eV": 0.0,
           "e_eV": 8.437, "u_eV": 10.593, "A_ug_per_s": 8.51e7},
}


@pytest.mark.parametrize("name", list(PAPERS_TARGETS))
def test_target_is_exactly_the_papers(name):
    target = get_target(name)
    want = PAPERS_TARGETS[name]
    assert {field: getattr(target, field) for field in want} == want


def test_cs_levels_are_the_papers_orbitals():
    cs = get_target("Cs")
    assert cs.e_label.startswith("6p") and cs.u_label.startswith("7p")


def test_weak_charge_with_the_papers_044():
    # eq. 14: Q_w = N - 0.044 Z; sin2_theta_W = 0.239 gives 1 - 4 s = 0.044.
    cs = get_target("Cs")
    assert cs.weak_charge(0.239) == pytest.approx(78 - 0.044 * 55, abs=1e-12)
    xe = get_target("Xe")
    assert xe.weak_charge(0.239) == pytest.approx(77 - 0.044 * 54, abs=1e-12)
    # sin^2 = 1/4 removes the proton term exactly.
    assert cs.weak_charge(0.25) == pytest.approx(78.0, abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, float("nan"), "0.239", True])
def test_weak_charge_rejects_bad_angle(bad):
    with pytest.raises(InputError) as err:
        get_target("Cs").weak_charge(bad)
    assert err.value.field == "sin2_theta_W"


def test_level_differences():
    cs = get_target("Cs")
    assert cs.eps_eg_eV == pytest.approx(1.3859, abs=1e-15)
    assert cs.eps_ug_eV == pytest.approx(2.6986, abs=1e-15)
    assert cs.eps_ue_eV == pytest.approx(2.6986 - 1.3859, abs=1e-15)
    assert cs.mass_number == 133


# D1 line frequencies (hyperfine centroids) from D. A. Steck, "Cesium D Line Data",
# nu(D1) = 335.116048807 THz; "Rubidium 87 D Line Data", 377.107463380 THz;
# "Rubidium 85 D Line Data", 377.107385690 THz (http://steck.us/alkalidata).
STECK_D1_HZ = {"Cs": 335.116048807e12, "Rb87": 377.107463380e12, "Rb85": 377.107385690e12}


@pytest.mark.parametrize(
    ("key", "tol_eV"),
    # Cs: the paper quotes 4 decimals, so half a unit of the last digit.
    # Rb: ARC (NIST ASD) vs Steck; isotope shifts and rounding stay below 1e-6 eV.
    [("Cs", 5e-5), ("Rb87", 1e-6), ("Rb85", 1e-6)],
)
def test_d1_energy_matches_steck(key, tol_eV):
    d1_eV = sc.h * STECK_D1_HZ[key] / sc.e
    assert get_target(key).eps_eg_eV == pytest.approx(d1_eV, abs=tol_eV)


# ---------------------------------------------------------------- library agreement


@pytest.mark.parametrize("key", ALL_TARGETS)
def test_isotope_agrees_with_periodictable(key):
    periodictable = pytest.importorskip("periodictable")
    target = get_target(key)
    symbol = target.isotope.lstrip("0123456789")
    element = periodictable.elements.symbol(symbol)
    assert element.number == target.Z
    isotope = element[target.mass_number]  # raises KeyError if the isotope does not exist
    assert isotope.isotope == target.Z + target.N
    assert target.isotope == f"{target.Z + target.N}{symbol}"


@pytest.fixture(scope="module")
def arc():
    return pytest.importorskip("arc")


ARC_DERIVED = [key for key in ALL_TARGETS if "arc_class" in get_target(key).info]


def test_there_are_arc_derived_targets():
    assert {"Rb85", "Rb87", "K39"} <= set(ARC_DERIVED)


@pytest.mark.parametrize("key", ARC_DERIVED)
def test_arc_derived_target_agrees_with_arc(arc, key):
    target = get_target(key)
    atom = getattr(arc, target.info["arc_class"])()
    n = target.info["arc_ground_n"]
    ground = atom.getEnergy(n, 0, 0.5)
    # The file rounds energies to 1e-9 eV and rates to 6 significant figures.
    assert target.e_eV == pytest.approx(atom.getEnergy(n, 1, 0.5) - ground, abs=1e-9)
    assert target.u_eV == pytest.approx(atom.getEnergy(n + 1, 1, 0.5) - ground, abs=1e-9)
    rate = atom.getTransitionRate(n + 1, 1, 0.5, n, 0, 0.5)
    assert target.A_ug_per_s == pytest.approx(rate, rel=1e-5)


def test_papers_cs_agrees_with_arc_within_quoted_precision(arc):
    # The paper's Cs numbers (NIST, 2013) against ARC's NIST levels and the
    # Vasilyev et al. (2002) 6s-7p1/2 matrix element: a check of the paper's digits.
    cs = get_target("Cs")
    atom = arc.Caesium()
    ground = atom.getEnergy(6, 0, 0.5)
    assert cs.e_eV == pytest.approx(atom.getEnergy(6, 1, 0.5) - ground, abs=5e-5)
    assert cs.u_eV == pytest.approx(atom.getEnergy(7, 1, 0.5) - ground, abs=5e-5)
    assert cs.A_ug_per_s == pytest.approx(atom.getTransitionRate(7, 1, 0.5, 6, 0, 0.5), rel=3e-3)


def _load_generator():
    return load_script("scripts/make_targets.py")


def test_generator_reproduces_committed_file(arc):
    pytest.importorskip("periodictable")
    generator = _load_generator()
    committed = (ROOT / "renp_scan" / "data" / "targets.toml").read_text(encoding="utf-8")
    file_version = get_target("Rb87").info["arc_version"]
    if generator._arc_version() != file_version:
        pytest.skip(f"installed ARC differs from the file's ARC {file_version}")
    assert generator.render_toml(generator.build_targets()) == committed


# ---------------------------------------------------------------- file invariants


@pytest.mark.parametrize("key", ALL_TARGETS)
def test_every_target_is_consistent(key):
    target = get_target(key)
    assert target.name == key
    assert target.scheme in SCHEMES
    assert target.g_eV == 0.0  # energies are relative to g
    assert 0.0 < target.e_eV < target.u_eV
    assert target.A_ug_per_s > 0.0
    assert target.source.strip()


def test_at_least_four_candidates_beyond_the_papers():
    assert {"Cs", "Xe"} <= set(ALL_TARGETS)
    assert len(set(ALL_TARGETS) - {"Cs", "Xe"}) >= 4


def test_xe_isotopes_share_the_papers_levels():
    xe = get_target("Xe")
    for key in ("Xe129", "Xe132", "Xe134", "Xe136"):
        iso = get_target(key)
        assert (iso.e_eV, iso.u_eV, iso.A_ug_per_s) == (xe.e_eV, xe.u_eV, xe.A_ug_per_s)
        assert iso.Z == 54 and iso.N == iso.mass_number - 54


def test_load_targets_returns_a_fresh_dict():
    first = load_targets()
    first.pop("Cs")
    assert "Cs" in load_targets()


def test_get_target_passes_a_target_through():
    cs = get_target("Cs")
    assert get_target(cs) is cs


def test_unknown_name_lists_known_targets():
    with pytest.raises(InputError) as err:
        get_target("Foo")
    assert err.value.field == "atom"
    assert "unknown target 'Foo'" in str(err.value)
    assert "known: Cs, Xe" in str(err.value)


@pytest.mark.parametrize("bad", [None, 55, 1.0, ["Cs"]])
def test_get_target_rejects_non_names(bad):
    with pytest.raises(InputError) as err:
        get_target(bad)
    assert err.value.field == "atom"


def test_target_is_hashable_and_info_is_read_only():
    cs = get_target("Cs")
    assert hash(cs) == hash(dataclasses.replace(cs))
    with pytest.raises(TypeError):
        cs.info["abundance_percent"] = 1.0


# ---------------------------------------------------------------- round trip and user files


@pytest.mark.parametrize("key", ALL_TARGETS)
def test_round_trip_through_a_user_file(tmp_path, key):
    target = get_target(key)
    table = {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    table.pop("name")
    table["info"] = dict(target.info)
    path = write_targets(tmp_path / "t.toml", {f"{key}_copy": table})
    copy = load_targets(path)[f"{key}_copy"]
    assert dataclasses.replace(copy, name=key) == target
    assert dict(copy.info) == dict(target.info)


def test_user_file_adds_a_target(tmp_path):
    path = write_targets(tmp_path / "mine.toml", {"MyRb": valid_table()})
    mine = get_target("MyRb", extra_files=[path])
    assert mine.e_eV == 1.5596 and mine.Z == 37
    assert "MyRb" in available_targets([path])
    assert "MyRb" in load_targets(path)
    assert "Cs" in load_targets(path)  # the package's targets stay
    assert "MyRb" not in available_targets()  # and the user's do not leak into the default
    # A single path (not in a list) is accepted too.
    assert get_target("MyRb", extra_files=str(path)) == mine


def test_user_file_overrides_a_package_target(tmp_path):
    path = write_targets(
        tmp_path / "cs.toml",
        {
            "Cs": valid_table(
                isotope="133Cs", Z=55, N=78, e_eV=1.38593, u_eV=2.69856, A_ug_per_s=7.94e5
            )
        },
    )
    assert get_target("Cs", extra_files=[path]).e_eV == 1.38593
    assert get_target("Cs").e_eV == 1.3859


def test_later_extra_files_win(tmp_path):
    a = write_targets(tmp_path / "a.toml", {"T": valid_table(e_eV=1.0)})
    b = write_targets(tmp_path / "b.toml", {"T": valid_table(e_eV=2.0)})
    assert get_target("T", extra_files=[a, b]).e_eV == 2.0


def test_integer_energy_is_accepted_as_float(tmp_path):
    path = write_targets(tmp_path / "t.toml", {"T": valid_table(g_eV=0, u_eV=3)})
    target = get_target("T", extra_files=[path])
    assert isinstance(target.g_eV, float) and target.u_eV == 3.0


BAD_FIELDS = [
    # (description, table changes, field expected in the error)
    ("Z as string", {"Z": "37"}, "targets.T.Z"),
    ("Z as float", {"Z": 37.0}, "targets.T.Z"),
    ("Z as bool", {"Z": True}, "targets.T.Z"),
    ("N zero", {"N": 0, "isotope": "37Rb"}, "targets.T.N"),
    ("Z negative", {"Z": -37}, "targets.T.Z"),
    ("energy as string", {"e_eV": "1.5"}, "targets.T.e_eV"),
    ("energy nan", {"e_eV": float("nan")}, "targets.T.e_eV"),
    ("energy inf", {"u_eV": float("inf")}, "targets.T.u_eV"),
    ("e below g", {"e_eV": -0.1}, "targets.T.e_eV"),
    ("e equal to g", {"e_eV": 0.0}, "targets.T.e_eV"),
    ("u below e", {"u_eV": 1.0}, "targets.T.u_eV"),
    ("A zero", {"A_ug_per_s": 0.0}, "targets.T.A_ug_per_s"),
    ("A negative", {"A_ug_per_s": -1e6}, "targets.T.A_ug_per_s"),
    ("unknown scheme", {"scheme": "hydrogenic"}, "targets.T.scheme"),
    ("isotope malformed", {"isotope": "Rb-87"}, "targets.T.isotope"),
    ("isotope mass != Z + N", {"isotope": "85Rb"}, "targets.T.isotope"),
    ("empty label", {"g_label": "  "}, "targets.T.g_label"),
    ("empty source", {"source": ""}, "targets.T.source"),
    ("extra field", {"colour": "blue"}, "targets.T.colour"),
]


@pytest.mark.parametrize(
    ("changes", "field"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS]
)
def test_bad_field_names_the_field(tmp_path, changes, field):
    path = write_targets(tmp_path / "bad.toml", {"T": valid_table(**changes)})
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert err.value.field == field
    with pytest.raises(InputError) as err:
        get_target("Cs", extra_files=[path])  # a bad user file fails even for another name
    assert err.value.field == field


@pytest.mark.parametrize("missing", FIELD_ORDER)
def test_missing_field_names_the_field(tmp_path, missing):
    table = valid_table()
    del table[missing]
    path = write_targets(tmp_path / "bad.toml", {"T": table})
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert err.value.field == f"targets.T.{missing}"
    assert "missing" in err.value.message


def test_info_with_a_table_value_is_rejected(tmp_path):
    path = tmp_path / "bad.toml"
    write_targets(path, {"T": valid_table()})
    path.write_text(path.read_text() + "[targets.T.info.deeper]\nx = 1\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert err.value.field == "targets.T.info.deeper"


@pytest.mark.parametrize(
    ("format_version", "extra_top", "field"),
    [
        (2, "", "format_version"),
        ('"1"', "", "format_version"),
        (None, "", "format_version"),
        (1, "colour = 'blue'", "colour"),
    ],
)
def test_bad_top_level(tmp_path, format_version, extra_top, field):
    path = write_targets(tmp_path / "bad.toml", {"T": valid_table()}, format_version, extra_top)
    assert_input_error(field, load_targets, path)


def test_file_without_targets(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("format_version = 1\n", encoding="utf-8")
    assert_input_error("targets", load_targets, path)


def test_target_that_is_not_a_table(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("format_version = 1\n[targets]\nT = 3\n", encoding="utf-8")
    assert_input_error("targets.T", load_targets, path)


def test_missing_and_malformed_files(tmp_path):
    error = assert_bad_files_named(load_targets, tmp_path, "targets_file",
                                   "format_version = = 1\n")
    assert isinstance(error, ValueError)


def test_direct_construction_validates():
    with pytest.raises(InputError) as err:
        Target(name="T", **{**valid_table(), "u_eV": 0.5})
    assert err.value.field == "u_eV"


positive_gap = st.floats(min_value=1e-3, max_value=20.0, allow_nan=False)


@settings(deadline=None, max_examples=30)
@given(
    z=st.integers(min_value=1, max_value=118),
    n=st.integers(min_value=1, max_value=180),
    gap_eg=positive_gap,
    gap_ue=positive_gap,
    a_per_s=st.floats(min_value=1.0, max_value=1e10, allow_nan=False),
    scheme=st.sampled_from(SCHEMES),
)
def test_random_valid_targets_round_trip(tmp_path_factory, z, n, gap_eg, gap_ue, a_per_s, scheme):
    table = valid_table(
        scheme=scheme,
        isotope=f"{z + n}X",
        Z=z,
        N=n,
        e_eV=gap_eg,
        u_eV=gap_eg + gap_ue,
        A_ug_per_s=a_per_s,
    )
    if not table["u_eV"] > table["e_eV"]:  # gap_ue lost to rounding of a large e_eV
        return
    path = write_targets(tmp_path_factory.mktemp("rt") / "t.toml", {"R": table})
    target = load_targets(path)["R"]
    assert (target.Z, target.N, target.scheme) == (z, n, scheme)
    assert target.e_eV == gap_eg  # repr of a float round-trips exactly through TOML
    assert target.u_eV == table["u_eV"]
    assert target.A_ug_per_s == a_per_s
    assert target.weak_charge(0.25) == pytest.approx(n, abs=1e-12)
