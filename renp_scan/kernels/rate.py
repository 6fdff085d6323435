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
from numba import types
from numba.extending import overload

from ._fma import fma
from ._jit import jit, jit_position_invariant
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


#: Most pairs i <= j of three neutrino mass states (rows of :func:`active_pairs`).
N_PAIRS_MAX = 6
#: Constants per pair (columns of :func:`active_pairs`).
N_PAIR_CONSTS = 6
#: Points per tile of :func:`rate_grid`: the extent of one bisection for the run
#: boundaries and of one fallback to the masked loop when a tile is not in order.
TILE = 8192
#: Evenly spaced points of a tile that must be in ascending order before the tile is split
#: into runs (a shuffled tile fails this almost surely and goes straight to the masked loop).
ORDER_SAMPLES = 9

_THIRD = 1.0 / 3.0


@jit_position_invariant
def active_pairs(masses, w_kin, w_maj, out_coef):
    """Constants of the pairs i <= j with a nonzero weight, sorted by threshold.

    Row p of ``out_coef`` holds, with mult = 1 (i = j) or 2 (i < j), s2 = m_i^2 + m_j^2
    and dm2 = m_i^2 - m_j^2:
    ``[(m_i+m_j)^2, (m_i-m_j)^2, mult W, mult (W s2/2 + V m_i m_j), mult W s2, mult W dm2^2]``,
    so that ``mult (W I^D_ij + V m_i m_j) = c2 w^2/3 + c3 + c4 w^2/(3D) - c5 q / (2 D^2)``
    with D = eps (eps - 2 w), q = (eps - w)^2 + w^2/3.

    This restates I_ij of :func:`renp_scan.kernels.phase_space.pair_phase_space` (eq. 39 in
    its closed form) as per-pair constants so that the grid loop does no per-pair division;
    the two must change together (tests/test_rate_grid.py checks that they agree).

    Rows are sorted by (m_i + m_j)^2, ascending (ties keep the i <= j order): pair p is open
    where D > (m_i + m_j)^2, so at any omega the open pairs are the first rows, and on an
    ascending grid the number of open pairs only falls.

    Parameters
    ----------
    masses : ndarray, shape (3,)
        Neutrino masses [eV].
    w_kin, w_maj : ndarray, shape (3, 3)
        Symmetric couplings W_ij and V_ij (see :func:`coupled_phase_space`).
    out_coef : ndarray, shape (N_PAIRS_MAX, N_PAIR_CONSTS)
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
            row = (
                (m_i + m_j) * (m_i + m_j),
                (m_i - m_j) * (m_i - m_j),
                mult * wk,
                mult * (0.5 * wk * s2 + wm * m_i * m_j),
                mult * wk * s2,
                mult * wk * dm2 * dm2,
            )
            # insertion by threshold: rows with a larger (m_i + m_j)^2 move down
            p = n
            while p > 0 and out_coef[p - 1, 0] > row[0]:
                out_coef[p, :] = out_coef[p - 1, :]
                p -= 1
            for c in range(N_PAIR_CONSTS):
                out_coef[p, c] = row[c]
            n += 1
    return n


@jit_position_invariant
def _d_eV2(omega, eps_eg):
    """D = eps (eps - 2 omega) [eV^2], computed the same way wherever it is needed."""
    return eps_eg * (eps_eg - 2.0 * omega)


def _root(x, out):
    """Return sqrt(x) at the precision of the output ``out`` (see :func:`rate_grid`)."""
    return math.sqrt(x)


@overload(_root, jit_options=dict(fastmath=False))
def _root_for_output(x, out):
    if isinstance(out, types.Array) and out.dtype == types.float32:
        # argument formed in double, rounded once to float32, single-precision root
        return lambda x, out: np.float64(math.sqrt(np.float32(x)))
    return lambda x, out: math.sqrt(x)


def _rate_value(amplitude, acc, den, out):
    """Return amplitude acc / den^2 at the precision of the output ``out``."""
    return amplitude * acc / (den * den)


@overload(_rate_value, jit_options=dict(fastmath=False))
def _rate_value_for_output(amplitude, acc, den, out):
    if isinstance(out, types.Array) and out.dtype == types.float32:
        return lambda amplitude, acc, den, out: np.float32(amplitude * acc) / np.float32(den * den)
    return lambda amplitude, acc, den, out: amplitude * acc / (den * den)


@jit_position_invariant
def _pair_delta(r, coef, p, out):
    """Delta_ij of pair p at 1/D = ``r``, in the form of :func:`pair_delta`.

    sqrt((1 - (m_i+m_j)^2/D)(1 - (m_i-m_j)^2/D)), so values agree with the scalar
    kernel near the threshold too. The root is taken at ``out``'s precision.
    """
    return _root(fma(-coef[p, 0], r, 1.0) * fma(-coef[p, 1], r, 1.0), out)


@jit_position_invariant
def _diagonal_pair_delta(r, coef, p, out):
    """:func:`_pair_delta` of a pair with (m_i - m_j)^2 = 0: the same bits, one factor fewer.

    The second factor, fma(-0, r, 1), is exactly 1, and a product by 1 is exact.
    """
    return _root(fma(-coef[p, 0], r, 1.0), out)


@jit_position_invariant
def _diagonal_pair_weight(w2_3, w2_3r, coef, p):
    """:func:`_pair_weight` of a pair with c5 = mult W (m_i^2 - m_j^2)^2 = 0: the same bits.

    The c5 term, fma(-0, q, y), adds an exact zero.
    """
    return fma(coef[p, 4], w2_3r, fma(coef[p, 2], w2_3, coef[p, 3]))


@jit_position_invariant
def _pair_weight(w2_3, w2_3r, q_2d2, coef, p):
    """Return mult (W I^D_ij + V m_i m_j) of pair p (:func:`active_pairs`) at one point.

    ``w2_3`` = omega^2/3, ``w2_3r`` = omega^2/(3D), ``q_2d2`` =
    ((eps - omega)^2 + omega^2/3) / (2 D^2).
    """
    return fma(-coef[p, 5], q_2d2, fma(coef[p, 4], w2_3r, fma(coef[p, 2], w2_3, coef[p, 3])))


@jit_position_invariant
def _point_factors(w, eps_eg, d):
    """(1/D, omega^2/3, omega^2/(3D), ((eps-omega)^2 + omega^2/3)/(2 D^2), eps - omega)."""
    r = 1.0 / d
    w2_3 = w * w * _THIRD
    e_w = eps_eg - w
    return r, w2_3, w2_3 * r, 0.5 * (e_w * e_w + w2_3) * r * r, e_w


def _fused_loops(n_pairs, diagonal=False):
    """Build the two point loops of :func:`rate_grid` for ``n_pairs`` pairs (one compile each).

    ``n_pairs`` is a compile-time constant of each loop, so the loop over pairs is unrolled
    into one straight-line body per omega point: one 1/D, one square root per pair, one
    energy denominator, one store, no scratch arrays. That body vectorises over points.
    With ``diagonal`` (every pair has (m_i - m_j)^2 = 0 and c5 = 0, as the diagonal pairs
    of the nucleus channel do) the run loop leaves out the factor and the term that are
    exactly 1 and 0 there (:func:`_diagonal_pair_delta`, :func:`_diagonal_pair_weight`):
    the same bits with a third fewer operations per pair.
    """

    @jit_position_invariant
    def open_loop(omega, eps_eg, a_eV, amplitude, coef, c_closed, out):
        """Out = Gamma(omega) with the first ``n_pairs`` rows of ``coef`` open at every point.

        ``c_closed`` is the threshold (m_i + m_j)^2 of the next row, +inf if there is none.
        Returns whether that assumption held at every point, by the test of
        :func:`pair_delta` (omega > 0 and D > (m_i + m_j)^2); where it returns False the
        values are not Gamma and the caller recomputes them.
        """
        c_open = coef[n_pairs - 1, 0]
        fits = True
        for k in range(omega.shape[0]):
            w = omega[k]
            d = _d_eV2(w, eps_eg)
            # rows are sorted by threshold: rows < n_pairs open and row n_pairs closed
            fits &= (w > 0.0) & (d > c_open) & (not d > c_closed)
            r, w2_3, w2_3r, q_2d2, e_w = _point_factors(w, eps_eg, d)
            acc = 0.0
            for p in range(n_pairs):
                if diagonal:
                    delta = _diagonal_pair_delta(r, coef, p, out)
                    weight = _diagonal_pair_weight(w2_3, w2_3r, coef, p)
                else:
                    delta = _pair_delta(r, coef, p, out)
                    weight = _pair_weight(w2_3, w2_3r, q_2d2, coef, p)
                acc = fma(delta, weight, acc)
            out[k] = _rate_value(amplitude, acc, (a_eV + w) * e_w, out)
        return fits

    @jit_position_invariant
    def masked_loop(omega, eps_eg, a_eV, amplitude, coef, out):
        """Out = Gamma(omega) for any order: each of the ``n_pairs`` rows tested per point."""
        for k in range(omega.shape[0]):
            w = omega[k]
            d = _d_eV2(w, eps_eg)
            # omega <= 0 or NaN closes every pair, as in pair_delta
            d_open = d if w > 0.0 else -math.inf
            r, w2_3, w2_3r, q_2d2, e_w = _point_factors(w, eps_eg, d)
            acc = 0.0
            for p in range(n_pairs):
                is_open = d_open > coef[p, 0]
                # a closed pair adds an exact 0 * 0: the same bits as open_loop's sum
                delta = _pair_delta(r, coef, p, out) if is_open else 0.0
                weight = _pair_weight(w2_3, w2_3r, q_2d2, coef, p) if is_open else 0.0
                acc = fma(delta, weight, acc)
            # the denominator is 0 at omega = eps, where every pair is closed: unused there
            out[k] = _rate_value(amplitude, acc, (a_eV + w) * e_w, out) if acc != 0.0 else 0.0

    return open_loop, masked_loop


_OPEN_LOOPS, _MASKED_LOOPS = zip(*(_fused_loops(n) for n in range(1, N_PAIRS_MAX + 1)), strict=True)
_OPEN_1, _OPEN_2, _OPEN_3, _OPEN_4, _OPEN_5, _OPEN_6 = _OPEN_LOOPS
#: Run loops for diagonal pairs only (at most 3: i = j); their masked loops are not used.
N_DIAGONAL_MAX = 3
_DIAGONAL_OPEN_LOOPS = tuple(_fused_loops(n, diagonal=True)[0]
                             for n in range(1, N_DIAGONAL_MAX + 1))
_DIAGONAL_1, _DIAGONAL_2, _DIAGONAL_3 = _DIAGONAL_OPEN_LOOPS
_MASKED_1, _MASKED_2, _MASKED_3, _MASKED_4, _MASKED_5, _MASKED_6 = _MASKED_LOOPS


# The two dispatchers below are flat if/elif chains on purpose. Numba links (and
# re-optimises) every loop a function calls into that function's machine code, so each
# extra dispatch level (a chain of small dispatch functions) adds compile time, and
# `literal_unroll` over the tuple of loops types them as first-class function pointers
# (an experimental Numba feature that warns at every compile).
@jit_position_invariant
def _open_run(n_open, diagonal, omega, eps_eg, a_eV, amplitude, coef, c_closed, out):
    """Run loop for ``n_open`` open pairs (1 to :data:`N_PAIRS_MAX`); see ``open_loop``.

    ``diagonal``: every active pair has (m_i - m_j)^2 = 0 and c5 = 0 (at most
    :data:`N_DIAGONAL_MAX` of them, see :func:`_all_diagonal`).
    """
    if diagonal:
        if n_open == 1:
            return _DIAGONAL_1(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
        elif n_open == 2:
            return _DIAGONAL_2(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
        return _DIAGONAL_3(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    if n_open == 1:
        return _OPEN_1(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    elif n_open == 2:
        return _OPEN_2(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    elif n_open == 3:
        return _OPEN_3(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    elif n_open == 4:
        return _OPEN_4(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    elif n_open == 5:
        return _OPEN_5(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)
    return _OPEN_6(omega, eps_eg, a_eV, amplitude, coef, c_closed, out)


@jit_position_invariant
def _masked_run(n_pairs, omega, eps_eg, a_eV, amplitude, coef, out):
    """Masked fused loop over all ``n_pairs`` active pairs, for points in any order."""
    if n_pairs == 0:
        out[:] = 0.0
    elif n_pairs == 1:
        _MASKED_1(omega, eps_eg, a_eV, amplitude, coef, out)
    elif n_pairs == 2:
        _MASKED_2(omega, eps_eg, a_eV, amplitude, coef, out)
    elif n_pairs == 3:
        _MASKED_3(omega, eps_eg, a_eV, amplitude, coef, out)
    elif n_pairs == 4:
        _MASKED_4(omega, eps_eg, a_eV, amplitude, coef, out)
    elif n_pairs == 5:
        _MASKED_5(omega, eps_eg, a_eV, amplitude, coef, out)
    else:
        _MASKED_6(omega, eps_eg, a_eV, amplitude, coef, out)


@jit_position_invariant
def _closed_run(omega, eps_eg, c_open, out):
    """Out = 0; returns whether no point has D > ``c_open`` (the lowest threshold) and omega > 0."""
    fits = True
    for k in range(omega.shape[0]):
        w = omega[k]
        fits &= not ((w > 0.0) & (_d_eV2(w, eps_eg) > c_open))
        out[k] = 0.0
    return fits


@jit_position_invariant
def _closes_at(omega, eps_eg, lo, hi, msum2):
    """First k in [lo, hi) of an ascending ``omega`` with D(omega[k]) <= msum2, else hi.

    On an unsorted ``omega`` some k in [lo, hi] (the caller checks the runs it gives).
    """
    if lo < hi and _d_eV2(omega[hi - 1], eps_eg) > msum2:
        return hi  # open up to the end: the usual tile, no bisection
    while lo < hi:
        mid = (lo + hi) // 2
        if _d_eV2(omega[mid], eps_eg) > msum2:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit_position_invariant
def _samples_ascending(omega):
    """Whether :data:`ORDER_SAMPLES` evenly spaced points of ``omega`` (ends included) ascend."""
    m = omega.shape[0]
    prev = omega[0]
    for s in range(1, ORDER_SAMPLES):
        cur = omega[s * (m - 1) // (ORDER_SAMPLES - 1)]
        if not prev <= cur:
            return False
        prev = cur
    return True


@jit_position_invariant
def _all_diagonal(coef, n_pairs):
    """Whether the ``n_pairs`` active rows all have (m_i - m_j)^2 = 0 and c5 = 0 (<= 3 rows)."""
    if n_pairs > N_DIAGONAL_MAX:
        return False
    for p in range(n_pairs):
        if coef[p, 1] != 0.0 or coef[p, 5] != 0.0:
            return False
    return True


@jit_position_invariant
def _tile(omega, eps_eg, a_eV, amplitude, coef, n_pairs, diagonal, out):
    """Rate on one tile ``omega`` into ``out``; see :func:`rate_grid`."""
    m = omega.shape[0]
    if m == 0:
        return
    if not _samples_ascending(omega):
        _masked_run(n_pairs, omega, eps_eg, a_eV, amplitude, coef, out)
        return
    # Taken as ascending: omega <= 0 closes every pair; beyond that the open pairs are the
    # first rows of coef and their number falls along the tile. Run [stop_p, stop_{p-1})
    # has exactly p pairs open, with stop_p the first point where row p closes. Each run's
    # loop checks that every point has the open pairs it assumes; a run where one does not
    # (the tile was not in order after all) is recomputed by the masked loop.
    lo = 0
    while lo < m and not omega[lo] > 0.0:
        lo += 1
    out[:lo] = 0.0
    start = lo
    for n_open in range(n_pairs, 0, -1):
        c_closed = coef[n_open, 0] if n_open < n_pairs else math.inf
        end = _closes_at(omega, eps_eg, start, m, coef[n_open - 1, 0])
        if end > start:
            o, r = omega[start:end], out[start:end]
            if not _open_run(n_open, diagonal, o, eps_eg, a_eV, amplitude, coef, c_closed, r):
                _masked_run(n_pairs, o, eps_eg, a_eV, amplitude, coef, r)
        start = end
    if start < m:
        c_first = coef[0, 0] if n_pairs > 0 else math.inf
        if not _closed_run(omega[start:], eps_eg, c_first, out[start:]):
            _masked_run(n_pairs, omega[start:], eps_eg, a_eV, amplitude, coef, out[start:])


@jit_position_invariant
def rate_grid(omega, eps_eg, a_eV, amplitude, masses, w_kin, w_maj, out):
    """Fill ``out[k] = Gamma(omega[k])`` (the value of :func:`rate_point`); any grid order.

    One fused loop per omega point does all the arithmetic: 1/D, one square root per
    open pair, the energy denominator and one store (:func:`_fused_loops`). The active
    pairs (:func:`active_pairs`) are sorted by threshold, so on an ascending tile of
    :data:`TILE` points (the usual linear or log grid) the open pairs at each point are
    a prefix of them: the tile splits into runs with a fixed number of open pairs, found
    by bisection on the same test ``D > (m_i + m_j)^2`` that :func:`pair_delta` applies
    (none where the whole tile has every pair open), and nothing is computed where every
    pair is closed. The run loops apply that test to every point as they go and a run
    that fails it is recomputed by the masked loop, which tests every pair at every point;
    tiles whose sampled points are out of order go to the masked loop directly. Either way
    the open/closed decision is the scalar kernel's, points where every pair is closed get
    exactly 0, the values agree with :func:`rate_point` to rounding (a few ulp), and a
    point's bits depend only on its omega, never on its position in the array or on the
    path taken (the masked loop adds exact zeros for closed pairs, in the same order).

    Parameters
    ----------
    omega : ndarray, shape (n,)
        Photon energies [eV], each in (0, eps_eg).
    eps_eg, a_eV, amplitude, masses, w_kin, w_maj
        See :func:`rate_point`.
    out : ndarray of float64 or float32, shape (n,)
        Receives the rate (caller allocates; a sweep passes a slice of its block). For a
        float32 ``out`` the square roots and the final division run in single precision
        on arguments formed in double (1/D, the pair weights and their sum stay double):
        each value is within 5 x 2^-24 (3e-7) of the float64 result relative to the sum
        of the absolute pair terms (the value itself unless the core channel's V_ij < 0
        makes terms cancel): 1.5 x 2^-24 from each root (argument and result rounded),
        3 x 2^-24 from the division (both operands and the quotient rounded), against the
        2^-24 of rounding the float64 result to float32. The zeros, the open/closed
        decision and the position-invariance are those of the float64 path.
    """
    coef = np.empty((N_PAIRS_MAX, N_PAIR_CONSTS))
    n_pairs = active_pairs(masses, w_kin, w_maj, coef)
    diagonal = _all_diagonal(coef, n_pairs)
    n = omega.shape[0]
    for start in range(0, n, TILE):
        stop = min(start + TILE, n)
        _tile(omega[start:stop], eps_eg, a_eV, amplitude, coef, n_pairs, diagonal,
              out[start:stop])
