"""Numerov bound-state kernel (renp_scan.kernels.radial) against exactly solvable potentials.

References are analytic: hydrogen-like energies -Z^2 alpha^2 m / (2 n^2), radial functions
(associated Laguerre polynomials from scipy), <1/r> = Z / (n^2 a_B), off-diagonal <n'l|1/r|nl>
by mpmath quadrature of the exact functions, and the 3-D isotropic oscillator
E = omega (2 n_r + l + 3/2). Constants come from scipy.constants directly.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import constants as sc
from scipy.special import eval_genlaguerre

from renp_scan.kernels import radial

ALPHA = sc.fine_structure
ME = sc.physical_constants["electron mass energy equivalent in MeV"][0] * 1e6  # eV
BOHR = 1.0 / (ALPHA * ME)  # eV^-1
RTOL = 1e-13


def coulomb_grid(Z, h=0.0025, r_max_bohr=400.0):
    x = np.arange(math.log(1e-6 / Z), math.log(r_max_bohr), h)
    return np.exp(x) * BOHR


def solve(r, V, n, ell, max_iter=200):
    P = np.empty_like(r)
    E, it, mismatch, converged = radial.solve_bound_state(
        r, V, ell, ME, n - ell - 1, RTOL, max_iter, P
    )
    return E, P, it, mismatch, converged


def exact_P(Z, n, ell, r):
    """Normalised hydrogen-like r R_nl(r) [eV^1/2], r in eV^-1 (infinite nuclear mass)."""
    a = BOHR / Z
    rho = 2.0 * r / (n * a)
    norm = math.sqrt(
        (2.0 / (n * a)) ** 3 * math.factorial(n - ell - 1) / (2 * n * math.factorial(n + ell))
    )
    return r * norm * np.exp(-rho / 2) * rho**ell * eval_genlaguerre(n - ell - 1, 2 * ell + 1, rho)


def hydrogen_energy(Z, n):
    return -(Z**2) * ALPHA**2 * ME / (2.0 * n**2)


STATES = [(1, 0), (2, 0), (2, 1), (3, 2), (6, 0), (6, 1), (7, 1), (5, 4)]


@pytest.mark.parametrize("Z", [1, 55])
@pytest.mark.parametrize("n,ell", STATES)
def test_hydrogen_like_energy_wavefunction_and_inverse_r(Z, n, ell):
    r = coulomb_grid(Z)
    E, P, _, mismatch, converged = solve(r, -Z * ALPHA / r, n, ell)
    assert converged
    assert mismatch < 1e-10
    # Numerov O(h^4): measured <= 1.4e-10 relative at h = 0.0025 for n <= 7.
    assert abs(E / hydrogen_energy(Z, n) - 1.0) <= 1e-9
    P_ref = exact_P(Z, n, ell, r)
    assert np.max(np.abs(P - P_ref)) <= 1e-8 * np.max(np.abs(P_ref))
    # <1/r> = Z / (n^2 a_B)
    inv_r = radial.radial_integral(r, P, 1.0 / r, P)
    assert abs(inv_r * BOHR / (Z / n**2) - 1.0) <= 1e-9
    assert abs(radial.radial_integral(r, P, np.ones_like(r), P) - 1.0) <= 1e-13
    assert np.count_nonzero(P[1:] * P[:-1] < 0) == n - ell - 1
    # sign convention: positive near the nucleus
    assert P[10] > 0.0


def _mp_laguerre(k, a, x):
    # explicit sum: L_k^a(x) = sum_i (-1)^i C(k + a, k - i) x^i / i!
    return mp.fsum(
        (-1) ** i * mp.binomial(k + a, k - i) * x**i / mp.factorial(i) for i in range(k + 1)
    )


def _mp_hydrogen(n, ell, rr):
    rho = 2 * rr / n
    norm = mp.sqrt(
        (mp.mpf(2) / n) ** 3 * mp.factorial(n - ell - 1) / (2 * n * mp.factorial(n + ell))
    )
    return rr * norm * mp.exp(-rho / 2) * rho**ell * _mp_laguerre(n - ell - 1, 2 * ell + 1, rho)


@pytest.mark.parametrize("n_a,n_b,ell", [(6, 7, 1), (6, 7, 0), (2, 3, 1)])
def test_offdiagonal_inverse_r_against_mpmath(n_a, n_b, ell):
    mp.mp.dps = 20
    ref = mp.quad(
        lambda rr: _mp_hydrogen(n_a, ell, rr) * _mp_hydrogen(n_b, ell, rr) / rr,
        [0, 2, 10, 40, 120, mp.inf],
    )  # atomic units, Z = 1
    r = coulomb_grid(1)
    _, Pa, *_ = solve(r, -ALPHA / r, n_a, ell)
    _, Pb, *_ = solve(r, -ALPHA / r, n_b, ell)
    value = radial.radial_integral(r, Pa, 1.0 / r, Pb) * BOHR
    assert abs(value / float(ref) - 1.0) <= 1e-8
    # same-l states are orthogonal (to the discretisation error)
    assert abs(radial.radial_integral(r, Pa, np.ones_like(r), Pb)) <= 1e-9


def test_energy_error_falls_as_h_to_the_fourth():
    errors = []
    for h in (0.01, 0.005):
        r = coulomb_grid(1, h=h)
        E, *_ = solve(r, -ALPHA / r, 6, 1)
        errors.append(E / hydrogen_energy(1, 6) - 1.0)
    # Numerov is 4th order: halving h divides the error by 16 (measured 16.0).
    assert 14.0 <= errors[0] / errors[1] <= 18.0


@pytest.mark.parametrize("n_r,ell", [(0, 0), (1, 0), (0, 1), (2, 1), (1, 3)])
def test_isotropic_oscillator(n_r, ell):
    # V = m w^2 r^2 / 2 is not Coulomb-like: exercises a start series with zero charge.
    omega = 1.0  # eV
    length = 1.0 / math.sqrt(ME * omega)  # eV^-1
    r = np.exp(np.arange(math.log(1e-6 * length), math.log(12.0 * length), 0.002))
    V = 0.5 * ME * omega**2 * r**2
    E, P, _, _, converged = solve(r, V, n_r + ell + 1, ell)
    assert converged
    assert abs(E / (omega * (2 * n_r + ell + 1.5)) - 1.0) <= 1e-9
    assert np.count_nonzero(P[1:] * P[:-1] < 0) == n_r


@settings(deadline=None, max_examples=25)
@given(Z=st.integers(1, 100), n=st.integers(1, 7), data=st.data())
def test_hydrogen_like_property(Z, n, data):
    ell = data.draw(st.integers(0, n - 1))
    r = coulomb_grid(Z)
    E, P, _, _, converged = solve(r, -Z * ALPHA / r, n, ell)
    assert converged
    assert abs(E / hydrogen_energy(Z, n) - 1.0) <= 1e-9
    assert np.count_nonzero(P[1:] * P[:-1] < 0) == n - ell - 1


def test_state_not_bound_on_the_grid_is_reported():
    # n = 30 hydrogen extends to ~1800 bohr: a 100-bohr grid cannot hold it.
    r = coulomb_grid(1, r_max_bohr=100.0)
    E, P, _, _, converged = solve(r, -ALPHA / r, 30, 0)
    assert not converged
    assert math.isnan(E)
    assert np.all(np.isnan(P))


def test_tail_cut_by_the_grid_is_not_converged():
    # 6s of hydrogen (binding 0.38 eV) on a 120-bohr grid: bound in the box, but its
    # tail has decayed by less than e^-20 at the edge.
    r = coulomb_grid(1, r_max_bohr=120.0)
    E, _, _, _, converged = solve(r, -ALPHA / r, 6, 0)
    assert not converged
    assert math.isfinite(E)


def test_iteration_limit_is_reported():
    r = coulomb_grid(1)
    E, _, iterations, _, converged = solve(r, -ALPHA / r, 3, 0, max_iter=5)
    assert not converged
    assert iterations == 5


def test_numerov_g_scalar_formula():
    r, V, ell, E = 2.0e-4, -30.0, 2, -5.0
    assert radial.numerov_g(r, V, ell, ME, E) == pytest.approx(
        6.25 + 2 * ME * r * r * (V - E), rel=1e-15
    )
