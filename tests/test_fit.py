"""Fits of m0 and the discrete hypotheses; likelihood-ratio intervals and their coverage.

Independent references: the Fisher information sum_k (d mu_k / d m0)^2 / mu_k from
finite differences of direct spectrum evaluations (asymptotic sigma), iminuit's
MINOS (an independent interval finder), and the binomial error of a coverage
fraction.
"""

import numpy as np
import pytest
from scipy.stats import chi2

from renp_scan.analysis import (
    DevianceCurve,
    Hypothesis,
    ModelRates,
    RateTable,
    ResolvedPlan,
    SplineRates,
    dchi2_profiled,
    fit_counts,
    pseudo_counts,
    run_toys,
)
from renp_scan.errors import InputError

OMEGA = np.linspace(0.40, 0.62, 6)  # Cs, below every threshold for m0 <= 0.2 eV


@pytest.fixture(scope="module")
def model():
    return ModelRates("Cs", (0.0, 0.2), 201)


@pytest.fixture(scope="module")
def spline():
    return SplineRates(RateTable.from_model("Cs", OMEGA, np.linspace(0.0, 0.2, 101)))


def plan(time_s=1000.0, efficiency=0.5, background=2.0):
    return ResolvedPlan(OMEGA, np.full(OMEGA.size, time_s), efficiency, background)


@pytest.mark.parametrize("source_name", ["model", "spline"])
@pytest.mark.parametrize("normalization", ["fixed", "free"])
def test_asimov_fit_recovers_the_truth_exactly(request, source_name, normalization):
    source = request.getfixturevalue(source_name)
    p = plan()
    counts = pseudo_counts(source, p, "IH", "majorana", 0.07, asimov=True)
    result = fit_counts(source, p, counts, normalization=normalization)
    assert (result.best.hierarchy, result.best.nature) == ("IH", "majorana")
    assert result.best.m0_eV == pytest.approx(0.07, abs=1e-7)
    assert abs(result.deviance) < 1e-8
    assert result.best.normalization == pytest.approx(1.0, abs=1e-6)
    assert result.interval.contains(0.07)
    assert all(d >= -1e-9 for d in result.dchi2_to_best)


def test_fit_interval_matches_fisher_information_and_minos(model):
    from iminuit import Minuit

    p = plan(time_s=20000.0)
    truth = 0.07
    counts = pseudo_counts(model, p, "NH", "dirac", truth, asimov=True)
    curve = DevianceCurve(model, "NH", "dirac", counts, p)
    best = curve.minimize()
    interval = curve.interval(1.0)
    # Asymptotic sigma from the Fisher information, by central differences.
    h = 1e-5
    mu_plus = p.expected_counts(model.rates_Hz("NH", "dirac", [truth + h], OMEGA)[0])
    mu_minus = p.expected_counts(model.rates_Hz("NH", "dirac", [truth - h], OMEGA)[0])
    fisher = np.sum(((mu_plus - mu_minus) / (2 * h)) ** 2 / counts)
    assert interval.half_width_eV == pytest.approx(fisher**-0.5, rel=0.02)
    # MINOS on the same deviance: an independent crossing search.
    m = Minuit(lambda m0: float(curve(np.array([m0]))[0]), m0=best.m0_eV)
    m.errordef = Minuit.LEAST_SQUARES
    m.limits = [(0.0, 0.2)]
    m.migrad()
    m.minos()
    lower, upper = m.merrors["m0"].lower, m.merrors["m0"].upper
    assert m.values["m0"] + lower == pytest.approx(interval.low_eV, abs=2e-6)
    assert m.values["m0"] + upper == pytest.approx(interval.high_eV, abs=2e-6)


def test_pseudo_data_fit_within_errors(model):
    p = plan(time_s=3000.0)
    rng = np.random.default_rng(20240611)
    pulls = []
    for _ in range(5):
        counts = pseudo_counts(model, p, "NH", "majorana", 0.1, rng)
        result = fit_counts(model, p, counts, hypotheses=[("NH", "majorana")])
        iv = result.interval
        sigma = iv.half_width_eV
        pulls.append((result.best.m0_eV - 0.1) / sigma)
        assert iv.low_eV < result.best.m0_eV < iv.high_eV
        # Goodness of fit: the deviance is chi^2 with K - 1 dof; p > 1e-4 always here.
        assert result.p_value > 1e-4
    # Five pulls of unit width: |pull| < 4 each (probability of failure ~3e-4).
    assert np.all(np.abs(pulls) < 4.0)


def test_discrete_hypotheses_ranked_like_the_sensitivity(model):
    p = plan(time_s=5000.0)
    counts = pseudo_counts(model, p, "NH", "majorana", 0.05, asimov=True)
    result = fit_counts(model, p, counts)
    by_label = {(r.hierarchy, r.nature): d
                for r, d in zip(result.profiles, result.dchi2_to_best, strict=True)}
    expected, _ = dchi2_profiled(model, Hypothesis("NH", "majorana", 0.05), [("NH", "dirac")], p)
    assert by_label[("NH", "dirac")] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert "NH/majorana" in result.summary()


def test_fit_rejects_bad_counts(model):
    p = plan()
    with pytest.raises(InputError) as err:
        fit_counts(model, p, [1.0, 2.0])
    assert err.value.field == "counts"
    with pytest.raises(InputError) as err:
        fit_counts(model, p, [-1.0] * OMEGA.size)
    assert err.value.field == "counts"


