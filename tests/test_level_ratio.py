"""The level ratio of F(omega): eq. 19's pattern by default, eq. 23 as printed one option away.

Covers the target-file key, the scan-file key ``physics.level_ratio``, the per-target cube
attribute and the resume check (a partial computed with the other form is refused, never
mixed). Reference rates are direct :func:`renp_scan.spectrum` calls; the factor between the
forms is checked by hand in ``tests/test_spectrum.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import fraction_grid, scan_text

import renp_scan
from renp_scan.errors import InputError
from renp_scan.model import targets as targets_module
from renp_scan.model.targets import Target, get_target, load_targets
from renp_scan.sweep import executors
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import parse_scan

XE_SCAN = scan_text("xe_ratio", targets=("Xe",), natures=("majorana", "dirac"),
                    m0={"values_eV": [0.05, 0.1]}, omega=fraction_grid(12, 0.2),
                    physics={"density_cm3": 7e19})


def test_package_targets_state_their_form():
    assert get_target("Xe").level_ratio == "eq19"
    assert get_target("Xe136").level_ratio == "eq19"
    assert get_target("Cs").level_ratio == "eq19"


def test_targets_file_key(tmp_path):
    xe = get_target("Xe")
    text = (
        "format_version = 1\n[targets.XeP]\nscheme = \"electron_hole\"\nisotope = \"131Xe\"\n"
        f"Z = 54\nN = 77\ng_label = \"g\"\ng_eV = 0.0\ne_label = \"e\"\ne_eV = {xe.e_eV}\n"
        f"u_label = \"u\"\nu_eV = {xe.u_eV}\nA_ug_per_s = {xe.A_ug_per_s}\n"
        "level_ratio = \"eq23-printed\"\nsource = \"test\"\n")
    path = tmp_path / "t.toml"
    path.write_text(text)
    xep = load_targets(path)["XeP"]
    assert xep.level_ratio == "eq23-printed"
    omega = np.array([1.0, 4.0])
    np.testing.assert_array_equal(
        renp_scan.spectrum(xep, omega, 0.05),
        renp_scan.spectrum("Xe", omega, 0.05, level_ratio="eq23-printed"))
    # An explicit argument overrides the file's form.
    np.testing.assert_array_equal(renp_scan.spectrum(xep, omega, 0.05, level_ratio="eq19"),
                                  renp_scan.spectrum("Xe", omega, 0.05))
    path.write_text(text.replace('"eq23-printed"', '"eq23"'))
    with pytest.raises(InputError) as err:
        load_targets(path)
    assert err.value.field == "targets.XeP.level_ratio"
    path.write_text(text.replace('"electron_hole"', '"alkali"'))
    with pytest.raises(InputError, match="electron-hole") as err:
        load_targets(path)
    assert err.value.field == "targets.XeP.level_ratio"


def test_scan_key(tmp_path):
    assert parse_scan(XE_SCAN).physics.level_ratio is None
    spec = parse_scan(XE_SCAN + 'level_ratio = "eq23-printed"\n')
    assert spec.physics.level_ratio == "eq23-printed"
    with pytest.raises(InputError) as err:
        parse_scan(XE_SCAN + 'level_ratio = "printed"\n')
    assert err.value.field == "physics.level_ratio"
    both = XE_SCAN.replace('targets = ["Xe"]', 'targets = ["Cs", "Xe"]')
    with pytest.raises(InputError, match="Cs uses the alkali scheme") as err:
        parse_scan(both + 'level_ratio = "eq23-printed"\n')
    assert err.value.field == "physics.level_ratio"
    assert parse_scan(both + 'level_ratio = "eq19"\n').physics.level_ratio == "eq19"


@pytest.mark.parametrize("form", [None, "eq23-printed"])
def test_cube_holds_the_form_and_its_rates(tmp_path, form, capsys):
    text = XE_SCAN + (f'level_ratio = "{form}"\n' if form else "")
    spec = parse_scan(text)
    out = tmp_path / "xe.h5"
    run_scan(spec, out, workers=1, progress=False)
    with h5py.File(out, "r") as f:
        assert f["Xe"].attrs["level_ratio"] == (form or "eq19")
        assert "paper" in f.attrs["rate_normalisation"]
        rate = f["Xe/rate"][...]
    omega = spec.omega_eV["Xe"]
    for inat, nature in enumerate(spec.natures):
        for im, m0 in enumerate(spec.m0_eV):
            want = renp_scan.spectrum("Xe", omega, float(m0), "NH", nature, density_cm3=7e19,
                                      level_ratio=form)
            assert np.array_equal(rate[0, inat, 0, 0, 0, im], want)
    from renp_scan.cli.main import main

    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"level ratio {form or 'eq19'}" in text
    assert "rate scale: absolute scale of the paper" in text


class Boom(RuntimeError):
    pass


def test_partial_of_the_other_form_is_refused(tmp_path, monkeypatch):
    """A partial computed while the package's Xe said 'eq23-printed' is not resumed now."""
    spec = parse_scan(XE_SCAN)
    out = tmp_path / "xe.h5"
    printed = dict(targets_module._package_targets())
    xe = printed["Xe"]
    printed["Xe"] = Target(**{k: getattr(xe, k) for k in xe.__dataclass_fields__
                              if k != "level_ratio"}, level_ratio="eq23-printed")
    real = executors.compute_block
    calls = iter(range(10**9))
    lock = threading.Lock()

    def flaky(task, *lent):
        with lock:
            k = next(calls)
        if k >= 1:
            raise Boom(f"block {k}")
        return real(task, *lent)

    with monkeypatch.context() as m:
        m.setattr(targets_module, "_package_targets", lambda: printed)
        m.setattr(executors, "compute_block", flaky)
        with pytest.raises(Boom):
            # A scan holds the target data it was parsed with: parse under the old data.
            run_scan(parse_scan(XE_SCAN), out, workers=1, progress=False, block_rows=1)
    partial = tmp_path / "xe.h5.partial"
    with h5py.File(partial, "r") as f:
        assert f["Xe"].attrs["level_ratio"] == "eq23-printed"
        assert int(f["_progress/Xe/done"][...].sum()) == 1
    before = partial.read_bytes()
    with pytest.raises(InputError, match="level_ratio") as err:
        run_scan(spec, out, workers=1, progress=False)
    assert err.value.field == "output"
    assert "\n" not in str(err.value)
    assert partial.read_bytes() == before and not out.exists()
    run_scan(spec, out, workers=1, progress=False, overwrite=True)
    with h5py.File(out, "r") as f:
        assert f["Xe"].attrs["level_ratio"] == "eq19"
        got = f["Xe/rate"][0, 0, 0, 0, 0, 0]
    want = renp_scan.spectrum("Xe", spec.omega_eV["Xe"], 0.05, "NH", True, density_cm3=7e19)
    assert np.array_equal(got, want)


