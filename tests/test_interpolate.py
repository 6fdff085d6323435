"""Rate sources of the analysis layer: cube slices, spline interpolation in m0, linear in omega.

References are direct evaluations of renp_scan.spectrum (an independent path: no
interpolation), and exact identities (a spline through knots returns the knots).
"""

import numpy as np
import pytest
import xarray as xr

import renp_scan
from renp_scan.analysis.direct import ModelRates
from renp_scan.analysis.interpolate import SplineRates
from renp_scan.analysis.table import RateTable, bracketing_columns, linear_weights
from renp_scan.errors import InputError
from renp_scan.model.neutrinos import neutrino_masses
from renp_scan.model.spectrum import thresholds_eV

M0_GRID = np.linspace(0.0, 0.2, 201)  # the shipped sensitivity grids: 1 meV steps
HYPS = [("NH", "majorana"), ("IH", "dirac")]


def lowest_threshold(atom, m0_max):
    eps = renp_scan.get_target(atom).eps_eg_eV
    return min(thresholds_eV(eps, neutrino_masses(m0_max, h)).min() for h in ("NH", "IH"))


def cube_dataset(table: RateTable, extra_dim=None, models=("thomas-fermi",)):
    """An xarray Dataset in the cube layout (dims hierarchy..omega) built from a table.

    The second Coulomb model (if any) holds 7 x the table, the second channel 2 x,
    the second phase row 3 x, the second label of ``extra_dim`` 5 x.
    """
    rate = table.rate_Hz[:, :, None, None, None, :, :]
    rate = np.concatenate([rate, 2.0 * rate], axis=2)  # a second channel, different numbers
    rate = np.concatenate([rate, 7.0 * rate][:len(models)], axis=3)  # Coulomb models
    rate = np.concatenate([rate, 3.0 * rate], axis=4)  # a second phase row
    # The cube layout's dims, written out (not taken from the code under test).
    dims = ("hierarchy", "nature", "channel", "coulomb_model", "phase", "m0", "omega")
    coords = {"hierarchy": list(table.hierarchies), "nature": list(table.natures),
              "channel": ["nucleus", "core"], "coulomb_model": list(models), "phase": [0, 1],
              "m0": table.m0_eV, "omega": table.omega_eV}
    if extra_dim:
        rate = np.stack([rate, 5.0 * rate], axis=3)
        dims = dims[:3] + (extra_dim,) + dims[3:]
        coords[extra_dim] = ["first", "other"]
    return xr.Dataset({"rate": (dims, rate, {"units": "Hz"})}, coords=coords,
                      attrs={"name": table.target, "eps_eg_eV": table.eps_eg_eV})


@pytest.mark.parametrize("atom,density", [("Cs", 1e21), ("Xe", 7e19)])
def test_spline_below_thresholds_matches_spectrum(atom, density):
    eps = renp_scan.get_target(atom).eps_eg_eV
    # "Below thresholds": at least 10 meV below the lowest threshold reached on the grid.
    omega_max = lowest_threshold(atom, M0_GRID[-1]) - 1e-2
    omega = np.linspace(0.05 * eps / 2, omega_max, 25)
    table = RateTable.from_model(atom, omega, M0_GRID, ("NH", "IH"), ("majorana", "dirac"),
                                 density_cm3=density)
    source = SplineRates(table)
    mid = 0.5 * (M0_GRID[1:] + M0_GRID[:-1])
    worst = 0.0
    for h, n in HYPS:
        exact = np.array([renp_scan.spectrum(atom, omega, m, h, n, density_cm3=density)
                          for m in mid])
        approx = source.rates_Hz(h, n, mid, omega)
        worst = max(worst, float(np.max(np.abs(approx / exact - 1.0))))
    # Measured max relative error at the knot mid-points: Cs 2.2e-7, Xe 6.3e-10
    # (docs/sensitivity.md); the bound leaves a factor ~2 for Cs.
    assert worst < 5e-7


