r"""RENP spectral rate on an omega grid (paper eqs. 18–23), unit-free.

The model layer reduces every channel and target scheme to

.. math::

    \Gamma(\omega) = \frac{A}{[(a + \omega)(\epsilon_{eg} - \omega)]^2}
        \sum_{i,j} \Delta_{ij}(\omega)\left[W_{ij}\, I^{D}_{ij}(\omega)
        + V_{ij}\, m_i m_j\right]\theta(\omega_{ij} - \omega),

where :math:`I^D_{ij}` is the Dirac part of I_ij (eq. 39 with delta_M = 0), the
amplitude A [rate x eV^2] collects Gamma_0 eta and the omega-independent part of F^2
(eqs. 18, 19, 23), a = eps_u - eps_e [eV] is the energy denominator of the
intermediate level, and the couplings are

* nucleus channel (eq. 20): W = 1, V = delta_M on the diagonal, 0 elsewhere;
* core-electron channel: W_ij = |b_ij|^2, V_ij = delta_M Re(b_ij^2) (eq. 6; ref. [14]).

W and V must be symmetric (|b_ij| = |b_ji|, Re b_ij^2 = Re b_ji^2 since b is
Hermitian); the kernel sums i <= j and doubles the off-diagonal terms.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import NO_REASSOC, jit
from .phase_space import pair_delta, pair_phase_space


@jit
def coupled_phase_space(omega, eps_eg, masses, w_kin, w_maj):
    """Sum_ij Delta_ij [W_ij I^D_ij + V_ij m_i m_j] at one omega [eV^2]; 0 where all closed.

    Parameters
    ----------
    omega, eps_eg : float
        Photon energy and level spacing [eV].
    masses : ndarray, shape (3,)
        Neutrino masses [eV].
    w_kin, w_maj : ndarray, shape (3, 3)
        Symmetric couplings W_ij (multiplying I^D_ij) and V_ij (multiplying m_i m_j).
    """
    total = 0.0
    for i in range(3):
        for j in range(i, 3):
            wk = w_kin[i, j]
            wm = w_maj[i, j]
            if wk == 0.0 and wm == 0.0:
                continue
            delta = pair_delta(omega, eps_eg, masses[i], masses[j])
            if delta == 0.0:
                continue
            mult = 1.0 if i == j else 2.0
            kin = pair_phase_space(omega, eps_eg, masses[i], masses[j], 0.0)
            total += mult * delta * (wk * kin + wm * masses[i] * masses[j])
    return total


@jit
def rate_point(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj):
    """Gamma(omega) at one photon energy, in the units of ``amplitude`` / eV^2.

    Parameters
    ----------
    omega, eps_eg : float
        Photon energy and level spacing [eV]; requires 0 < omega < eps_eg.
    a_eV : float
        eps_u - eps_e [eV] (first factor of the energy denominator of eqs. 19, 23).
    amplitude : float
        Gamma_0 eta x (omega-independent part of F^2), in rate units x eV^2.
    masses, w_kin, w_maj
        See :func:`coupled_phase_space`.
    """
    s = coupled_phase_space(omega, eps_eg, masses, w_kin, w_maj)
    if s == 0.0:
        return 0.0
    den = (a_eV + omega) * (eps_eg - omega)
    return amplitude * s / (den * den)


#: Points per tile of :func:`rate_grid`: its five scratch rows (5 x 16 kB) stay in L2.
#: Measured on a 2-core Xeon (Ice Lake class): 2048 beats 512 by ~15% in cache and ~20%
#: on grids larger than the caches (longer sequential streams for the prefetchers);
#: 8192 is no better (interleaved timings against a memory pass, 1e5 and 1e7 points).
TILE = 2048
#: Columns of the per-pair constants built by :func:`active_pairs`.
_N_COEF = 6


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def active_pairs(masses, w_kin, w_maj, out_coef):
    """Constants of the pairs i <= j with a nonzero weight, for :func:`rate_grid`.

    Row p of ``out_coef`` holds, with mult = 1 (i = j) or 2 (i < j), s2 = m_i^2 + m_j^2
    and dm2 = m_i^2 - m_j^2:
    ``[(m_i+m_j)^2, (m_i-m_j)^2, mult W, mult (W s2/2 + V m_i m_j), mult W s2, mult W dm2^2]``,
    so that ``mult (W I^D_ij + V m_i m_j) = c2 w^2/3 + c3 + c4 w^2/(3D) - c5 q / (2 D^2)``
    with D = eps (eps - 2 w), q = (eps - w)^2 + w^2/3 (eq. 39 in the closed form of
    :mod:`renp_scan.kernels.phase_space`).

    Parameters
    ----------
    masses : ndarray, shape (3,)
        Neutrino masses [eV].
    w_kin, w_maj : ndarray, shape (3, 3)
        Symmetric couplings W_ij and V_ij (see :func:`coupled_phase_space`).
    out_coef : ndarray, shape (6, 6)
        Receives the constants [eV^2, eV^2, 1, eV^2, eV^2, eV^4] of the active pairs.

    Returns
    -------
    int
        Number of active pairs (rows filled).
    """
    n = 0
    for i in range(3):
        for j in range(i, 3):
            wk = w_kin[i, j]
            wm = w_maj[i, j]
            if wk == 0.0 and wm == 0.0:
                continue
            mult = 1.0 if i == j else 2.0
            m_i = masses[i]
            m_j = masses[j]
            s2 = m_i * m_i + m_j * m_j
            dm2 = m_i * m_i - m_j * m_j
            out_coef[n, 0] = (m_i + m_j) * (m_i + m_j)
            out_coef[n, 1] = (m_i - m_j) * (m_i - m_j)
            out_coef[n, 2] = mult * wk
            out_coef[n, 3] = mult * (0.5 * wk * s2 + wm * m_i * m_j)
            out_coef[n, 4] = mult * wk * s2
            out_coef[n, 5] = mult * wk * dm2 * dm2
            n += 1
    return n


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _open_end(d_open, lo, hi, msum2):
    """First index k in [lo, hi) with d_open[k] <= msum2 (hi if none); d_open non-increasing."""
    while lo < hi:
        mid = (lo + hi) // 2
        if d_open[mid] > msum2:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _pair_term(inv_d, w2_3, q_2d2, c):
    """One pair's Delta_ij mult (W I^D_ij + V m_i m_j) at one point, from tile factors.

    ``c`` is a row of :func:`active_pairs`; ``inv_d`` = 1/D, ``w2_3`` = omega^2/3 and
    ``q_2d2`` = ((eps - omega)^2 + omega^2/3) / (2 D^2). Delta keeps the form
    sqrt((1 - (m_i+m_j)^2/D)(1 - (m_i-m_j)^2/D)) of :func:`pair_delta`, so values agree
    with it near the threshold too.
    """
    delta = math.sqrt((1.0 - c[0] * inv_d) * (1.0 - c[1] * inv_d))
    return delta * (c[2] * w2_3 + c[3] + c[4] * w2_3 * inv_d - c[5] * q_2d2)


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _add_pair(inv_d, w2_3, q_2d2, acc, c):
    """Acc += pair term on points where the pair is open (all of them)."""
    for k in range(acc.shape[0]):
        acc[k] += _pair_term(inv_d[k], w2_3[k], q_2d2[k], c)


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _add_pair_masked(d_open, inv_d, w2_3, q_2d2, acc, c):
    """Acc += pair term where D > (m_i + m_j)^2 (the test of :func:`pair_delta`), else 0."""
    for k in range(acc.shape[0]):
        term = _pair_term(inv_d[k], w2_3[k], q_2d2[k], c)
        acc[k] += term if d_open[k] > c[0] else 0.0


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _closing_d(omega, eps_eg, d_open):
    """d_open[k] = D = eps (eps - 2 omega[k]) where omega[k] > 0, else -inf [eV^2].

    ``D > (m_i + m_j)^2`` on d_open is then exactly the open test of :func:`pair_delta`
    (omega <= 0 or NaN closes every pair). Returns whether ``omega`` is ascending.
    """
    for k in range(omega.shape[0]):
        w = omega[k]
        d_open[k] = eps_eg * (eps_eg - 2.0 * w) if w > 0.0 else -math.inf
    ascending = True
    for k in range(omega.shape[0] - 1):
        ascending &= omega[k] <= omega[k + 1]
    return ascending


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _point_factors(omega, eps_eg, inv_d, w2_3, q_2d2, acc):
    """Per-point factors shared by all pairs: 1/D, omega^2/3, ((eps-omega)^2 + omega^2/3)/(2D^2)."""
    for k in range(omega.shape[0]):
        w = omega[k]
        r = 1.0 / (eps_eg * (eps_eg - 2.0 * w))
        inv_d[k] = r
        w2_3[k] = w * w / 3.0
        e_w = eps_eg - w
        q_2d2[k] = 0.5 * (e_w * e_w + w * w / 3.0) * r * r
        acc[k] = 0.0


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _finish(omega, eps_eg, a_eV, amplitude, acc, out):
    """Out = A acc / [(a + omega)(eps - omega)]^2, exactly 0 where acc is 0 (all pairs closed)."""
    for k in range(omega.shape[0]):
        w = omega[k]
        den = (a_eV + w) * (eps_eg - w)
        s = acc[k]
        # den is 0 at omega = eps, where every pair is closed: it never divides there
        out[k] = amplitude * s / (den * den) if s != 0.0 else 0.0


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def _tile(omega, eps_eg, a_eV, amplitude, coef, n_pairs, widest_msum2,
          d_open, inv_d, w2_3, q_2d2, acc, out):
    """Rate on one tile ``omega`` (<= :data:`TILE` points) into ``out``; see :func:`rate_grid`."""
    m = omega.shape[0]
    ascending = _closing_d(omega, eps_eg, d_open[:m])
    if ascending:
        # Sorted tile: each pair is open on one index range [lo, hi_p) with hi_p found by
        # bisection; nothing is computed where every pair is closed. Slices make the
        # indices provably >= 0, so the loops vectorise.
        lo = 0
        while lo < m and d_open[lo] == -math.inf:
            lo += 1
        hi = _open_end(d_open, lo, m, widest_msum2) if n_pairs > 0 else lo
        _point_factors(omega[lo:hi], eps_eg, inv_d[lo:hi], w2_3[lo:hi], q_2d2[lo:hi], acc[lo:hi])
        for p in range(n_pairs):
            hi_p = _open_end(d_open, lo, hi, coef[p, 0])
            _add_pair(inv_d[lo:hi_p], w2_3[lo:hi_p], q_2d2[lo:hi_p], acc[lo:hi_p], coef[p])
    else:
        lo, hi = 0, m
        _point_factors(omega, eps_eg, inv_d[:m], w2_3[:m], q_2d2[:m], acc[:m])
        for p in range(n_pairs):
            _add_pair_masked(d_open[:m], inv_d[:m], w2_3[:m], q_2d2[:m], acc[:m], coef[p])
    out[:lo] = 0.0
    out[hi:] = 0.0
    _finish(omega[lo:hi], eps_eg, a_eV, amplitude, acc[lo:hi], out[lo:hi])


@jit(fastmath=NO_REASSOC)  # bitwise position-invariant: see NO_REASSOC
def rate_grid(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj, out):
    """Fill ``out[k] = Gamma(omega[k])`` (the value of :func:`rate_point`); any grid order.

    The grid is processed in tiles of :data:`TILE` points. Per tile, the per-point
    factors (1/D, omega^2/3, ...) are computed once into scratch rows and each active
    pair (:func:`active_pairs`) adds its term in a branch-free loop. An ascending tile
    (the usual linear or log grid) runs each pair only over its open prefix
    omega < omega_ij, found by bisection on the same test ``D > (m_i + m_j)^2`` that
    :func:`pair_delta` applies; any other tile masks closed pairs point by point.
    Either way the open/closed decision is the scalar kernel's, points where every
    pair is closed get exactly 0, and the values agree with :func:`rate_point` to
    rounding (a few ulp).

    Parameters
    ----------
    omega : ndarray, shape (n,)
        Photon energies [eV], each in (0, eps_eg).
    eps_eg, a_eV, amplitude, masses, w_kin, w_maj
        See :func:`rate_point`.
    out : ndarray, shape (n,)
        Receives the rate (caller allocates; a sweep passes a slice of its block).
    """
    coef = np.empty((_N_COEF, _N_COEF))
    n_pairs = active_pairs(masses, w_kin, w_maj, coef)
    d_open = np.empty(TILE)
    inv_d = np.empty(TILE)
    w2_3 = np.empty(TILE)
    q_2d2 = np.empty(TILE)
    acc = np.empty(TILE)
    # the pair with the smallest (m_i + m_j)^2 stays open longest
    widest_msum2 = math.inf
    for p in range(n_pairs):
        widest_msum2 = min(widest_msum2, coef[p, 0])
    n = omega.shape[0]
    for start in range(0, n, TILE):
        stop = min(start + TILE, n)
        _tile(omega[start:stop], eps_eg, a_eV, amplitude, coef, n_pairs, widest_msum2,
              d_open, inv_d, w2_3, q_2d2, acc, out[start:stop])
