"""Compute floor of the spectrum kernels: a fused loop doing only the unavoidable arithmetic.

Per grid point where ``n`` pairs are open, Gamma(omega) needs one 1/D
(D = eps (eps - 2 omega)), ``n`` square roots sqrt(1 - c_p/D) (Delta_ij of eq. 41), one
energy denominator (eqs. 19/23) and one store. :func:`floor_loop` does exactly that in
one vectorised Numba loop compiled with the kernels' own options, at every point of the
grid it is given (no open/closed tests): on a grid where every pair is open it is the
time below which no implementation of the formula can go on this core (sqrt and divide
share the one divider unit). Timed round-robin with the kernel, on the same grid, in the
same run: ``kernel / floor`` is the kernel's overhead over the divider. On grids where
some pairs are closed the kernel skips them and can run below this floor.

Also here: the cost of one vectorised sqrt and divide (L1-resident loops), a static
census of the kernel's vector instructions, and a parallel control loop.
"""

from __future__ import annotations

import math

import numpy as np

from renp_scan.kernels._fma import fma
from renp_scan.kernels._jit import jit, jit_position_invariant

from .common import median_time


def _make_floor_loop(n_sqrt):
    @jit_position_invariant
    def floor(omega, eps_eg, a_eV, amplitude, c, out):
        for k in range(omega.shape[0]):
            w = omega[k]
            r = 1.0 / (eps_eg * (eps_eg - 2.0 * w))
            s = 0.0
            for p in range(n_sqrt):
                s += math.sqrt(fma(-c[p], r, 1.0))
            den = (a_eV + w) * (eps_eg - w)
            out[k] = amplitude * s / (den * den)

    return floor


#: Fused floor loops by number of square roots per point (3: nucleus channel, one per
#: diagonal pair; 6: core channel, every pair i <= j).
FLOOR_LOOPS = {3: _make_floor_loop(3), 6: _make_floor_loop(6)}


def floor_loop(n_sqrt):
    """The fused floor loop ``f(omega, eps_eg, a_eV, amplitude, c, out)`` with ``n_sqrt`` roots."""
    return FLOOR_LOOPS[n_sqrt]


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


_CENSUS = r"""
import collections, json, re
import numpy as np
from renp_scan.kernels import rate
from renp_scan.model.spectrum import build_model
for channel in ("nucleus", "core"):
    m = build_model("Cs", 0.01, "NH", True, channel)
    o = np.linspace(0.01, 1.3, 5000)
    m.evaluate(o, np.empty(o.size))
    m.evaluate(o[::-1].copy(), np.empty(o.size))
out = {}
loops = {
    "open_loop, 3 pairs": rate._OPEN_LOOPS[2],
    "open_loop, 3 diagonal pairs (nucleus)": rate._DIAGONAL_OPEN_LOOPS[2],
    "open_loop, 6 pairs": rate._OPEN_LOOPS[5],
    "masked_loop, 6 pairs": rate._MASKED_LOOPS[5],
}
for name, f in loops.items():
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
