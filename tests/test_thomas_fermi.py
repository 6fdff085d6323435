"""Thomas-Fermi function chi(x) (paper eqs. 26-28): solver, grid evaluation, wrapper."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.errors import InputError
from renp_scan.kernels import thomas_fermi as tfk
from renp_scan.model import coulomb as tfm
from renp_scan.model.constants import ALPHA, BOHR_RADIUS_CM, HBAR_C_EV_CM, M_E_EV

# Kobayashi, J. Phys. Soc. Jpn. 10, 759 (1955); Amore, Boyd & Fernandez, arXiv:1205.1704.
SLOPE_LITERATURE = -1.588071022611375312718684508
REFERENCE_CSV = Path(__file__).parent / "reference" / "tf_reference.csv"


@pytest.fixture(scope="module")
def solution():
    return tfm.tf_solution()


@pytest.fixture(scope="module")
def reference():
    # mpmath.odefun at 40 digits from the literature slope (tests/reference/make_tf_reference.py).
    table = np.loadtxt(REFERENCE_CSV, delimiter=",", comments="#", skiprows=5)
    return table[:, 0], table[:, 1], table[:, 2]


def _grid(x, sol):
    x = np.ascontiguousarray(x, dtype=float)
    chi = np.empty_like(x)
    dchi = np.empty_like(x)
    assert tfk.tf_chi_grid(x, sol.slope, sol.F, chi, dchi)
    return chi, dchi


def test_slope_matches_literature(solution):
    assert abs(solution.slope / SLOPE_LITERATURE - 1.0) <= 1e-10
    assert tfm.tf_slope() == solution.slope


def test_solver_reports_convergence(solution):
    assert solution.converged is True
    assert 2 <= solution.iterations <= 10
    assert 0.0 <= solution.residual <= 1e-12


def test_asymptotic_amplitude_matches_literature(solution):
    # chi ~ 144/x^3 (1 - C x^-0.772 + ...), C = 13.27 (Coulson & March, Proc. Phys. Soc.
    # A 63, 367 (1950); Kobayashi 1955 quotes 13.270974).
    assert abs(solution.F + 13.270974) <= 1e-6


def test_newton_converges_from_other_starting_tolerances():
    # A looser Taylor tolerance must still land on the same slope (the error is
    # controlled, not an accident of one rtol).
    for rtol in (1e-12, 1e-14):
        slope, _, _, _, converged = tfk.solve_tf(rtol)
        assert converged
        assert abs(slope / SLOPE_LITERATURE - 1.0) <= 1e-11


def test_solver_reports_failure_honestly():
    # rtol = 0 allows no step: the solver must say it did not converge, not invent a slope.
    _, _, iterations, _, converged = tfk.solve_tf(0.0)
    assert converged is False
    assert iterations == tfk.MAX_NEWTON


def test_chi_matches_mpmath_reference(reference, solution):
    x, chi_ref, dchi_ref = reference
    # Shuffled: the kernel must handle any order.
    perm = np.random.default_rng(1).permutation(x.size)
    chi, dchi = tfm.tf_chi(x[perm])
    # Requirement 1e-8; measured ~1e-14.
    assert np.max(np.abs(chi / chi_ref[perm] - 1.0)) <= 1e-12
    assert np.max(np.abs(dchi / dchi_ref[perm] - 1.0)) <= 1e-12
    assert x.max() == 100.0


def test_chi_continuous_at_matching_point_and_series_start(solution):
    for x0 in (tfk.X_MATCH, tfk.X_RIGHT):
        x = np.array([x0 * (1.0 - 1e-13), x0, x0 * (1.0 + 1e-13)])
        chi, dchi = _grid(x, solution)
        # The three points straddle a change of branch (outward/inward, ODE/series).
        assert np.max(np.abs(chi / chi[1] - 1.0)) <= 1e-10
        assert np.max(np.abs(dchi / dchi[1] - 1.0)) <= 1e-10


def test_series_agrees_with_ode_where_both_hold(solution):
    # The series (x > X_RIGHT branch) converges for x >~ 6; on [30, X_RIGHT] the chi
    # returned comes from the inward ODE integration, so agreement tests both.
    a = np.empty(tfk.N_SERIES)
    tfk.asymptotic_coefficients(a)
    x = np.geomspace(30.0, 0.99 * tfk.X_RIGHT, 25)
    chi, dchi = _grid(x, solution)
    for xi, c, d in zip(x, chi, dchi, strict=True):
        c_series, d_series, _, _ = tfk.tf_asymptotic(xi, solution.F, a)
        assert abs(c / c_series - 1.0) <= 1e-12
        assert abs(d / d_series - 1.0) <= 1e-12


def test_large_x_limit_is_144_over_x_cubed():
    x = np.array([1e6, 1e9, 1e12, 1e15])
    chi, dchi = tfm.tf_chi(x)
    # Leading correction is F x^-gamma (relative), gamma = 0.772: < 1e-10 at 1e15.
    rel = np.abs(chi * x**3 / 144.0 - 1.0)
    assert np.all(rel <= 14.0 * x**-0.772)
    assert rel[-1] <= 5e-11
    assert abs(dchi[-1] * x[-1] ** 4 / -432.0 - 1.0) <= 1e-10


def test_gamma_solves_indicial_equation():
    # chi = 144 x^-3 (1 + F x^-gamma): linearising eq. 28 gives (3 + g)(4 + g) = 18.
    g = tfk.GAMMA
    assert abs((3.0 + g) * (4.0 + g) - 18.0) <= 1e-13
    assert abs(g - 0.772) <= 5e-4


def test_series_coefficients_match_literature():
    a = np.empty(tfk.N_SERIES)
    tfk.asymptotic_coefficients(a)
    # Coulson & March (1950): chi = 144 x^-3 [1 - C y + 0.6257 C^2 y^2 - 0.3134 C^3 y^3 ...].
    assert a[0] == 1.0 and a[1] == 1.0
    assert abs(a[2] - 0.6257) <= 1e-4
    assert abs(a[3] - 0.3134) <= 1e-4


def test_truncated_series_solves_the_ode_in_mpmath():
    # Plug the truncated series into x^{1/2} chi'' = chi^{3/2} with mpmath numerical
    # differentiation: the residual must fall like s^K with the truncation order K.
    a = np.empty(tfk.N_SERIES)
    tfk.asymptotic_coefficients(a)
    F = -13.27

    def residual(x, n_terms):
        with mp.workdps(40):
            coeffs = [mp.mpf(float(c)) for c in a[:n_terms]]
            gam = mp.mpf(float(tfk.GAMMA))

            def chi(xx):
                s = F * xx ** (-gam)
                return 144 * xx**-3 * mp.fsum(c * s**k for k, c in enumerate(coeffs))

            x = mp.mpf(x)
            lhs = mp.sqrt(x) * mp.diff(chi, x, 2)
            return float(abs(lhs / chi(x) ** 1.5 - 1))

    # Full series: residual at float64 rounding of the coefficients.
    assert residual(200.0, tfk.N_SERIES) <= 1e-14
    # Truncated at K = 4 terms: halving s multiplies the residual by ~2^-4.
    x1 = 1e4
    x2 = x1 * 2.0 ** (1.0 / tfk.GAMMA)
    ratio = residual(x2, 4) / residual(x1, 4)
    assert abs(ratio / 2.0**-4 - 1.0) <= 0.05


def test_chi_solves_ode_by_finite_differences(solution):
    # chi'' from central differences of chi' vs chi^{3/2} x^{-1/2} (eq. 28).
    x = np.array([0.01, 0.3, 1.0, 2.9, 3.1, 7.0, 40.0, 300.0])
    h = 1e-4 * x
    _, d_plus = _grid(x + h, solution)
    _, d_minus = _grid(x - h, solution)
    chi, _ = _grid(x, solution)
    chi2_fd = (d_plus - d_minus) / (2.0 * h)
    rhs = chi**1.5 / np.sqrt(x)
    assert np.max(np.abs(chi2_fd / rhs - 1.0)) <= 1e-7


def test_small_x_expansion():
    # chi = 1 + B x + (4/3) x^{3/2} + (2/5) B x^{5/2} + (1/3) x^3 + O(x^{7/2}) (Baker 1930).
    x = np.array([1e-6, 1e-4])
    chi, dchi = tfm.tf_chi(x)
    B = SLOPE_LITERATURE
    series = 1.0 + B * x + (4.0 / 3.0) * x**1.5 + 0.4 * B * x**2.5 + x**3 / 3.0
    assert np.max(np.abs(chi - series)) <= 1e-13
    dseries = B + 2.0 * np.sqrt(x) + B * x**1.5 + x**2
    # Next term of chi' is O(x^{5/2}) = 1e-10 at x = 1e-4.
    assert np.max(np.abs(dchi - dseries)) <= 1e-10


@settings(deadline=None, max_examples=40)
@given(st.lists(st.floats(min_value=0.0, max_value=5e3, allow_nan=False), min_size=1, max_size=30))
def test_grid_independence_and_monotonicity(xs):
    # A point's value must not depend on which other points share the grid.
    sol = tfm.tf_solution()
    x = np.array(xs)
    chi, dchi = _grid(x, sol)
    for i in range(0, x.size, 7):
        c1, d1 = _grid(x[i : i + 1], sol)
        assert abs(c1[0] - chi[i]) <= 1e-14 * abs(chi[i])
        assert abs(d1[0] - dchi[i]) <= 1e-14 * abs(dchi[i])
    assert np.all((chi > 0.0) & (chi <= 1.0))
    assert np.all(dchi < 0.0)
    order = np.argsort(x)
    # Non-increasing up to rounding of nearly equal abscissae.
    assert np.all(np.diff(chi[order]) <= 1e-15 * chi[order][:-1])


def test_tf_chi_keeps_shape_and_handles_repeats():
    x = np.array([[3.0, 0.0], [3.0, 1500.0]])
    chi, dchi = tfm.tf_chi(x)
    assert chi.shape == (2, 2) and dchi.shape == (2, 2)
    assert chi[0, 0] == chi[1, 0]
    assert chi[0, 1] == 1.0
    assert abs(dchi[0, 1] / SLOPE_LITERATURE - 1.0) <= 1e-12


@pytest.mark.parametrize("bad", [-1e-3, np.nan, np.inf, [0.5, -2.0]])
def test_tf_chi_rejects_bad_x(bad):
    with pytest.raises(InputError) as err:
        tfm.tf_chi(bad)
    assert err.value.field == "x"


def test_length_scale_eq27():
    a_b = HBAR_C_EV_CM / (ALPHA * M_E_EV)
    # CODATA consistency of the constants used.
    assert abs(a_b / BOHR_RADIUS_CM - 1.0) <= 1e-9
    for Z in (1.0, 55.0, 92.0):
        b = tfm.tf_length_scale_cm(Z)
        # Eq. 27: b ~ 0.8853 Z^{-1/3} a_B.
        assert abs(b / (Z ** (-1.0 / 3.0) * BOHR_RADIUS_CM) / 0.8853 - 1.0) <= 5e-5
    b_arr = tfm.tf_length_scale_cm([1.0, 8.0])
    assert abs(b_arr[0] / b_arr[1] - 2.0) <= 1e-14
    with pytest.raises(InputError) as err:
        tfm.tf_length_scale_cm(0.0)
    assert err.value.field == "Z"


def test_first_call_is_fast():
    # Fresh interpreter, on-disk Numba cache: import + solve + integrals + one grid.
    code = (
        "import time; t = time.perf_counter();"
        "from renp_scan.model import coulomb as c;"
        "c.tf_solution(); c.coulomb_integrals(); c.tf_chi([1.0, 10.0]);"
        "print(time.perf_counter() - t)"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    elapsed = float(out.stdout.strip())
    # ~0.5 s with a warm cache; a cold cache compiles in ~5 s.
    assert elapsed <= 15.0, elapsed
    assert time.perf_counter() - t0 <= 20.0
    assert math.isfinite(elapsed)
