"""Asimov sensitivity, exposure, plan optimisation and result files.

References: Poisson deviances worked out by hand for two-point toys; exact
identities (exposure linearity, the truth as an alternative gives 0, a profile is
a minimum); direct re-evaluation of the quantity a solver claims to have reached.
"""

import math

import numpy as np
import pytest
from cluster_support import local_reference
from conftest import scan_text
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.analysis import (
    Hypothesis,
    ModelRates,
    RateTable,
    ResolvedPlan,
    SplineRates,
    alternatives_for,
    dchi2_profiled,
    dchi2_simple,
    exposure_needed,
    optimize_plan,
    poisson_deviance,
    sensitivity_scan,
    signal_scale_needed,
)
from renp_scan.analysis.plan import parse_plan
from renp_scan.cube.results import SENSITIVITY_FORMAT, read_result, write_result
from renp_scan.errors import InputError
from renp_scan.sweep.scanfile import parse_scan


def two_point_source(nh_rates, ih_rates):
    """Rates constant in m0 at two frequencies: the whole likelihood is by hand."""
    rate = np.empty((2, 1, 2, 2))
    rate[0, 0] = nh_rates
    rate[1, 0] = ih_rates
    table = RateTable("Cs", 1.3859, "nucleus", 0, ("NH", "IH"), ("majorana",),
                      np.array([0.0, 0.1]), np.array([0.3, 0.5]), rate)
    return SplineRates(table)


def test_two_point_toy_by_hand():
    source = two_point_source([10.0, 20.0], [12.0, 15.0])
    plan = ResolvedPlan([0.3, 0.5], [1.0, 1.0], 1.0, 0.0)
    truth, alt = Hypothesis("NH", "majorana", 0.05), Hypothesis("IH", "majorana", 0.05)
    # 2 [(12 - 10) + 10 ln(10/12) + (15 - 20) + 20 ln(20/15)]
    # = 2 [-3 - 1.8232155679395 + 5.7536414490356] = 1.8608517621922
    assert dchi2_simple(source, truth, alt, plan) == pytest.approx(1.8608517621922, rel=1e-12)
    # Constant rates: profiling over the alternative's m0 changes nothing.
    value, best = dchi2_profiled(source, truth, [("IH", "majorana")], plan)
    assert value == pytest.approx(1.8608517621922, rel=1e-12)
    assert best.hierarchy == "IH"


def test_two_point_toy_with_background_and_efficiency_by_hand():
    source = two_point_source([10.0, 20.0], [12.0, 15.0])
    plan = ResolvedPlan([0.3, 0.5], [2.0, 2.0], 0.5, 5.0)
    truth, alt = Hypothesis("NH", "majorana", 0.0), Hypothesis("IH", "majorana", 0.1)
    # mu_true = (0.5*10 + 5, 0.5*20 + 5) * 2 = (20, 30); mu_alt = (22, 25)
    # 2 [(22 - 20) + 20 ln(20/22) + (25 - 30) + 30 ln(30/25)]
    # = 2 [-3 - 1.9062035960865 + 5.4696467038 ] = 1.1268862155
    expected = 2 * (-3 + 20 * math.log(20 / 22) + 30 * math.log(30 / 25))
    assert expected == pytest.approx(1.1268862155, rel=1e-9)
    assert dchi2_simple(source, truth, alt, plan) == pytest.approx(expected, rel=1e-12)


def test_deviance_edge_cases():
    assert poisson_deviance([0.0], [3.0]) == pytest.approx(6.0, rel=1e-15)
    assert poisson_deviance([2.0], [0.0]) == math.inf
    assert poisson_deviance([0.0], [0.0]) == 0.0


@pytest.fixture(scope="module")
def cs_model():
    return ModelRates("Cs", (0.0, 0.2), 101)


@pytest.fixture(scope="module")
def cs_plan():
    omega = np.linspace(0.64, 0.6929, 12)
    return ResolvedPlan(omega, np.full(omega.size, 100.0), 0.5, 2.0)