def test_toy_coverage_within_binomial_error(spline):
    truth = Hypothesis("NH", "majorana", 0.05)
    study = run_toys(spline, plan(time_s=3000.0), truth, n_toys=400, seed=7, chunk_size=50,
                     workers=2)
    assert study.n_toys == 400 and study.converged.all()
    # Wilks: P(chi^2_1 <= 1) = 0.6827. Allow 3 binomial standard errors (0.070).
    assert study.nominal_coverage == pytest.approx(chi2.cdf(1.0, 1), rel=1e-12)
    assert abs(study.coverage - study.nominal_coverage) < 3 * study.coverage_error
    # The interval covers exactly when the likelihood ratio at the truth is <= 1.
    np.testing.assert_array_equal(study.covered, study.lr_at_truth <= 1.0 + 1e-9)
    # ...and the best fits scatter around the truth (mean within 4 standard errors).
    spread = study.m0_hat_eV.std() / np.sqrt(study.n_toys)
    assert abs(study.m0_hat_eV.mean() - 0.05) < 4 * spread


def test_toys_depend_on_the_seed_only(spline):
    truth = Hypothesis("IH", "dirac", 0.08)
    p = plan(time_s=500.0)
    threads = run_toys(spline, p, truth, n_toys=30, seed=3, chunk_size=7, workers=2)
    serial = run_toys(spline, p, truth, n_toys=30, seed=3, chunk_size=7, scheduler="sync")
    np.testing.assert_array_equal(threads.m0_hat_eV, serial.m0_hat_eV)
    other = run_toys(spline, p, truth, n_toys=30, seed=4, chunk_size=7, scheduler="sync")
    assert not np.array_equal(other.m0_hat_eV, serial.m0_hat_eV)
    with pytest.raises(InputError) as err:
        run_toys(spline, p, truth, n_toys=0)
    assert err.value.field == "n_toys"


def test_cli_fit_counts_file_and_pseudo_data(tmp_path):
    import shutil
    import subprocess

    from renp_scan.analysis.plan import parse_plan
    from renp_scan.cube.results import FIT_FORMAT, read_result
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.scanfile import parse_scan

    exe = shutil.which("renp-scan")
    if exe is None:
        pytest.skip("renp-scan entry point not installed")
    scan = ('[scan]\nname = "cli_fit"\ntargets = ["Cs"]\nhierarchies = ["NH", "IH"]\n'
            'natures = ["majorana"]\nchannels = ["nucleus"]\n[m0]\nstart_eV = 0.0\n'
            "stop_eV = 0.2\ncount = 41\n[omega]\nstart_eV = 0.40\nstop_eV = 0.62\ncount = 6\n")
    run_scan(parse_scan(scan), tmp_path / "cube.h5", workers=1, progress=False)
    plan_text = ('[plan]\nname = "fit"\ntarget = "Cs"\n[frequencies]\n[[frequencies.uniform]]\n'
                 "start_eV = 0.40\nstop_eV = 0.62\ncount = 6\n[exposure]\n"
                 "time_per_point_s = 1000.0\nbackground_Hz = 2.0\nefficiency = 0.5\n")
    (tmp_path / "plan.toml").write_text(plan_text)
    plan = parse_plan(plan_text).resolve()
    source = SplineRates(RateTable.from_cube(tmp_path / "cube.h5", "Cs"))
    counts = pseudo_counts(source, plan, "IH", "majorana", 0.06, np.random.default_rng(5))
    rows = "\n".join(f"{float(w)!r},{int(c)}" for w, c in zip(plan.omega_eV, counts, strict=True))
    (tmp_path / "counts.csv").write_text("omega_eV,counts\n" + rows + "\n")

    def run(*args):
        return subprocess.run([exe, "fit", "cube.h5", "--plan", "plan.toml", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    proc = run("--counts", "counts.csv", "-o", "fit.h5")
    assert proc.returncode == 0, proc.stderr
    assert "best: " in proc.stdout
    back = read_result(tmp_path / "fit.h5", FIT_FORMAT)
    direct = fit_counts(source, plan, counts)
    assert back.attrs["best_hypothesis"] == f"{direct.best.hierarchy}/{direct.best.nature}"
    assert back.attrs["best_m0_eV"] == pytest.approx(direct.best.m0_eV, abs=1e-9)
    np.testing.assert_array_equal(back["counts"].values, counts)
    assert back["interval_low"].attrs["units"] == "eV"

    proc = run("--asimov", "NH", "majorana", "0.1")
    assert proc.returncode == 0, proc.stderr
    import re

    found = re.search(r"best: (\w+)/(\w+), m0 = ([0-9.e+-]+) eV", proc.stdout)
    assert found and found.group(1, 2) == ("NH", "majorana")
    assert float(found.group(3)) == pytest.approx(0.1, abs=1e-6)
    proc = run("--asimov", "NH", "majorana", "0.1", "--seed", "1")
    assert proc.returncode == 0 and "pseudo-data (seed 1)" in proc.stdout
    proc = run("--asimov", "NH", "dirac", "0.1")
    assert proc.returncode == 2 and proc.stderr.startswith("renp-scan: error: asimov: ")
    (tmp_path / "short.csv").write_text("omega_eV,counts\n0.4,3\n")
    proc = run("--counts", "short.csv")
    assert proc.returncode == 2 and "error: counts.omega_eV: " in proc.stderr
