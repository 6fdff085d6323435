"""Compute floor of the spectrum kernels: measured cost of one vectorised sqrt and divide.

The rate kernel does, per grid point where pair p is open, one square root (Delta_pp of
eq. 41), and per point where any pair is open two divisions (1/D and the energy
denominator of eqs. 19/23). On x86 both run on the same divider unit, which nothing
else can feed, so

    floor [ns/point] = sum_p f_p * t_sqrt + f_any * 2 * t_div,

with f_p the fraction of grid points where pair p is open and t_sqrt, t_div the costs
of one vectorised sqrt / divide measured here with the kernels' own JIT options, on
data in L1. A kernel at this floor is compute-bound on the divider; time beyond
floor + memory pass is overhead.
"""

from __future__ import annotations

import math

import numpy as np

from renp_scan.kernels._jit import jit

from .common import median_time


@jit
def _sqrt_loop(x, out):
    for k in range(x.shape[0]):
        out[k] = math.sqrt(x[k])


@jit
def _div_loop(x, out):
    for k in range(x.shape[0]):
        out[k] = 1.0 / x[k]


@jit
def _fma_loop(x, out):
    for k in range(x.shape[0]):
        out[k] = x[k] * 1.000001 + 0.5


def divider_costs(n=4096, calls=2000, repeats=7) -> dict:
    """ns per element of a vectorised sqrt, divide and multiply-add loop (L1-resident)."""
    x = np.linspace(1.0, 2.0, n)
    out = np.empty(n)
    res = {}
    for name, loop in (("sqrt", _sqrt_loop), ("div", _div_loop), ("fma", _fma_loop)):
        t = median_time(lambda loop=loop: loop(x, out), repeats=repeats, number=calls)
        res[f"{name}_ns"] = t["median_s"] / n * 1e9
    return res


def open_fractions(omega, eps_eg, masses, w_kin, w_maj) -> tuple[list, float]:
    """Fraction of ``omega`` where each active pair (i <= j) is open, and where any is."""
    d = eps_eg * (eps_eg - 2.0 * omega)
    fractions = []
    any_open = np.zeros(omega.shape, dtype=bool)
    for i in range(3):
        for j in range(i, 3):
            if w_kin[i, j] == 0.0 and w_maj[i, j] == 0.0:
                continue
            is_open = (omega > 0) & (d > (masses[i] + masses[j]) ** 2)
            fractions.append(float(is_open.mean()))
            any_open |= is_open
    return fractions, float(any_open.mean())


def rate_floor_ns(fractions, any_fraction, costs) -> float:
    """Divider-bound time per point [ns] of the rate kernel (see module docstring)."""
    return sum(fractions) * costs["sqrt_ns"] + any_fraction * 2.0 * costs["div_ns"]