@pytest.mark.parametrize("normalization", ["fixed", "free"])
def test_asimov_dchi2_is_linear_in_exposure_even_with_background(cs_model, cs_plan, normalization):
    truth = Hypothesis("NH", "majorana", 0.05)
    alts = alternatives_for(cs_model, truth, "hierarchy")
    base, _ = dchi2_profiled(cs_model, truth, alts, cs_plan, normalization)
    scaled, _ = dchi2_profiled(cs_model, truth, alts, cs_plan.scaled(37.0), normalization)
    assert base > 0
    assert scaled == pytest.approx(37.0 * base, rel=1e-7)
    needed = exposure_needed(base, cs_plan, 25.0)
    # Re-evaluate at the exposure claimed: it must give the target.
    check, _ = dchi2_profiled(cs_model, truth, alts, cs_plan.scaled(needed / cs_plan.total_time_s),
                              normalization)
    assert check == pytest.approx(25.0, rel=1e-7)


def test_signal_scale_is_linear_only_without_background(cs_model, cs_plan):
    truth = Hypothesis("NH", "majorana", 0.05)
    alts = alternatives_for(cs_model, truth, "nature")
    quiet = ResolvedPlan(cs_plan.omega_eV, cs_plan.time_s, 0.5, 0.0)
    base = dchi2_profiled(cs_model, truth, alts, quiet)[0]
    scale, _, converged = signal_scale_needed(cs_model, truth, alts, quiet, 3 * base)
    assert converged and scale == pytest.approx(3.0, rel=1e-6)
    # With background the signal strength enters non-linearly: solve, then verify.
    noisy = ResolvedPlan(cs_plan.omega_eV, cs_plan.time_s, 0.5, 50.0)
    base = dchi2_profiled(cs_model, truth, alts, noisy)[0]
    scale, _, converged = signal_scale_needed(cs_model, truth, alts, noisy, 3 * base)
    stronger = ResolvedPlan(noisy.omega_eV, noisy.time_s, 0.5 * scale, 50.0)
    assert converged and dchi2_profiled(cs_model, truth, alts, stronger)[0] == pytest.approx(
        3 * base, rel=1e-6)
    # S/B grows with the signal, so less than the linear factor 3 is needed.
    assert 1.0 < scale < 3.0


def test_profile_is_a_minimum_and_zero_for_the_truth(cs_model, cs_plan):
    truth = Hypothesis("IH", "dirac", 0.08)
    value, best = dchi2_profiled(cs_model, truth, [("NH", "dirac")], cs_plan)
    for m in np.linspace(0.0, 0.2, 41):
        point = dchi2_simple(cs_model, truth, Hypothesis("NH", "dirac", float(m)), cs_plan)
        assert value <= point * (1 + 1e-9)
    assert dchi2_simple(cs_model, truth, Hypothesis("NH", "dirac", best.m0_eV), cs_plan) == \
        pytest.approx(value, rel=1e-12)
    self_value, self_best = dchi2_profiled(cs_model, truth, [("IH", "dirac")], cs_plan)
    assert abs(self_value) < 1e-8 and self_best.m0_eV == pytest.approx(0.08, abs=1e-6)
    with pytest.raises(InputError) as err:
        alternatives_for(cs_model, truth, "colour")
    assert err.value.field == "test"


