"""Thomas-Fermi slope chi'(0) (eqs. 26-28): renp_scan's solver against SciPy baselines.

Reference value: chi'(0) = -1.588071022611375312718684508 (Amore, Boyd & Fernandez,
arXiv:1205.1704, to 27 digits). Baselines, same equation x^(1/2) chi'' = chi^(3/2),
chi(0) = 1, chi(inf) = 0, in the regular variable t = sqrt(x) (y' = 2 t u,
u' = 2 y^(3/2), u = dchi/dx):

* ``solve_bvp``: collocation on t in [0, sqrt(1000)] with chi(0) = 1 and the
  large-x relation chi' = -3 chi / x at x = 1000 (leading term 144/x^3; the error it
  makes decays inward like x^-4.77 and is below 1e-16 at x ~ 1). Timed at several
  ``tol``; the tightest that converges within max_nodes is what SciPy can reach.
* ``solve_ivp`` shooting: bisection on the slope with DOP853 (rtol 1e-13), deciding
  each trial by whether chi crosses 0 (too steep) or turns up (too shallow) before
  x_max. The outward instability (perturbations grow like x^4.77) caps its accuracy.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_bvp, solve_ivp

from renp_scan.kernels.thomas_fermi import RTOL, solve_tf

from .common import median_time

SLOPE_LITERATURE = -1.588071022611375312718684508
BVP_TOLS = {
    "smoke": [1e-6],
    "quick": [1e-6, 1e-8, 1e-10],
    "full": [1e-6, 1e-8, 1e-10, 1e-11, 1e-12],
}
SHOOT_XMAX = {"smoke": [30.0], "quick": [100.0], "full": [30.0, 100.0, 300.0]}


def slope_bvp(tol, x_right=1e3, nodes=2000):
    """chi'(0) from scipy.integrate.solve_bvp; returns (slope, status, mesh nodes)."""
    t_right = np.sqrt(x_right)

    def rhs(t, z):
        return np.vstack([2.0 * t * z[1], 2.0 * np.abs(z[0]) ** 1.5])

    def bc(za, zb):
        return np.array([za[0] - 1.0, zb[1] + 3.0 * zb[0] / x_right])

    t = np.linspace(0.0, t_right, nodes)
    x = t * t
    guess = 144.0 / (144.0 ** (1.0 / 3.0) + x) ** 3  # Sommerfeld-like start
    z0 = np.vstack([guess, np.gradient(guess, x)])
    sol = solve_bvp(rhs, bc, t, z0, tol=tol, bc_tol=tol, max_nodes=200_000)
    return float(sol.sol(0.0)[1]), int(sol.status), int(sol.x.size)


def slope_shooting(x_max, rtol=1e-13, atol=1e-16, max_bisections=80):
    """chi'(0) by bisection shooting with solve_ivp (DOP853); returns (slope, rhs evals)."""

    def rhs(t, z):
        return [2.0 * t * z[1], 2.0 * max(z[0], 0.0) ** 1.5]

    def crosses_zero(t, z):
        return z[0]

    def turns_up(t, z):
        return z[1]

    crosses_zero.terminal = True
    turns_up.terminal = True
    steep, shallow = -1.7, -1.5
    nfev = 0
    for _ in range(max_bisections):
        mid = 0.5 * (steep + shallow)
        if mid in (steep, shallow):
            break
        sol = solve_ivp(
            rhs,
            (0.0, np.sqrt(x_max)),
            [1.0, mid],
            method="DOP853",
            rtol=rtol,
            atol=atol,
            events=(crosses_zero, turns_up),
        )
        nfev += sol.nfev
        if sol.t_events[0].size:
            steep = mid
        elif sol.t_events[1].size:
            shallow = mid
        else:  # undecided before x_max: the bracket cannot shrink further
            break
    return 0.5 * (steep + shallow), nfev


def _rel_err(slope):
    return abs(slope - SLOPE_LITERATURE) / abs(SLOPE_LITERATURE)


def run(mode="quick") -> dict:
    """Time and accuracy of every method; ratios are SciPy time / renp_scan time."""
    repeats = {"smoke": 1, "quick": 5, "full": 7}[mode]
    slope, F, iterations, residual, converged = solve_tf(RTOL)
    t_ours = median_time(lambda: solve_tf(RTOL), repeats=repeats, number=20)
    ours = {
        "method": "renp_scan solve_tf (Taylor two-sided shooting)",
        "rtol": RTOL,
        "slope": float(slope),
        "rel_err": _rel_err(slope),
        "iterations": int(iterations),
        "residual": float(residual),
        "converged": bool(converged),
        "time": t_ours,
    }
    rows = []
    for tol in BVP_TOLS[mode]:
        start = time.perf_counter()
        s, status, nodes = slope_bvp(tol)
        once = time.perf_counter() - start
        if once < 2.0:
            t = median_time(lambda tol=tol: slope_bvp(tol), repeats=max(1, repeats // 2), warmup=0)
        else:  # tol 1e-12 runs into max_nodes after ~10 s: one run is enough to say so
            t = {"median_s": once, "min_s": once, "max_s": once, "repeats": 1, "number": 1}
        rows.append(
            {
                "method": "scipy solve_bvp",
                "tol": tol,
                "slope": s,
                "rel_err": _rel_err(s),
                "status": status,
                "converged": status == 0,
                "mesh_nodes": nodes,
                "time": t,
                "time_ratio_vs_renp": t["median_s"] / t_ours["median_s"],
            }
        )
    for x_max in SHOOT_XMAX[mode]:
        s, nfev = slope_shooting(x_max)
        t = median_time(
            lambda x_max=x_max: slope_shooting(x_max), repeats=max(1, repeats // 2), warmup=0
        )
        rows.append(
            {
                "method": "scipy solve_ivp DOP853 bisection shooting",
                "x_max": x_max,
                "rtol": 1e-13,
                "slope": s,
                "rel_err": _rel_err(s),
                "rhs_evals": nfev,
                "time": t,
                "time_ratio_vs_renp": t["median_s"] / t_ours["median_s"],
            }
        )
    return {
        "reference_slope": SLOPE_LITERATURE,
        "reference_source": "Amore, Boyd & Fernandez, arXiv:1205.1704",
        "renp_scan": ours,
        "scipy": rows,
    }
