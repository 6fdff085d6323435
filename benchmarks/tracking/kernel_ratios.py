"""Same-run ratios of the rate kernel, as ``asv`` track benchmarks.

``setup_cache`` times, for every channel, grid and size, the kernel (float64 and float32
output), the fused floor loop (:mod:`benchmarks.roofline`) and the two NumPy baselines
(:mod:`benchmarks.numpy_reference`: whole-array calls, and the same calls over
65536-point pieces), round-robin, as the CPU time of the calling thread (time slices
lost to other processes on a shared machine do not count). The ``track_*`` functions
return ratios of those medians, so one commit's point on one machine is a ratio of two
times measured seconds apart in the same process; absolute times are not tracked.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import numpy_reference as npref
from benchmarks.bench_kernel import CASES, _grid, _model
from benchmarks.roofline import floor_loop
from renp_scan.kernels.rate import N_PAIR_CONSTS, N_PAIRS_MAX, active_pairs

CHANNELS = list(CASES)
GRIDS = ["all_open", "linear"]
SIZES = [10**5, 10**6, 10**7]
#: Round-robin repeats per measurement (the median is kept).
REPEATS = 5
#: Points per timing run of the kernel and the floor (calls = BUDGET // n); NumPy runs
#: 1/20 of that (it is ~20-50x slower).
BUDGET = 2e7

PARAMS = (CHANNELS, GRIDS, SIZES)
PARAM_NAMES = ("channel", "grid", "n")


def _thread_times(funcs: dict, counts: dict, repeats: int) -> dict:
    """Median CPU seconds per call of each function, timed round-robin."""
    for f in funcs.values():
        f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            start = time.thread_time()
            for _ in range(counts[k]):
                f()
            times[k].append((time.thread_time() - start) / counts[k])
    return {k: float(np.median(v)) for k, v in times.items()}


def measure(channel: str, grid: str, n: int, repeats=None, budget=None) -> dict:
    """Seconds per call of kernel, float32 kernel, floor and both NumPy baselines."""
    repeats = REPEATS if repeats is None else repeats
    budget = BUDGET if budget is None else budget
    model = _model(channel)
    args = (model.eps_eg_eV, model.a_eV, model.amplitude_Hz_eV2)
    pair_args = (model.masses_eV, model.w_kin, model.w_maj)
    omega = _grid(model.eps_eg_eV, n, grid)
    out, ref, buf = np.empty(n), np.empty(n), np.empty(n)
    out32 = np.empty(n, dtype=np.float32)
    coef = np.empty((N_PAIRS_MAX, N_PAIR_CONSTS))
    n_pairs = active_pairs(*pair_args, coef)
    floor = floor_loop(n_pairs)
    floor_c = coef[:n_pairs, 0].copy()
    funcs = {
        "kernel": lambda: model.evaluate(omega, out),
        "kernel_f32": lambda: model.evaluate(omega, out32),
        "floor": lambda: floor(omega, *args, floor_c, buf),
        "numpy_whole": lambda: npref.rate_numpy(omega, *args, *pair_args, ref),
        "numpy_chunked": lambda: npref.chunked(npref.rate_numpy, omega, *args, *pair_args, out=ref),
    }
    calls = max(1, int(budget // n))
    counts = {k: (max(1, calls // 20) if k.startswith("numpy") else calls) for k in funcs}
    return _thread_times(funcs, counts, repeats)


def setup_cache():
    """All measurements of one run: {"channel/grid/n": seconds per call by name}."""
    return {
        f"{c}/{g}/{n}": measure(c, g, n) for c in CHANNELS for g in GRIDS for n in SIZES
    }


setup_cache.timeout = 3600


def _ratio(cache, channel, grid, n, num, den):
    t = cache[f"{channel}/{grid}/{n}"]
    return t[num] / t[den]


def track_kernel_over_floor(cache, channel, grid, n):
    """Kernel time / fused floor loop time (goal <= 1.25 where every pair is open)."""
    return _ratio(cache, channel, grid, n, "kernel", "floor")


def track_numpy_over_kernel(cache, channel, grid, n):
    """Whole-array NumPy time / kernel time (goal >= 20 at 1e6 and 1e7 points)."""
    return _ratio(cache, channel, grid, n, "numpy_whole", "kernel")


def track_numpy_chunked_over_kernel(cache, channel, grid, n):
    """NumPy over 65536-point pieces (its best case) time / kernel time."""
    return _ratio(cache, channel, grid, n, "numpy_chunked", "kernel")


def track_numpy_chunked_over_floor(cache, channel, grid, n):
    """NumPy over 65536-point pieces time / floor time: the most any kernel can gain on it."""
    return _ratio(cache, channel, grid, n, "numpy_chunked", "floor")


def track_float32_kernel_over_floor(cache, channel, grid, n):
    """Float32-output kernel time / float64 fused floor time."""
    return _ratio(cache, channel, grid, n, "kernel_f32", "floor")


for _f in (
    track_kernel_over_floor,
    track_numpy_over_kernel,
    track_numpy_chunked_over_kernel,
    track_numpy_chunked_over_floor,
    track_float32_kernel_over_floor,
):
    _f.params = PARAMS
    _f.param_names = PARAM_NAMES
    _f.unit = "ratio"
    _f.rounds = 1
    _f.repeat = 1
del _f