def test_sensitivity_scan_dataset(cs_plan, tmp_path):
    omega_grid = np.linspace(0.64, 0.6929, 12)
    table = RateTable.from_model("Cs", omega_grid, np.linspace(0.0, 0.2, 41))
    source = SplineRates(table)
    m0_true = [0.0, 0.05, 0.1]
    ds = sensitivity_scan(source, cs_plan, m0_true, dchi2_target=9.0)
    assert set(ds["dchi2_hierarchy"].dims) == {"truth_hierarchy", "truth_nature", "m0_true"}
    for name, var in ds.variables.items():
        assert "units" in var.attrs and "long_name" in var.attrs, name
    # Each entry is the profiled value and T * 9 / dchi2.
    value, best = dchi2_profiled(source, Hypothesis("IH", "dirac", 0.05),
                                 [("NH", "majorana"), ("NH", "dirac")], cs_plan)
    got = ds["dchi2_hierarchy"].sel(truth_hierarchy="IH", truth_nature="dirac", m0_true=0.05)
    assert float(got) == pytest.approx(value, rel=1e-12)
    assert float(ds["exposure_hierarchy"].sel(truth_hierarchy="IH", truth_nature="dirac",
                                              m0_true=0.05)) == pytest.approx(
        cs_plan.total_time_s * 9.0 / value, rel=1e-12)
    m0_map = ds["dchi2_m0"].values
    assert np.all(np.diagonal(m0_map, axis1=2, axis2=3) == 0.0)
    off = ~np.eye(3, dtype=bool)
    assert np.all(m0_map[..., off] > 0)
    # Asimov m0 uncertainty shrinks as 1/sqrt(T) where the likelihood is parabolic
    # (frequencies below every threshold, many counts).
    smooth_omega = np.linspace(0.40, 0.62, 6)
    smooth = SplineRates(RateTable.from_model("Cs", smooth_omega, np.linspace(0.0, 0.2, 41)))
    smooth_plan = ResolvedPlan(smooth_omega, np.full(6, 1e4), 0.5, 2.0)
    short = sensitivity_scan(smooth, smooth_plan, [0.1], tests=(), m0_map=False)
    long_run = sensitivity_scan(smooth, smooth_plan.scaled(100.0), [0.1], tests=(), m0_map=False)
    ratio = short["sigma_m0"] / long_run["sigma_m0"]
    np.testing.assert_allclose(ratio.values, 10.0, rtol=0.01)

    plan = parse_plan('[plan]\nname = "p"\n[frequencies]\nvalues_eV = [0.65]\n'
                      '[exposure]\ntime_per_point_s = 1.0\n')
    path = write_result(tmp_path / "sens.h5", ds, SENSITIVITY_FORMAT, plan=plan)
    back = read_result(path, SENSITIVITY_FORMAT)
    np.testing.assert_array_equal(back["dchi2_nature"].values, ds["dchi2_nature"].values)
    assert back["exposure_nature"].attrs["units"] == "s"
    assert back.attrs["plan_sha256"] == plan.sha256
    assert back.attrs["format"] == SENSITIVITY_FORMAT
    assert list(back["truth_hierarchy"].values) == ["NH", "IH"]
    with pytest.raises(InputError) as err:
        read_result(path, "renp_scan.fit")
    assert err.value.field == "result"


def test_optimum_of_a_linear_problem_is_the_best_single_point():
    # Rates constant in m0: Delta chi^2 = sum t_k d_k is linear, so all time goes
    # to the point with the largest per-second deviance d_k.
    source = two_point_source([10.0, 20.0], [12.0, 15.0])
    reference = ResolvedPlan([0.3, 0.5], [50.0, 50.0], 1.0, 0.0)
    truth = Hypothesis("NH", "majorana", 0.05)
    result = optimize_plan(source, truth, [("IH", "majorana")], reference)
    d1 = 2 * (12 - 10 + 10 * math.log(10 / 12))  # 0.35356886
    d2 = 2 * (15 - 20 + 20 * math.log(20 / 15))  # 1.50728290
    np.testing.assert_array_equal(result.plan.omega_eV, [0.5])
    assert result.plan.total_time_s == pytest.approx(100.0, rel=1e-12)
    assert result.dchi2 == pytest.approx(100.0 * d2, rel=1e-9)
    assert result.reference_dchi2 == pytest.approx(50.0 * (d1 + d2), rel=1e-9)
    assert result.gain == pytest.approx(2 * d2 / (d1 + d2), rel=1e-9)


