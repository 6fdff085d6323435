r"""Bound states of the radial Schroedinger equation on a logarithmic grid (Numerov).

For one electron of mass m in a central potential V(r) (natural units, hbar = c = 1:
r in eV^-1, V and E in eV, m in eV), the radial function P(r) = r R(r) obeys

    P'' = [l(l+1)/r^2 + 2m (V(r) - E)] P.

On the uniform grid x = ln r, r_i = exp(x0 + i h), the substitution P = r^{1/2} y removes
the first derivative:

    y'' = g(x) y,   g = (l + 1/2)^2 + 2m r^2 (V - E),

which Numerov's method integrates with local error O(h^6) (global O(h^4)):

    (1 - T_{i+1}) y_{i+1} = 2 (1 + 5 T_i) y_i - (1 - T_{i-1}) y_{i-1},   T = h^2 g / 12.

A logarithmic grid resolves both the nuclear region (r ~ 1/(Z alpha m)) and the valence
tail (r ~ n^2 / (alpha m)) with a few thousand points.

Eigenvalue search (:func:`solve_bound_state`):

1. **Bracket by node counting.** The outward solution up to a point r_inf deep in the
   forbidden region has as many sign changes as there are eigenvalues of the box
   problem (Dirichlet at r_inf) below E (Sturm oscillation theorem). Bisection finds
   E_lo, E_hi with ``n_nodes`` and ``n_nodes + 1`` sign changes: exactly the wanted
   state lies between.
2. **Refine by matching.** Integrate outward to the outermost classical turning point
   and inward from where the WKB decay exp(-int sqrt(g) dx) has reached e^-45; scale
   the inward piece to the outward one at the matching point; the residual D of the
   Numerov recurrence there (a kink in y) gives Cooley's energy correction
   dE = -y_m D / (2 m h^2 sum r_i^2 y_i^2), from the Green identity
   int (y_E* y_E'' - y_E y_E*'') dx = 2m (E* - E) int r^2 y_E y_E* dx. A step that
   leaves the bracket is replaced by a node-count bisection.

The returned P is normalised (int P^2 dr = 1, P in eV^{1/2}) and positive near r = 0.
Integrals over the grid use the trapezoid rule in x, which is spectrally accurate for
integrands that vanish at both ends of the grid.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_reproducible

#: WKB decay exponent int sqrt(g) dx beyond the turning point where the inward
#: integration starts (e^-45 ~ 3e-20 of the amplitude at the turning point).
TAIL_DECAY = 45.0
#: Smallest decay exponent reached at the last grid point for a state to count as
#: bound on the grid (the box boundary then shifts E by ~ e^-(2*20) relative).
MIN_TAIL_DECAY = 20.0
#: A correction below this (relative) that is no smaller than half the previous one
#: is taken as the rounding floor of the matching and ends the iteration.
STALL_RTOL = 1.0e-11
#: Values of |y| above which the node-counting integration rescales its two carried
#: values (the outward solution grows exponentially in the forbidden region).
_RESCALE = 1.0e150


@jit_reproducible
def numerov_g(r, V, ell, mass, energy):
    """Return g = (l + 1/2)^2 + 2 m r^2 (V - E) of the log-grid radial equation y'' = g y.

    Parameters
    ----------
    r : float
        Radius [eV^-1].
    V : float
        Potential energy at r [eV].
    ell : int
        Orbital angular momentum.
    mass : float
        Particle mass [eV].
    energy : float
        Trial energy [eV].

    Returns
    -------
    float
        g, dimensionless.
    """
    return (ell + 0.5) ** 2 + 2.0 * mass * r * r * (V - energy)


@jit_reproducible
def _fill_T(r, V, ell, mass, energy, h, T):
    """T_i = h^2 g_i / 12 on the grid."""
    c = h * h / 12.0
    for i in range(r.size):
        T[i] = c * numerov_g(r[i], V[i], ell, mass, energy)


@jit_reproducible
def _start_values(r, V, ell, mass, h):
    """y_0, y_1 from the series P = r^{l+1} (1 - m c r / (l + 1)), c = -r_0 V(r_0).

    Only the ratio y_1 / y_0 matters (the equation is linear); y_0 = 1.
    """
    charge = -r[0] * V[0]  # the potential is -charge / r near the nucleus
    a1 = -mass * charge / (ell + 1.0)
    y0 = 1.0
    y1 = math.exp((ell + 0.5) * h) * (1.0 + a1 * r[1]) / (1.0 + a1 * r[0])
    return y0, y1


@jit_reproducible
def count_nodes(T, y0, y1, i_stop):
    """Sign changes of the outward Numerov solution on grid points 0 .. i_stop.

    Parameters
    ----------
    T : ndarray of float
        h^2 g / 12 on the grid (see :func:`numerov_g`).
    y0, y1 : float
        Starting values at the first two grid points.
    i_stop : int
        Last grid point of the count (< T.size).

    Returns
    -------
    int
        Number of sign changes of y on points 0 .. i_stop (= number of eigenvalues of
        the problem with y = 0 at point i_stop that lie below the trial energy).
    """
    nodes = 0
    y_prev = y0
    y_cur = y1
    for i in range(1, i_stop):
        y_next = (2.0 * (1.0 + 5.0 * T[i]) * y_cur - (1.0 - T[i - 1]) * y_prev) / (1.0 - T[i + 1])
        if (y_next < 0.0 and y_cur > 0.0) or (y_next > 0.0 and y_cur < 0.0):
            nodes += 1
        elif y_next == 0.0 and y_cur != 0.0:
            nodes += 1
        y_prev = y_cur
        y_cur = y_next
        if abs(y_cur) > _RESCALE:
            y_prev /= _RESCALE
            y_cur /= _RESCALE
    return nodes


@jit_reproducible
def _outward(T, y, i_stop):
    """Fill y[2 .. i_stop] outward from y[0], y[1]."""
    for i in range(1, i_stop):
        y[i + 1] = (2.0 * (1.0 + 5.0 * T[i]) * y[i] - (1.0 - T[i - 1]) * y[i - 1]) / (
            1.0 - T[i + 1]
        )


@jit_reproducible
def _inward(T, y, i_start, i_stop):
    """Fill y[i_stop .. i_start] inward from y[i_start] = 1e-30, y[i_start + 1] = 0."""
    n = T.size
    y_next = 0.0  # y[i + 1] of the recurrence, zero beyond the start
    y[i_start] = 1.0e-30
    for i in range(i_start, i_stop, -1):
        t_next = T[i + 1] if i + 1 < n else 0.0
        y[i - 1] = (2.0 * (1.0 + 5.0 * T[i]) * y[i] - (1.0 - t_next) * y_next) / (1.0 - T[i - 1])
        y_next = y[i]


@jit_reproducible
def _matching_index(T):
    """Outermost classical turning point: last index with g < 0 (-1 if none)."""
    for i in range(T.size - 1, -1, -1):
        if T[i] < 0.0:
            return i
    return -1


@jit_reproducible
def _tail_index(T, h, i_m):
    """First index beyond i_m where the WKB decay int sqrt(g) dx reaches TAIL_DECAY.

    Returns the index and the decay exponent reached there (the last grid index and
    a smaller exponent when the grid ends first).
    """
    n = T.size
    decay = 0.0
    scale = math.sqrt(12.0) / h  # sqrt(g) = sqrt(12 T) / h
    for i in range(i_m + 1, n):
        if T[i] > 0.0:
            decay += scale * math.sqrt(T[i]) * h
        if decay >= TAIL_DECAY:
            return i, decay
    return n - 1, decay


@jit_reproducible
def _match(r, T, h, mass, y, i_m, i_inf):
    """Outward to i_m, inward from i_inf, the inward piece scaled to agree at i_m.

    ``y[0]`` and ``y[1]`` must hold the starting values. Returns Cooley's energy
    correction dE [eV], the relative Numerov residual at the matching point and the
    number of sign changes of the stitched solution.
    """
    _outward(T, y, i_m)
    y_out_m = y[i_m]
    _inward(T, y, i_inf, i_m)
    scale = y_out_m / y[i_m]
    for i in range(i_m, i_inf + 1):
        y[i] *= scale
    for i in range(i_inf + 1, y.size):
        y[i] = 0.0
    # Numerov residual at i_m of the stitched solution: zero for an eigenfunction.
    centre = 2.0 * (1.0 + 5.0 * T[i_m]) * y[i_m]
    d = (1.0 - T[i_m + 1]) * y[i_m + 1] - centre + (1.0 - T[i_m - 1]) * y[i_m - 1]
    norm = 0.0
    for i in range(y.size):
        norm += r[i] * r[i] * y[i] * y[i]
    norm *= h
    d_energy = -y[i_m] * d / (2.0 * mass * h * norm)
    mismatch = abs(d) / abs(centre)
    nodes = 0
    for i in range(1, y.size):
        if (y[i] < 0.0 and y[i - 1] > 0.0) or (y[i] > 0.0 and y[i - 1] < 0.0):
            nodes += 1
    return d_energy, mismatch, nodes


@jit_reproducible
def _nodes_at(r, V, ell, mass, energy, h, T):
    """Nodes of the outward solution up to where its bound tail would have decayed.

    Deep in the forbidden region Numerov is unstable (T > 1 flips signs), and what
    lies beyond e^-TAIL_DECAY does not move the eigenvalue, so the count stops at the
    start of the inward leg. That point moves out as E rises, which keeps the count
    non-decreasing in E.
    """
    _fill_T(r, V, ell, mass, energy, h, T)
    i_m = _matching_index(T)
    if i_m < 0:
        return 0
    i_inf, _ = _tail_index(T, h, i_m)
    y0, y1 = _start_values(r, V, ell, mass, h)
    return count_nodes(T, y0, y1, i_inf)


@jit_reproducible
def solve_bound_state(r, V, ell, mass, n_nodes, rtol, max_iter, out_P):
    """Bound state with ``n_nodes`` radial nodes in the potential V on a log grid.

    Parameters
    ----------
    r : ndarray of float
        Radii r_i = r_0 exp(i h) [eV^-1], uniform in ln r, increasing, at least 8
        points; r_0 must lie well inside the region where V ~ -c/r.
    V : ndarray of float
        Potential energy V(r_i) [eV], attractive and Coulomb-like at the origin.
    ell : int
        Orbital angular momentum (>= 0).
    mass : float
        Particle mass [eV] (m_e for an electron).
    n_nodes : int
        Radial nodes n - l - 1 of the wanted state (>= 0).
    rtol : float
        Relative energy tolerance of the matching iteration (e.g. 1e-13).
    max_iter : int
        Iterations (bisections + corrections) before giving up.
    out_P : ndarray of float
        Same size as ``r``; filled with the normalised radial function P(r_i) = r R
        [eV^{1/2}], int P^2 dr = 1, positive near the origin (NaN on failure).

    Returns
    -------
    energy : float
        Eigenvalue [eV] (NaN if no such state is bound on the grid).
    iterations : int
        Bisection steps plus matching corrections taken.
    mismatch : float
        Relative Numerov residual (kink) at the matching point for the returned energy.
    converged : bool
        True if the last correction was below ``rtol * |E|`` (or stalled at the
        rounding floor below ``STALL_RTOL * |E|``), the state has ``n_nodes`` nodes
        and its tail has decayed by at least e^-MIN_TAIL_DECAY on the grid.
    """
    n = r.size
    h = math.log(r[1] / r[0])
    T = np.empty(n)
    y = np.empty(n)
    for i in range(n):
        out_P[i] = np.nan
    # Below min(V + (l+1/2)^2 / (2 m r^2)) g > 0 everywhere: no nodes, below every state.
    e_lo = np.inf
    for i in range(n):
        e_lo = min(e_lo, V[i] + (ell + 0.5) ** 2 / (2.0 * mass * r[i] * r[i]))
    # Energies above the potential at the grid's end are not bound on this grid.
    e_hi = V[n - 1]
    iterations = 0
    if not (e_lo < e_hi) or n_nodes < 0:
        return np.nan, iterations, np.inf, False
    if _nodes_at(r, V, ell, mass, e_hi, h, T) <= n_nodes:
        return np.nan, iterations, np.inf, False
    nodes_lo = _nodes_at(r, V, ell, mass, e_lo, h, T)
    nodes_hi = n_nodes + 2  # any value > n_nodes + 1 until the bracket is tight
    while iterations < max_iter and not (nodes_lo == n_nodes and nodes_hi == n_nodes + 1):
        iterations += 1
        e_mid = 0.5 * (e_lo + e_hi)
        nodes_mid = _nodes_at(r, V, ell, mass, e_mid, h, T)
        if nodes_mid <= n_nodes:
            e_lo = e_mid
            nodes_lo = nodes_mid
        else:
            e_hi = e_mid
            nodes_hi = nodes_mid
        if e_hi - e_lo <= 1e-15 * abs(e_lo):
            break
    energy = 0.5 * (e_lo + e_hi)
    mismatch = np.inf
    converged = False
    y0, y1 = _start_values(r, V, ell, mass, h)
    decay = 0.0
    d_prev = np.inf
    while iterations < max_iter:
        iterations += 1
        _fill_T(r, V, ell, mass, energy, h, T)
        i_m = _matching_index(T)
        i_m = min(max(i_m, 2), n - 3)
        i_inf, decay = _tail_index(T, h, i_m)
        i_inf = max(i_inf, i_m + 2)
        y[0] = y0
        y[1] = y1
        d_energy, mismatch, nodes = _match(r, T, h, mass, y, i_m, i_inf)
        # Keep the node-count bracket current so a wild correction can fall back on it.
        if nodes <= n_nodes and energy > e_lo:
            if _nodes_at(r, V, ell, mass, energy, h, T) <= n_nodes:
                e_lo = energy
        if nodes > n_nodes and energy < e_hi:
            if _nodes_at(r, V, ell, mass, energy, h, T) > n_nodes:
                e_hi = energy
        small = abs(d_energy) <= rtol * abs(energy)
        # Newton-like steps shrink quadratically; one that no longer shrinks while
        # already tiny is rounding noise in the kink (~1e-13 relative), not progress.
        stalled = abs(d_energy) <= STALL_RTOL * abs(energy) and abs(d_energy) >= 0.5 * d_prev
        if nodes == n_nodes and (small or stalled):
            converged = decay >= MIN_TAIL_DECAY
            break
        d_prev = abs(d_energy)
        e_new = energy + d_energy
        if not (e_lo < e_new < e_hi) or not math.isfinite(e_new):
            e_new = 0.5 * (e_lo + e_hi)
        energy = e_new
    # Normalise the stitched solution: int P^2 dr = int r^2 y^2 dx.
    _fill_T(r, V, ell, mass, energy, h, T)
    norm = 0.0
    for i in range(n):
        norm += r[i] * r[i] * y[i] * y[i]
    norm = math.sqrt(norm * h)
    sign = 1.0 if y[0] > 0.0 else -1.0
    for i in range(n):
        out_P[i] = sign * math.sqrt(r[i]) * y[i] / norm
    return energy, iterations, mismatch, converged


@jit_reproducible
def radial_integral(r, P_a, f, P_b):
    """Return int P_a(r) f(r) P_b(r) dr on a log grid (trapezoid rule in x = ln r).

    Parameters
    ----------
    r : ndarray of float
        Log grid [eV^-1] as for :func:`solve_bound_state`.
    P_a, P_b : ndarray of float
        Radial functions on the grid [eV^{1/2}].
    f : ndarray of float
        Operator values f(r_i) in any unit U (e.g. 1/r in eV).

    Returns
    -------
    float
        The integral, in U (for normalised P).
    """
    h = math.log(r[1] / r[0])
    acc = 0.0
    n = r.size
    for i in range(n):
        w = 0.5 if (i == 0 or i == n - 1) else 1.0
        acc += w * P_a[i] * f[i] * P_b[i] * r[i]
    return acc * h
