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


_CENSUS = r"""
import collections, json, re
import numpy as np
from renp_scan.kernels import rate
from renp_scan.model.spectrum import build_model
m = build_model("Cs", 0.01, "NH", True, "core")
o = np.linspace(0.01, 1.3, 5000)
m.evaluate(o, np.empty(o.size))
out = {}
for name in ("_add_pair", "_add_pair_masked", "_point_factors", "_finish", "_closing_d"):
    f = getattr(rate, name)
    asm = f.inspect_asm(f.signatures[0])
    c = collections.Counter()
    for mnem, reg in re.findall(r"\n\s*(v\w+)\s+[^\n]*?%([xyz])mm", asm):
        if re.search(r"sqrt|div|fn?m(add|sub)|mul|add|sub", mnem):
            c[f"{mnem} {reg}mm"] += 1
    out[name] = dict(sorted(c.items()))
print(json.dumps(out))
"""


def vector_census() -> dict:
    """Floating-point instructions in the machine code of the rate kernel's loops.

    Compiled in a subprocess with an empty Numba cache (machine code of cached functions
    cannot be inspected). ``ymm``/``zmm`` operands are the vectorised loop bodies (4/8
    doubles); ``xmm`` with an ``sd`` suffix are scalar remainders. Static counts, not
    executed counts: hardware counters are not available in this VM (no ``perf``).
    """
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="renp-census-") as tmp:
        env = dict(os.environ, RENP_SCAN_CACHE_DIR=tmp)
        proc = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", _CENSUS],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


@jit
def _spin(x, out, reps):
    for rep in range(reps):
        for k in range(x.shape[0]):
            out[k] += math.sqrt(x[k] + rep)


def parallel_control(n=1 << 15, reps=200, calls=5, repeats=7) -> dict:
    """How much of a second core this run actually got: a control for 2-thread timings.

    Times a compute-bound, cache-resident, GIL-free loop (``_spin``: ``reps`` sweeps of
    square roots, ~5 ms per call) on one thread and split over two threads, round-robin.
    On an idle 2-core machine the speed-up is ~2; when other processes hold a core it
    falls towards 1, and the kernels' 2-thread figures should be read against it.
    """
    from .common import interleaved_times, split2

    x = np.linspace(1.0, 2.0, n)
    out = np.zeros(n)
    t = interleaved_times(
        {"1t": lambda: _spin(x, out, reps), "2t": lambda: split2(_spin, x, out, reps)},
        repeats,
        calls,
    )
    return {"speedup_2t": t["1t"]["median_s"] / t["2t"]["median_s"], "timings": t}