@pytest.mark.parametrize("atom,bound", [("Cs", 0.1), ("Xe", 0.08)])
def test_spline_threshold_region_error_is_as_documented(atom, bound):
    # Near a threshold crossing Gamma(m0) opens like a square root, so the
    # interpolation error is set by the kink. Documented: max |error| / peak rate
    # 0.064 (Cs), 0.048 (Xe); 99th percentile 0.006 / 0.0035 (1 meV knots).
    eps = renp_scan.get_target(atom).eps_eg_eV
    omega = np.linspace(lowest_threshold(atom, 0.2) - 2e-3, eps / 2, 120)
    table = RateTable.from_model(atom, omega, M0_GRID, ("NH",), ("majorana",))
    source = SplineRates(table)
    mid = 0.5 * (M0_GRID[1:] + M0_GRID[:-1])
    exact = np.array([renp_scan.spectrum(atom, omega, m, "NH") for m in mid])
    got = source.rates_Hz("NH", "majorana", mid, omega)
    err = np.abs(got - exact)
    assert err.max() / exact.max() < bound
    assert np.percentile(err, 99) / exact.max() < 0.01
    # ...and it is a threshold effect: the median error stays small.
    assert np.median(err) / exact.max() < 1e-6
    # PCHIP in the threshold window: no negative rate, and exact zeros stay zero
    # between two closed knots (a zero-background fit relies on both).
    assert np.all(got >= 0.0)
    closed = (table.rate_Hz[0, 0, 1:] == 0.0) & (table.rate_Hz[0, 0, :-1] == 0.0)
    assert closed.any()
    assert np.all(got[closed] == 0.0)


def test_spline_reproduces_knots_and_grid_columns_exactly():
    omega = np.linspace(0.3, 0.6, 7)
    m0 = np.linspace(0.0, 0.1, 11)
    table = RateTable.from_model("Cs", omega, m0, ("NH",), ("majorana", "dirac"))
    source = SplineRates(table)
    got = source.rates_Hz("NH", "dirac", m0, omega)
    np.testing.assert_allclose(got, table.rate_Hz[0, 1], rtol=1e-13, atol=0)


def test_linear_interpolation_in_omega_matches_spectrum():
    # Between omega columns 2 meV apart, away from thresholds: linear
    # interpolation error ~ h^2 Gamma'' / 8, about 1e-5 relative here.
    omega_grid = np.arange(0.40, 0.60 + 1e-9, 2e-3)
    m0 = np.linspace(0.0, 0.1, 21)
    source = SplineRates(RateTable.from_model("Cs", omega_grid, m0, ("IH",), ("majorana",)))
    omega = np.array([0.4011, 0.4537, 0.5993])
    exact = renp_scan.spectrum("Cs", omega, 0.05, "IH")
    got = source.rates_Hz("IH", "majorana", [0.05], omega)[0]
    np.testing.assert_allclose(got, exact, rtol=5e-5)


def test_linear_weights_put_grid_points_alone_and_reject_outside():
    grid = np.array([1.0, 2.0, 4.0])
    i0, i1, w = linear_weights(grid, [1.0, 2.0, 3.0, 4.0])
    values = np.array([10.0, 20.0, 40.0])
    np.testing.assert_array_equal((1 - w) * values[i0] + w * values[i1], [10.0, 20.0, 30.0, 40.0])
    np.testing.assert_array_equal(bracketing_columns(grid, [2.0]), [1])
    np.testing.assert_array_equal(bracketing_columns(grid, [2.5, 1.0]), [0, 1, 2])
    with pytest.raises(InputError) as err:
        linear_weights(grid, [4.5])
    assert err.value.field == "frequencies"


def test_model_rates_equal_spectrum_and_check_range():
    source = ModelRates("Cs", (0.0, 0.1), 11, hierarchies=("NH",), natures=("dirac",))
    omega = np.array([0.3, 0.5])
    got = source.rates_Hz("NH", "dirac", [0.02, 0.07], omega)
    for j, m in enumerate((0.02, 0.07)):
        np.testing.assert_array_equal(got[j], renp_scan.spectrum("Cs", omega, m, "NH", "dirac"))
    with pytest.raises(InputError) as err:
        source.rates_Hz("NH", "dirac", [0.2], omega)
    assert err.value.field == "m0_eV"
    with pytest.raises(InputError):
        source.rates_Hz("IH", "dirac", [0.05], omega)


def test_table_from_dataset_selects_channel_phase_and_columns():
    omega = np.linspace(0.3, 0.6, 31)
    m0 = np.linspace(0.0, 0.1, 6)
    table = RateTable.from_model("Cs", omega, m0, ("NH", "IH"), ("majorana",))
    ds = cube_dataset(table)
    core1 = RateTable.from_dataset(ds, channel="core", phase=1)
    np.testing.assert_array_equal(core1.rate_Hz, 6.0 * table.rate_Hz)
    assert core1.target == "Cs" and core1.channel == "core" and core1.phase == 1
    # Only the columns that bracket the plan's frequencies are read.
    wanted = np.array([0.305, 0.5])
    sub = RateTable.from_dataset(ds, channel="nucleus", omega_eV=wanted)
    assert sub.omega_eV.size == 3
    full, part = SplineRates(table), SplineRates(sub)
    np.testing.assert_allclose(part.rates_Hz("IH", "majorana", [0.033], wanted),
                               full.rates_Hz("IH", "majorana", [0.033], wanted), rtol=1e-14)


