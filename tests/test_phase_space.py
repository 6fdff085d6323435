"""I_ij(omega) and Delta_ij(omega) against direct quadrature of their definition (eq. 39).

The reference never uses eqs. 40–42: the E1 integration limits are found by root-finding
|cos theta(E1)| = 1 from momentum conservation, and the integrand of eq. 39 is integrated
with scipy's adaptive quadrature.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.optimize import brentq

from renp_scan.errors import InputError
from renp_scan.kernels.phase_space import (
    all_pairs_grid,
    empty_pairs,
    pair_delta,
    pair_phase_space,
    pair_threshold,
)
from renp_scan.model.phase_space import phase_space

EPS_CS = 1.3859  # Cs 6P1/2 - 6S1/2 [eV], paper Sec. III
EPS_XE = 8.437  # Xe 6s 3P1 [eV], paper Sec. III


def cos_theta(E1, omega, eps, m_i, m_j):
    """Angle between p1 and k fixed by energy-momentum conservation (eq. 38)."""
    E2 = eps - omega - E1
    p1 = math.sqrt(max(E1 * E1 - m_i * m_i, 0.0))
    return (E2 * E2 - m_j * m_j - p1 * p1 - omega * omega) / (2.0 * p1 * omega)


def reference(omega, eps, m_i, m_j, delta_m):
    """(I_ij, Delta_ij) by quadrature of eq. 39 with numerically found limits."""
    lo, hi = m_i, eps - omega - m_j
    grid = np.linspace(lo, hi, 20001)[1:-1]
    c = np.array([cos_theta(x, omega, eps, m_i, m_j) for x in grid])
    inside = np.nonzero(np.abs(c) <= 1.0)[0]
    assert inside.size > 2, "reference grid too coarse for this point"

    def edge(x):
        return abs(cos_theta(x, omega, eps, m_i, m_j)) - 1.0

    a_lo = grid[inside[0] - 1] if inside[0] > 0 else lo * (1 + 1e-15) + 1e-300
    b_hi = grid[inside[-1] + 1] if inside[-1] + 1 < grid.size else hi
    e_minus = brentq(edge, a_lo, grid[inside[0]], xtol=1e-16, rtol=1e-15)
    e_plus = brentq(edge, grid[inside[-1]], b_hi, xtol=1e-16, rtol=1e-15)

    def integrand(E1):
        E2 = eps - omega - E1
        p1p2 = 0.5 * (omega**2 + m_i**2 + m_j**2 - E1**2 - E2**2)
        return 0.5 * (E1 * E2 + p1p2 + delta_m * m_i * m_j)

    val = quad(integrand, e_minus, e_plus, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    delta = (e_plus - e_minus) / omega
    # eq. 39: I Delta / (2 pi) = (1/(2 pi omega)) * integral; x2 for eq. 42's normalisation
    return 2.0 * val / (omega * delta), delta


CASES = [
    # (omega, eps, m_i, m_j, delta_M)
    (0.50, EPS_CS, 0.10, 0.10, 1.0),  # equal masses, Majorana (Fig. 4 region)
    (0.50, EPS_CS, 0.10, 0.10, 0.0),  # equal masses, Dirac
    (0.60, EPS_CS, 0.10, 0.1004, 1.0),  # nearly degenerate (NH m0 = 0.1: m1, m2)
    (0.60, EPS_CS, 0.10, 0.1119, 0.0),  # (m1, m3)-like pair
    (0.30, EPS_CS, 0.05, 0.30, 0.0),  # strongly unequal
    (0.68, EPS_CS, 0.01, 0.05, 1.0),  # near the threshold
    (0.05, EPS_CS, 0.02, 0.06, 1.0),  # small omega
    (4.00, EPS_XE, 0.05, 0.0709, 1.0),  # Xe
    (2.00, EPS_XE, 0.0, 0.05, 0.0),  # one massless neutrino
]


@pytest.mark.parametrize("omega, eps, m_i, m_j, dm", CASES)
def test_phase_space_matches_quadrature(omega, eps, m_i, m_j, dm):
    ref_I, ref_delta = reference(omega, eps, m_i, m_j, dm)
    assert pair_phase_space(omega, eps, m_i, m_j, dm) == pytest.approx(ref_I, rel=1e-9, abs=0)
    assert pair_delta(omega, eps, m_i, m_j) == pytest.approx(ref_delta, rel=1e-9, abs=0)


@pytest.mark.parametrize("omega, eps, m_i, m_j, dm", CASES)
def test_symmetric_in_pair(omega, eps, m_i, m_j, dm):
    assert pair_phase_space(omega, eps, m_i, m_j, dm) == pytest.approx(
        pair_phase_space(omega, eps, m_j, m_i, dm), rel=1e-14
    )


@pytest.mark.parametrize("omega", [0.01, 0.2, 0.5, 0.65])
@pytest.mark.parametrize("dm", [0.0, 1.0])
def test_equal_masses_reduce_to_eq21(omega, dm):
    m, eps = 0.1, EPS_CS
    eq21 = omega**2 / 3 + 2 * m**2 * omega**2 / (3 * eps * (eps - 2 * omega)) + m**2 * (1 + dm)
    delta21 = math.sqrt(1 - 4 * m**2 / (eps * (eps - 2 * omega)))
    assert pair_phase_space(omega, eps, m, m, dm) == pytest.approx(eq21, rel=1e-14)
    assert pair_delta(omega, eps, m, m) == pytest.approx(delta21, rel=1e-14)


def test_printed_eq42_differs_for_unequal_masses():
    """Eq. 42's last term disagrees with eq. 39 unless m_i = m_j (documented in paper_check)."""
    omega, eps, m_i, m_j = 0.30, EPS_CS, 0.05, 0.30
    d = eps * (eps - 2 * omega)
    eq42 = (
        omega**2 / 3 + (m_i**2 + m_j**2) / 2 + omega**2 * (m_i**2 + m_j**2) / (3 * d)
        - 0.75 * (eps - omega) ** 2 * (m_i**2 - m_j**2) ** 2 / d**2
    )
    ref_I, _ = reference(omega, eps, m_i, m_j, 0.0)
    assert abs(eq42 / ref_I - 1) > 1e-2
    assert pair_phase_space(omega, eps, m_i, m_j, 0.0) == pytest.approx(ref_I, rel=1e-9)