@pytest.fixture(scope="module")
def cs_spline():
    omega = np.linspace(0.62, 0.6929, 40)
    return SplineRates(RateTable.from_model("Cs", omega, np.linspace(0.0, 0.2, 41)))


@settings(deadline=None, max_examples=8)
@given(st.floats(0.0, 0.2), st.sampled_from(["hierarchy", "nature"]),
       st.sampled_from(["fixed", "free"]), st.floats(0.0, 20.0))
def test_optimised_plan_never_worse_than_uniform(cs_spline, m0, test, normalization, background):
    omega = cs_spline.table.omega_eV
    reference = ResolvedPlan(omega[::4], np.full(10, 360.0), 0.8, background)
    truth = Hypothesis("NH", "dirac", m0)
    alts = alternatives_for(cs_spline, truth, test)
    result = optimize_plan(cs_spline, truth, alts, reference, candidates_eV=omega,
                           normalization=normalization)
    # Re-evaluate the returned plan independently of the optimiser's bookkeeping.
    exact = dchi2_profiled(cs_spline, truth, alts, result.plan, normalization)[0]
    assert exact == pytest.approx(result.dchi2, rel=1e-9)
    assert exact >= result.reference_dchi2 * (1 - 1e-9)
    assert result.plan.total_time_s == pytest.approx(reference.total_time_s, rel=1e-9)


# ---------------------------------------------------------------- command line

CLI_SCAN = scan_text("cli_sens", hierarchies=("NH", "IH"), natures=("majorana", "dirac"),
                     m0={"start_eV": 0.0, "stop_eV": 0.1, "count": 21},
                     omega={"start_eV": 0.640, "stop_eV": 0.6929, "count": 30})

CLI_PLAN = """
[plan]
name = "cli"
target = "Cs"
[frequencies]
[[frequencies.uniform]]
start_eV = 0.640
stop_eV = 0.6929
count = 30
[exposure]
total_time_s = 600.0
background_Hz = 0.5
efficiency = 0.5
"""


@pytest.fixture(scope="module")
def cli_cube(tmp_path_factory):
    return local_reference(tmp_path_factory.mktemp("cube"), CLI_SCAN, "cs.toml", "cs.h5")[1]