def test_table_from_dataset_refuses_ambiguous_slices():
    table = RateTable.from_model("Cs", np.linspace(0.3, 0.6, 5), np.linspace(0, 0.1, 4),
                                 ("NH",), ("majorana",))
    ds = cube_dataset(table, extra_dim="isotope")
    with pytest.raises(InputError) as err:
        RateTable.from_dataset(ds)
    assert err.value.field == "isotope"
    other = RateTable.from_dataset(ds, select={"isotope": "other"}, channel="nucleus")
    np.testing.assert_array_equal(other.rate_Hz, 5.0 * table.rate_Hz)
    for kwargs, field in (({"channel": "valence"}, "channel"), ({"phase": 2}, "phase"),
                          ({"coulomb_model": "valence"}, "coulomb_model")):
        with pytest.raises(InputError) as err:
            RateTable.from_dataset(cube_dataset(table), **kwargs)
        assert err.value.field == field


def test_table_from_dataset_selects_coulomb_model():
    table = RateTable.from_model("Cs", np.linspace(0.3, 0.6, 5), np.linspace(0, 0.1, 4),
                                 ("NH",), ("majorana",))
    ds = cube_dataset(table, models=("thomas-fermi", "valence"))
    first = RateTable.from_dataset(ds, channel="nucleus")  # default: the cube's first
    np.testing.assert_array_equal(first.rate_Hz, table.rate_Hz)
    assert first.coulomb_model == "thomas-fermi"
    valence = RateTable.from_dataset(ds, channel="nucleus", coulomb_model="valence")
    np.testing.assert_array_equal(valence.rate_Hz, 7.0 * table.rate_Hz)
    assert valence.coulomb_model == SplineRates(valence).coulomb_model == "valence"
    assert SplineRates(valence).describe()["coulomb_model"] == "valence"
    # A cube whose first (only) model is valence defaults to it.
    only = RateTable.from_dataset(cube_dataset(table, models=("valence",)), channel="nucleus")
    assert only.coulomb_model == "valence"
    with pytest.raises(InputError) as err:
        RateTable.from_dataset(ds, coulomb_model="hartree-fock")
    assert err.value.field == "coulomb_model"


def test_model_sources_use_the_coulomb_model():
    omega = np.array([0.3, 0.5])
    direct = {m: renp_scan.spectrum("Cs", omega, 0.05, "NH", "dirac", coulomb_model=m)
              for m in ("thomas-fermi", "valence")}
    assert not np.array_equal(direct["thomas-fermi"], direct["valence"])
    for model, want in direct.items():
        source = ModelRates("Cs", (0.0, 0.1), 11, hierarchies=("NH",), natures=("dirac",),
                            coulomb_model=model)
        np.testing.assert_array_equal(source.rates_Hz("NH", "dirac", [0.05], omega)[0], want)
        assert source.describe()["coulomb_model"] == model
        table = RateTable.from_model("Cs", omega, [0.0, 0.05], ("NH",), ("dirac",),
                                     coulomb_model=model)
        np.testing.assert_array_equal(table.rate_Hz[0, 0, 1], want)
        assert table.coulomb_model == model


def test_table_from_cube_file_equals_direct_spectrum(tmp_path):
    # End to end through the engine and renp_scan.open_cube.
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.scanfile import parse_scan

    spec = parse_scan("""
[scan]
name = "analysis_test"
targets = ["Cs"]
hierarchies = ["NH", "IH"]
natures = ["majorana"]
channels = ["nucleus"]
[m0]
start_eV = 0.0
stop_eV = 0.1
count = 6
[omega]
start_eV = 0.30
stop_eV = 0.60
count = 16
""")
    out = tmp_path / "cube.h5"
    run_scan(spec, out, workers=1, progress=False)
    table = RateTable.from_cube(out, "Cs")
    assert table.attrs["cube_scan_sha256"] == spec.sha256
    expected = RateTable.from_model("Cs", spec.omega_eV["Cs"], spec.m0_eV, ("NH", "IH"),
                                    ("majorana",))
    np.testing.assert_allclose(table.rate_Hz, expected.rate_Hz, rtol=1e-15, atol=0)