def test_threshold_formula_and_zero_above():
    eps, m_i, m_j = EPS_CS, 0.1, 0.13
    w_th = pair_threshold(eps, m_i, m_j)
    assert w_th == pytest.approx(eps / 2 - (m_i + m_j) ** 2 / (2 * eps), rel=1e-15)
    # Delta vanishes at the threshold: eps (eps - 2 w) = (m_i + m_j)^2
    assert eps * (eps - 2 * w_th) == pytest.approx((m_i + m_j) ** 2, rel=1e-12)
    for w in (w_th, w_th * (1 + 1e-12), 0.5 * eps, 0.9 * eps, 1.5 * eps):
        assert pair_phase_space(w, eps, m_i, m_j, 1.0) == 0.0
        assert pair_delta(w, eps, m_i, m_j) == 0.0
    assert pair_phase_space(w_th * (1 - 1e-9), eps, m_i, m_j, 1.0) > 0.0


@settings(deadline=None, max_examples=300)
@given(
    frac=st.floats(min_value=1e-9, max_value=2.0),
    m_i=st.floats(min_value=0.0, max_value=1.0),
    m_j=st.floats(min_value=0.0, max_value=1.0),
    dm=st.sampled_from([0.0, 1.0]),
)
def test_never_nan_and_nonnegative(frac, m_i, m_j, dm):
    omega = frac * EPS_CS
    val = pair_phase_space(omega, EPS_CS, m_i, m_j, dm)
    delta = pair_delta(omega, EPS_CS, m_i, m_j)
    assert math.isfinite(val) and math.isfinite(delta)
    assert 0.0 <= delta <= 1.0
    # Delta * I is the physical weight: a rate density, never negative
    assert delta * val >= -1e-15 * (omega**2 + m_i**2 + m_j**2)
    if omega >= pair_threshold(EPS_CS, m_i, m_j):
        assert val == 0.0 and delta == 0.0


def test_all_pairs_grid_matches_scalar():
    omega = np.linspace(0.01, 0.69, 101)
    masses = np.array([0.1, 0.1004, 0.1119])
    out_i, out_d = empty_pairs(omega.size)
    all_pairs_grid(omega, EPS_CS, masses, 1.0, out_i, out_d)
    for i in range(3):
        for j in range(3):
            for k in (0, 50, 100):
                # contraction (FMA) may differ by an ulp between inlined and standalone code
                assert out_i[i, j, k] == pytest.approx(
                    pair_phase_space(omega[k], EPS_CS, masses[i], masses[j], 1.0), rel=1e-14
                )
                assert out_d[i, j, k] == pytest.approx(
                    pair_delta(omega[k], EPS_CS, masses[i], masses[j]), rel=1e-14)


def test_public_wrapper_shape_and_errors():
    omega = np.array([[0.1, 0.2], [0.3, 0.8]])
    out = phase_space(omega, EPS_CS, 0.1, 0.12, majorana=False)
    assert out.shape == omega.shape
    assert out[1, 1] == 0.0  # above eps/2: closed
    assert out[0, 0] == pytest.approx(pair_phase_space(0.1, EPS_CS, 0.1, 0.12, 0.0), rel=1e-14)
    majorana_minus_dirac = (phase_space(0.3, EPS_CS, 0.1, 0.12, True)
                            - phase_space(0.3, EPS_CS, 0.1, 0.12, False))
    assert majorana_minus_dirac == pytest.approx(0.1 * 0.12, rel=1e-12)
    for kwargs, field in [
        (dict(omega_eV=-0.1), "omega_eV"),
        (dict(omega_eV=float("nan")), "omega_eV"),
        (dict(m_i_eV=-0.1), "m_i_eV"),
        (dict(m_j_eV=float("inf")), "m_j_eV"),
        (dict(eps_eg_eV=0.0), "eps_eg_eV"),
        (dict(majorana="maybe"), "majorana"),
    ]:
        args = dict(omega_eV=0.3, eps_eg_eV=EPS_CS, m_i_eV=0.1, m_j_eV=0.1, majorana=True)
        args.update(kwargs)
        with pytest.raises(InputError) as exc:
            phase_space(**args)
        assert exc.value.field == field