def run_cli(*args, cwd):
    import shutil
    import subprocess

    exe = shutil.which("renp-scan")
    if exe is None:
        pytest.skip("renp-scan entry point not installed")
    return subprocess.run([exe, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_sensitivity_writes_result_and_figure(cli_cube, tmp_path):
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(CLI_PLAN)
    proc = run_cli("sensitivity", cli_cube, "--plan", plan_file, "-o", "s.h5", "--plot", "s.png",
                   "--m0", "0.02", "0.05", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "NH vs IH" in proc.stdout
    back = read_result(tmp_path / "s.h5", SENSITIVITY_FORMAT)
    plan = parse_plan(CLI_PLAN).resolve()
    source = SplineRates(RateTable.from_cube(cli_cube, "Cs"))
    value, _ = dchi2_profiled(source, Hypothesis("IH", "majorana", 0.05),
                              [("NH", "majorana"), ("NH", "dirac")], plan)
    got = back["dchi2_hierarchy"].sel(truth_hierarchy="IH", truth_nature="majorana", m0_true=0.05)
    assert float(got) == pytest.approx(value, rel=1e-9)
    assert back.attrs["table_cube_scan_sha256"] == parse_scan(CLI_SCAN).sha256
    assert back.attrs["plan_sha256"] == parse_plan(CLI_PLAN).sha256
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Direct model evaluation must reproduce the cube, and then gives similar numbers.
    proc = run_cli("sensitivity", cli_cube, "--plan", plan_file, "-o", "m.h5", "--rates", "model",
                   "--m0", "0.05", "--no-map", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    exact = read_result(tmp_path / "m.h5")["dchi2_nature"].values
    approx = back["dchi2_nature"].sel(m0_true=[0.05]).values
    # Interpolation on 5 meV knots in the threshold window: measured 0.8-1.6 % apart.
    np.testing.assert_allclose(approx, exact, rtol=0.05)


def test_cli_sensitivity_selects_the_coulomb_model(tmp_path):
    scan = CLI_SCAN.replace('channels = ["nucleus"]', 'channels = ["nucleus"]\n'
                            'coulomb_models = ["thomas-fermi", "valence"]')
    _, cube = local_reference(tmp_path, scan, "models.toml", "models.h5")
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(CLI_PLAN)
    plan = parse_plan(CLI_PLAN).resolve()
    truth, alternatives = Hypothesis("IH", "majorana", 0.05), [("NH", "majorana")]
    values = {}
    for model in ("thomas-fermi", "valence"):
        proc = run_cli("sensitivity", cube, "--plan", plan_file, "-o", f"{model}.h5",
                       "--coulomb-model", model, "--m0", "0.05", "--no-map", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        back = read_result(tmp_path / f"{model}.h5", SENSITIVITY_FORMAT)
        assert back.attrs["coulomb_model"] == model
        source = SplineRates(RateTable.from_cube(cube, "Cs", coulomb_model=model))
        values[model], _ = dchi2_profiled(source, truth, alternatives, plan)
        got = back["dchi2_hierarchy"].sel(truth_hierarchy="IH", truth_nature="majorana",
                                          m0_true=0.05)
        assert float(got) == pytest.approx(values[model], rel=1e-9)
        # --rates model must reproduce the cube slice of the chosen model.
        proc = run_cli("sensitivity", cube, "--plan", plan_file, "-o", f"m-{model}.h5",
                       "--rates", "model", "--coulomb-model", model, "--m0", "0.05",
                       "--no-map", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert read_result(tmp_path / f"m-{model}.h5").attrs["coulomb_model"] == model
    # The valence integrals are far smaller (docs/valence_coulomb.md): less signal.
    assert values["valence"] < values["thomas-fermi"]
    # Default: the cube's first model, thomas-fermi.
    proc = run_cli("sensitivity", cube, "--plan", plan_file, "-o", "d.h5", "--m0", "0.05",
                   "--no-map", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read_result(tmp_path / "d.h5").attrs["coulomb_model"] == "thomas-fermi"
    proc = run_cli("sensitivity", cube, "--plan", plan_file, "-o", "x.h5",
                   "--coulomb-model", "hartree", cwd=tmp_path)
    assert proc.returncode == 2 and "error: coulomb_model: " in proc.stderr


def test_cli_sensitivity_bad_plan_is_one_error_line(cli_cube, tmp_path):
    plan_file = tmp_path / "bad.toml"
    plan_file.write_text(CLI_PLAN.replace("efficiency = 0.5", "efficiency = 2.0"))
    proc = run_cli("sensitivity", cli_cube, "--plan", plan_file, "-o", "s.h5", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("renp-scan: error: exposure.efficiency: ")
    assert not (tmp_path / "s.h5").exists()
    wrong_target = CLI_PLAN.replace('target = "Cs"', 'target = "Xe"')
    plan_file.write_text(wrong_target)
    proc = run_cli("sensitivity", cli_cube, "--plan", plan_file, "-o", "s.h5", cwd=tmp_path)
    assert proc.returncode == 2 and "error: target: " in proc.stderr
    plan_file.write_text(CLI_PLAN)
    many = [f"{m:.6f}" for m in np.linspace(0.0, 0.1, 1001)]
    proc = run_cli("sensitivity", cli_cube, "--plan", plan_file, "-o", "s.h5", "--m0", *many,
                   cwd=tmp_path)
    assert proc.returncode == 2 and "error: no-map: " in proc.stderr