def test_model_rates_follow_the_cube_form(tmp_path, capsys):
    """--rates model evaluates the form the cube was computed with (else it would refuse)."""
    from renp_scan.analysis import ModelRates
    from renp_scan.cli.main import main

    omega = np.array([4.2, 4.21])
    model = ModelRates("Xe", (0.0, 0.1), 3, ("NH",), ("majorana",), density_cm3=7e19,
                       level_ratio="eq23-printed")
    want = renp_scan.spectrum("Xe", omega, 0.05, "NH", True, density_cm3=7e19,
                              level_ratio="eq23-printed")
    assert np.array_equal(model.rates_Hz("NH", "majorana", [0.05], omega)[0], want)

    scan = tmp_path / "xe23.toml"
    scan.write_text(XE_SCAN.replace('natures = ["majorana", "dirac"]', 'natures = ["majorana"]')
                    .replace('hierarchies = ["NH"]', 'hierarchies = ["NH", "IH"]')
                    .replace("values_eV = [0.05, 0.1]", "start_eV = 0.0\nstop_eV = 0.1\ncount = 6")
                    .replace("count = 12\nstart_fraction = 0.2\nstop_fraction = 1.0",
                             "count = 40\nstart_eV = 4.19\nstop_eV = 4.2184")
                    + 'level_ratio = "eq23-printed"\n')
    cube = tmp_path / "xe23.h5"
    assert main(["run", str(scan), "-o", str(cube), "--quiet", "--workers", "1"]) == 0
    plan = Path(__file__).resolve().parents[1] / "plans" / "xe_uniform.toml"
    capsys.readouterr()
    assert main(["sensitivity", str(cube), "--plan", str(plan), "--rates", "model",
                 "-o", str(tmp_path / "res.h5")]) == 0
    assert "true NH/majorana" in capsys.readouterr().out


def test_rerun_of_a_finished_printed_form_cube_has_nothing_to_do(tmp_path):
    """A finished cube of ``level_ratio = "eq23-printed"`` is recognised as the scan's own."""
    spec = parse_scan(XE_SCAN + 'level_ratio = "eq23-printed"\n')
    out = tmp_path / "xe.h5"
    first = run_scan(spec, out, workers=1, progress=False)
    assert not first.nothing_to_do
    before = out.read_bytes()
    again = run_scan(spec, out, workers=1, progress=False)
    assert again.nothing_to_do and again.blocks_computed == 0
    assert out.read_bytes() == before
