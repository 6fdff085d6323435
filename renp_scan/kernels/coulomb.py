r"""Thomas-Fermi Coulomb integrals (paper eqs. 15 and 32), two independent quadratures.

With :math:`\chi` the Thomas-Fermi function (eq. 28) and x the dimensionless radius:

* :math:`\mathcal J_N = \int_0^\infty \chi^{3/2} x^{-1/2}\,dx` (eq. 15),
* :math:`\mathcal J_C = \int_0^\infty dx_1\, x_1^{-1/2}\chi_1^{3/2}
  \int_0^{x_1} dx_2\, x_2^{1/2}\chi_2^{3/2}` (eq. 32),

and, to check the exact relations of ``docs/thomas_fermi.md``, the electron count
:math:`\int x^{1/2}\chi^{3/2}dx` (= 1), :math:`K = \int\chi'^2dx` and
:math:`P = \int\chi^{5/2}x^{-1/2}dx`.

:func:`coulomb_integrals_taylor` carries the running integrals along the Taylor
integration of eq. 28 and closes them beyond x_R with the asymptotic series
integrated term by term. :func:`coulomb_integrals_gauss` is composite Gauss-Legendre
quadrature in t = sqrt(x) on chi sampled by
:func:`~renp_scan.kernels.thomas_fermi.tf_chi_grid`. Neither uses any identity
between the integrals. All quantities are dimensionless.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit_reproducible
from .thomas_fermi import (
    GAMMA,
    MAX_STEPS,
    N_SERIES,
    RTOL,
    TAYLOR_ORDER,
    X_MATCH,
    X_RIGHT,
    asymptotic_coefficients,
    horner,
    power_series,
    taylor_step,
    tf_asymptotic,
    tf_chi_grid,
)

#: Number of integrals returned by both quadratures, in this order.
N_INTEGRALS = 5
#: Index of J_N, J_C, the electron count, K and P in the returned tuple.
I_JN, I_JC, I_NORM, I_K, I_P = 0, 1, 2, 3, 4


@jit_reproducible
def _integral_increment(c, h):
    """Integral over [0, h] of the polynomial sum_k c[k] z^k."""
    acc = 0.0
    for k in range(c.size - 1, -1, -1):
        acc = acc * h + c[k] / (k + 1)
    return acc * h


@jit_reproducible
def _integrate_leg(t_start, t_end, y, u, rtol, acc):
    """Integrate eq. 28 in t from t_start to t_end, adding the running integrals.

    ``acc`` holds (N, G, C, K, P): the integrals from t_start of 2 w, 2 t^2 w,
    2 w G, 2 t u^2 and 2 y w in dt (w = y^{3/2}), i.e. of chi^{3/2} x^{-1/2},
    x^{1/2} chi^{3/2}, x^{-1/2} chi^{3/2} times the running G, chi'^2 and
    chi^{5/2} x^{-1/2} in dx. G starts from ``acc[1]``, so C is the nested integral.

    Returns
    -------
    y, u : float
        State at t_end.
    n_steps : int
        Steps taken, -1 on failure.
    """
    n = TAYLOR_ORDER + 1
    cy = np.empty(n)
    cu = np.empty(n)
    cw = np.empty(n)
    f_n = np.empty(n)
    f_g = np.empty(n)
    g_run = np.empty(n)
    f_c = np.empty(n)
    f_k = np.empty(n)
    f_p = np.empty(n)
    direction = 1.0 if t_end >= t_start else -1.0
    t = t_start
    for step in range(MAX_STEPS):
        h, last, ok = taylor_step(t, t_end, y, u, rtol, direction, cy, cu, cw)
        if not ok:
            return y, u, -1
        # Integrand series in z = t' - t (t' = t + z); products truncated at order n - 1.
        for k in range(n):
            wk1 = cw[k - 1] if k >= 1 else 0.0
            wk2 = cw[k - 2] if k >= 2 else 0.0
            f_n[k] = 2.0 * cw[k]
            f_g[k] = 2.0 * (t * t * cw[k] + 2.0 * t * wk1 + wk2)
            uu = 0.0
            uu_prev = 0.0
            yw = 0.0
            for j in range(k + 1):
                uu += cu[j] * cu[k - j]
                yw += cy[j] * cw[k - j]
            for j in range(k):
                uu_prev += cu[j] * cu[k - 1 - j]
            f_k[k] = 2.0 * (t * uu + uu_prev)
            f_p[k] = 2.0 * yw
        # Running G as a series: G(t) + int_0^z f_g.
        g_run[0] = acc[1]
        for k in range(1, n):
            g_run[k] = f_g[k - 1] / k
        for k in range(n):
            s = 0.0
            for j in range(k + 1):
                s += cw[j] * g_run[k - j]
            f_c[k] = 2.0 * s
        acc[0] += _integral_increment(f_n, h)
        acc[1] += _integral_increment(f_g, h)
        acc[2] += _integral_increment(f_c, h)
        acc[3] += _integral_increment(f_k, h)
        acc[4] += _integral_increment(f_p, h)
        y = horner(cy, h)
        u = horner(cu, h)
        if not (math.isfinite(y) and math.isfinite(u)):
            return y, u, -1
        if last:
            return y, u, step + 1
        t = t + h
    return y, u, -1


@jit_reproducible
def _series_tails(F, a, out):
    """Integrals over [x_R, inf) from the asymptotic series, term by term.

    chi = 144 x^-3 sum a_k s^k with s = F x^-gamma, so every integrand is a sum of
    powers x^-(p + k gamma) integrated in closed form. Fills ``out`` with the tails of
    (J_N, G = int x^{1/2} chi^{3/2}, C', K, P), where C' is the nested integral with
    the inner integral started at x_R (G(x_R) = 0).
    """
    n = a.size
    b = np.empty(n)  # coefficients of g^{3/2}
    e = np.empty(n)  # coefficients of g^{5/2}
    power_series(a, 1.5, b)
    power_series(a, 2.5, e)
    s_R = F * X_RIGHT**-GAMMA
    x_R = X_RIGHT
    t_n = 0.0
    t_g = 0.0
    t_p = 0.0
    sk = 1.0
    for k in range(n):
        t_n += b[k] * sk / (4.0 + k * GAMMA)
        t_g += b[k] * sk / (3.0 + k * GAMMA)
        t_p += e[k] * sk / (7.0 + k * GAMMA)
        sk *= s_R
    t_n *= 1728.0 * x_R**-4.0
    t_g *= 1728.0 * x_R**-3.0
    t_p *= 144.0**2.5 * x_R**-7.0
    cross = 0.0
    t_k = 0.0
    sk = 1.0
    for k in range(n):
        sj = 1.0
        for j in range(n):
            d = 7.0 + (k + j) * GAMMA
            cross += b[k] * b[j] * sk * sj / ((3.0 + k * GAMMA) * d)
            t_k += a[k] * a[j] * (3.0 + k * GAMMA) * (3.0 + j * GAMMA) * sk * sj / d
            sj *= s_R
        sk *= s_R
    # int_{xR}^inf f(x) int_{xR}^x g = tail_G * tail_N - int f(x) * (series of g beyond x).
    out[0] = t_n
    out[1] = t_g
    out[2] = t_g * t_n - 1728.0**2 * x_R**-7.0 * cross
    out[3] = 144.0**2 * x_R**-7.0 * t_k
    out[4] = t_p


@jit_reproducible
def coulomb_integrals_taylor(slope, F, out):
    """Coulomb integrals by carrying running integrals along the ODE solution.

    Outward leg [0, x_m] and inward leg [x_m, x_R] use the Taylor series of the
    integrands in t = sqrt(x); [x_R, inf) uses the asymptotic series integrated term
    by term. The nested integral (eq. 32) over the inward leg is assembled from
    integrals accumulated from x_R downward.

    Parameters
    ----------
    slope, F : float
        chi'(0) and the asymptotic amplitude from
        :func:`~renp_scan.kernels.thomas_fermi.solve_tf`.
    out : ndarray of float, shape (5,)
        Filled with J_N (eq. 15), J_C (eq. 32), int x^{1/2} chi^{3/2} dx,
        K = int chi'^2 dx and P = int chi^{5/2} x^{-1/2} dx (all dimensionless).

    Returns
    -------
    ok : bool
        False if an integration leg failed.
    """
    a = np.empty(N_SERIES)
    asymptotic_coefficients(a)
    t_m = math.sqrt(X_MATCH)
    acc_out = np.zeros(N_INTEGRALS)
    _, _, n_out = _integrate_leg(0.0, t_m, 1.0, slope, RTOL, acc_out)
    y_R, u_R, _, _ = tf_asymptotic(X_RIGHT, F, a)
    # Inward from x_R: signed integrals from x_R to x_m (negatives of the forward ones).
    acc_in = np.zeros(N_INTEGRALS)
    _, _, n_in = _integrate_leg(math.sqrt(X_RIGHT), t_m, y_R, u_R, RTOL, acc_in)
    tails = np.empty(N_INTEGRALS)
    _series_tails(F, a, tails)

    g_m = acc_out[1]  # int_0^{x_m} x^{1/2} chi^{3/2}
    g_mid = -acc_in[1]  # int_{x_m}^{x_R}
    f_mid = -acc_in[0]  # int_{x_m}^{x_R} x^{-1/2} chi^{3/2}
    # On [x_m, x_R] the inner integral is g_m + g_mid - int_x^{x_R} g; acc_in[2] is
    # int_{x_m}^{x_R} f(x) int_x^{x_R} g with the sign of the inward orientation.
    c_mid = (g_m + g_mid) * f_mid - acc_in[2]
    c_tail = (g_m + g_mid) * tails[0] + tails[2]

    out[0] = acc_out[0] + f_mid + tails[0]
    out[1] = acc_out[2] + c_mid + c_tail
    out[2] = g_m + g_mid + tails[1]
    out[3] = acc_out[3] - acc_in[3] + tails[3]
    out[4] = acc_out[4] - acc_in[4] + tails[4]
    return n_out > 0 and n_in > 0


@jit_reproducible
def gauss_legendre(out_nodes, out_weights):
    """Gauss-Legendre nodes and weights on [-1, 1] (Newton on P_n).

    Parameters
    ----------
    out_nodes, out_weights : ndarray of float
        Length n; filled with the n nodes (ascending) and weights.
    """
    n = out_nodes.size
    for i in range(n):
        z = math.cos(math.pi * (i + 0.75) / (n + 0.5))
        dp = 1.0
        for _ in range(100):
            p0 = 1.0
            p1 = z
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
            dp = n * (z * p1 - p0) / (z * z - 1.0)
            dz = p1 / dp
            z -= dz
            if abs(dz) <= 1e-16:
                break
        # Recompute the derivative at the converged node for the weight.
        p0 = 1.0
        p1 = z
        for k in range(2, n + 1):
            p0, p1 = p1, ((2 * k - 1) * z * p1 - (k - 1) * p0) / k
        dp = n * (z * p1 - p0) / (z * z - 1.0)
        out_nodes[n - 1 - i] = z
        out_weights[n - 1 - i] = 2.0 / ((1.0 - z * z) * dp * dp)


@jit_reproducible
def _panel_edges(t_first, ratio, t_max):
    """Panel edges in t: 0, t_first, then geometric with ``ratio`` up to >= t_max."""
    n = 2
    t = t_first
    while t < t_max:
        t *= ratio
        n += 1
    edges = np.empty(n)
    edges[0] = 0.0
    t = t_first
    for i in range(1, n):
        edges[i] = t
        t *= ratio
    return edges


@jit_reproducible
def coulomb_integrals_gauss(slope, F, n_nodes, panel_ratio, t_max, out):
    """Coulomb integrals by composite Gauss-Legendre quadrature in t = sqrt(x).

    In t every integrand is analytic at t = 0 (dx = 2 t dt absorbs x^{-1/2}). Panels
    are [0, 0.25] and then geometric with ``panel_ratio`` up to ``t_max`` (the
    integrands fall like t^-9 or faster, so the part beyond t_max = 1000 is below
    1e-21). For the nested integral (eq. 32) the inner integral at each outer node is
    the sum over whole panels plus a Gauss-Legendre rule on the partial panel.

    Parameters
    ----------
    slope, F : float
        chi'(0) and the asymptotic amplitude.
    n_nodes : int
        Gauss-Legendre nodes per panel (20 gives ~1e-15).
    panel_ratio : float
        Ratio of successive panel edges (> 1).
    t_max : float
        Last panel edge, in t = sqrt(x).
    out : ndarray of float, shape (5,)
        Filled like :func:`coulomb_integrals_taylor`.

    Returns
    -------
    ok : bool
        False if sampling chi failed.
    """
    z = np.empty(n_nodes)
    wz = np.empty(n_nodes)
    gauss_legendre(z, wz)
    edges = _panel_edges(0.25, panel_ratio, t_max)
    n_pan = edges.size - 1
    n_outer = n_pan * n_nodes
    # Sample points: outer nodes, then n_nodes inner nodes for every outer node.
    t_all = np.empty(n_outer * (1 + n_nodes))
    for p in range(n_pan):
        lo = edges[p]
        half = 0.5 * (edges[p + 1] - lo)
        for i in range(n_nodes):
            q = p * n_nodes + i
            tq = lo + half * (z[i] + 1.0)
            t_all[q] = tq
            half_in = 0.5 * (tq - lo)
            for m in range(n_nodes):
                t_all[n_outer + q * n_nodes + m] = lo + half_in * (z[m] + 1.0)
    x_all = t_all * t_all
    chi = np.empty(x_all.size)
    dchi = np.empty(x_all.size)
    ok = tf_chi_grid(x_all, slope, F, chi, dchi)
    for k in range(N_INTEGRALS):
        out[k] = 0.0
    g_done = 0.0  # inner integral over whole panels so far
    for p in range(n_pan):
        lo = edges[p]
        half = 0.5 * (edges[p + 1] - lo)
        g_panel = 0.0
        for i in range(n_nodes):
            q = p * n_nodes + i
            tq = t_all[q]
            yq = max(chi[q], 0.0)
            w3 = yq**1.5
            weight = half * wz[i]
            g_inner = 0.0
            half_in = 0.5 * (tq - lo)
            for m in range(n_nodes):
                r = n_outer + q * n_nodes + m
                tr = t_all[r]
                g_inner += wz[m] * 2.0 * tr * tr * max(chi[r], 0.0) ** 1.5
            g_inner *= half_in
            out[0] += weight * 2.0 * w3
            out[1] += weight * 2.0 * w3 * (g_done + g_inner)
            g_panel += weight * 2.0 * tq * tq * w3
            out[3] += weight * 2.0 * tq * dchi[q] * dchi[q]
            out[4] += weight * 2.0 * yq * w3
        g_done += g_panel
    out[2] = g_done
    return ok
