"""Spectrum kernel throughput: Gamma(omega) and all-pairs I_ij, 1 and 2 threads.

Baselines timed in the same run:

* ``numpy_plain``: :mod:`benchmarks.numpy_reference` on the whole grid, the formulas
  written independently as whole-array NumPy calls (checked to agree with the kernel);
* ``numpy``: the same code over 65536-point pieces (temporaries in cache: its best case);
* ``mem``: one memory pass over the output, ``np.multiply(x, 1.0, out=buf)`` of the
  same size (reads the input, writes the output: the bandwidth limit of a kernel that
  reads omega and writes Gamma);
* ``floor``: the fused floor loop of :mod:`benchmarks.roofline` on the same grid (one
  1/D, one sqrt per active pair, one energy denominator and one store per point).

Goals: kernel >= 20x NumPy at 1e6 and 1e7 points, evaluated against the whole-array
NumPy code (``numpy_plain``: the independent implementation as one would first write
it); kernel <= 1.25x the fused floor; kernel time <= 4x the memory pass out of cache.
The chunked NumPy figure is reported next to it with its bound: NumPy spends the same
divider time as the floor plus its passes over temporaries, so no implementation that
does the floor's arithmetic can be more than (chunked NumPy time / floor time) faster
than it. Two threads = the grid split in two halves on a ThreadPoolExecutor (kernels
are nogil).
"""

from __future__ import annotations

import time

import numpy as np

from renp_scan.kernels.phase_space import all_pairs_grid
from renp_scan.model.spectrum import build_model

from . import numpy_reference as npref
from .common import interleaved_times, pool, repeats_for, split2
from .roofline import (
    _spin,
    divider_costs,
    floor_loop,
    open_fractions,
    parallel_control,
    vector_census,
)

#: One target and one mass triple (Cs, NH, m0 = 10 meV, Majorana), both channels.
CASES = {
    "nucleus": dict(atom="Cs", m0_eV=0.01, hierarchy="NH", majorana=True, channel="nucleus"),
    "core": dict(
        atom="Cs",
        m0_eV=0.01,
        hierarchy="NH",
        majorana=True,
        channel="core",
        majorana_phases_rad=(1.0, 2.0),
    ),
}
SIZES = {"smoke": [2_000], "quick": [10**5, 10**6, 10**7], "full": [10**5, 10**6, 10**7, 10**8]}
#: Goals checked in the report (ratios of times measured in the same run).
GOAL_OVER_FLOOR = 1.25
GOAL_VS_NUMPY = 20.0
PAIR_SIZES = {"smoke": [2_000], "quick": [10**5, 10**6], "full": [10**5, 10**6, 10**7]}
#: Largest grid the NumPy baseline is timed on with 2 threads (time, not memory, bound).
REPEATS = {"smoke": 1, "quick": 5, "full": 7}
#: Sweeps of the parallel-control loop per call (~1 ms on one thread).
CONTROL_REPS = 40
#: Largest grid for the unchunked NumPy baseline (~15 temporaries of n doubles each).
PLAIN_NUMPY_MAX = 10**7
#: Points covered by one timing run (calls = budget / n): long enough to time reliably.
BUDGET = {"smoke": 2e4, "quick": 2e7, "full": 4e7}


def _model(case):
    kw = dict(CASES[case])
    return build_model(kw.pop("atom"), kw.pop("m0_eV"), **kw)


def _grid(eps, n, kind):
    """Photon energies [eV]: the scan files' linear grid over (0, eps_eg), or a variant."""
    if kind == "linear":
        return np.linspace(0.0, eps, n + 2)[1:-1]
    if kind == "all_open":  # every pair open at every point: the divider-bound worst case
        return np.linspace(0.0, 0.49 * eps, n + 2)[1:-1]
    if kind == "shuffled":  # unsorted: the kernel's masked (general) path
        return np.random.default_rng(0).permutation(np.linspace(0.0, eps, n + 2)[1:-1])
    raise ValueError(kind)


def _agreement(a, b) -> float:
    scale = np.where(a == 0.0, 1.0, np.abs(a))
    if np.any((a == 0.0) != (b == 0.0)):
        return float("inf")
    return float(np.max(np.abs(a - b) / scale))


def _pairs(model):
    """(m_i, m_j) of the active pairs i <= j of a model."""
    m = model.masses_eV
    return [
        (m[i], m[j])
        for i in range(3)
        for j in range(i, 3)
        if model.w_kin[i, j] != 0.0 or model.w_maj[i, j] != 0.0
    ]


def rate_case(case, n, kind, repeats, costs, numpy_threads=(1, 2), budget=2e7) -> dict:
    """Time Gamma(omega) on ``n`` points: kernel / NumPy / memory pass, 1 and 2 threads."""
    model = _model(case)
    args = (
        model.eps_eg_eV,
        model.a_eV,
        model.amplitude_Hz_eV2,
        model.masses_eV,
        model.w_kin,
        model.w_maj,
    )
    omega = _grid(model.eps_eg_eV, n, kind)
    out = np.empty(n)
    out32 = np.empty(n, dtype=np.float32)
    ref = np.empty(n)
    buf = np.empty(n)
    number = repeats_for(n, budget)

    def kernel(o, r):
        model.evaluate(o, r)

    def numpy_rate(o, r):
        npref.chunked(npref.rate_numpy, o, *args, out=r)

    def mem(o, r):
        np.multiply(o, 1.0, out=r)

    kernel(omega, out)
    kernel(omega, out32)
    numpy_rate(omega, ref)
    res = {
        "case": case,
        "grid": kind,
        "n": n,
        "max_rel_diff_vs_numpy": _agreement(out, ref),
        # float32 output path against the float64 one, in units of 2^-24
        "f32_max_rel_diff_vs_f64_units_2m24": _agreement(out32.astype(np.float64), out) * 2**24,
        "nan_count": int(np.isnan(out).sum()),
    }
    funcs = {
        "kernel_1t": lambda: kernel(omega, out),
        "kernel_f32_1t": lambda: kernel(omega, out32),
        "kernel_2t": lambda: split2(kernel, omega, out),
        "mem_1t": lambda: mem(omega, buf),
        "mem_2t": lambda: split2(mem, omega, buf),
    }
    if 1 in numpy_threads:
        funcs["numpy_1t"] = lambda: numpy_rate(omega, ref)
    if 2 in numpy_threads:
        funcs["numpy_2t"] = lambda: split2(numpy_rate, omega, ref)
    if n <= PLAIN_NUMPY_MAX:
        # the unchunked NumPy code, as one would first write it (temporaries of size n)
        funcs["numpy_plain_1t"] = lambda: npref.rate_numpy(omega, *args, ref)
    # the fused floor loop on the same grid, in the same round-robin: one sqrt per
    # active pair at every point (the pair constants only set the sqrt arguments)
    fr, f_any = open_fractions(omega, *args[:1], model.masses_eV, model.w_kin, model.w_maj)
    floor = floor_loop(len(fr))
    floor_c = np.array(sorted((m_i + m_j) ** 2 for m_i, m_j in _pairs(model)))
    funcs["floor_1t"] = lambda: floor(omega, *args[:3], floor_c, buf)
    # parallel control: how much of the second core this row's window actually had
    ctl_x, ctl_out = np.linspace(1.0, 2.0, 1 << 15), np.zeros(1 << 15)
    funcs["control_1t"] = lambda: _spin(ctl_x, ctl_out, CONTROL_REPS)
    funcs["control_2t"] = lambda: split2(_spin, ctl_x, ctl_out, CONTROL_REPS)
    # NumPy is ~20-40x slower: fewer calls per run keep every mode's run similar in length
    counts = {k: (max(1, number // 20) if k.startswith("numpy") else number) for k in funcs}
    counts["control_1t"] = counts["control_2t"] = 1
    reps = min(repeats, 3) if n >= 10**8 else repeats
    # one-thread modes by the thread's CPU time (robust to other processes' load), the
    # two-thread ones (and the parallel control) by wall time
    one = [k for k in funcs if k.endswith("_1t") and k != "control_1t"]
    t = interleaved_times({k: funcs[k] for k in one}, reps, counts, clock=time.thread_time)
    t.update(interleaved_times({k: f for k, f in funcs.items() if k not in one}, reps, counts))
    control = {k: t.pop(k) for k in ("control_1t", "control_2t")}
    res["control_speedup_2t"] = (
        control["control_1t"]["median_s"] / control["control_2t"]["median_s"]
    )
    res["timings"] = t
    res["ns_per_point"] = {k: v["median_s"] / n * 1e9 for k, v in t.items()}
    res["points_per_s"] = {k: n / v["median_s"] for k, v in t.items()}
    res["open_fraction_per_pair"] = fr
    res["open_fraction_any"] = f_any
    ns = res["ns_per_point"]
    ratios = {}
    for th in ("1t", "2t"):
        if f"numpy_{th}" in ns:
            ratios[f"speedup_vs_numpy_{th}"] = ns[f"numpy_{th}"] / ns[f"kernel_{th}"]
        ratios[f"kernel_over_mem_{th}"] = ns[f"kernel_{th}"] / ns[f"mem_{th}"]
    if "numpy_plain_1t" in ns:
        ratios["speedup_vs_plain_numpy_1t"] = ns["numpy_plain_1t"] / ns["kernel_1t"]
    ratios["kernel_over_floor_1t"] = ns["kernel_1t"] / ns["floor_1t"]
    ratios["numpy_over_floor_1t"] = ns["numpy_1t"] / ns["floor_1t"]
    ratios["kernel_f32_over_floor_1t"] = ns["kernel_f32_1t"] / ns["floor_1t"]
    ratios["thread_scaling"] = ns["kernel_1t"] / ns["kernel_2t"]
    res["ratios"] = ratios
    return res


def pairs_case(n, repeats, budget=2e6) -> dict:
    """Time I_ij, Delta_ij for all nine pairs (3, 3, n): kernel / NumPy / memory pass."""
    model = _model("nucleus")
    eps, masses = model.eps_eg_eV, model.masses_eV
    omega = _grid(eps, n, "linear")
    out_i, out_d = np.empty((3, 3, n)), np.empty((3, 3, n))
    ref_i, ref_d = np.empty((3, 3, n)), np.empty((3, 3, n))
    buf = np.empty((18, n))
    number = repeats_for(n, budget)
    # Two threads write into separate contiguous (3, 3, n/2) outputs, as a caller would
    # allocate them: a half of a (3, 3, n) array along n is not contiguous and compiles
    # to a slower (non-vectorised) specialisation.
    h = n // 2
    halves = [
        (omega[:h], np.empty((3, 3, h)), np.empty((3, 3, h))),
        (omega[h:], np.empty((3, 3, n - h)), np.empty((3, 3, n - h))),
    ]
    ref_halves = [(o, np.empty_like(a), np.empty_like(b)) for o, a, b in halves]
    buf_halves = [np.empty((18, h)), np.empty((18, n - h))]

    def on_two_threads(func, parts):
        futures = [pool().submit(func, *part) for part in parts]
        for f in futures:
            f.result()

    def kernel(o, a, b):
        all_pairs_grid(o, eps, masses, 1.0, a, b)

    def numpy_pairs(o, a, b):
        npref.all_pairs_chunked(o, eps, masses, 1.0, a, b)

    def mem(b):
        # in place over the (18, n) output: reads and writes every byte once, like the
        # kernel's write-allocate stores
        np.multiply(b, 1.0, out=b)

    kernel(omega, out_i, out_d)
    numpy_pairs(omega, ref_i, ref_d)
    res = {
        "case": "all_pairs",
        "grid": "linear",
        "n": n,
        "max_rel_diff_vs_numpy": max(_agreement(out_i, ref_i), _agreement(out_d, ref_d)),
        "nan_count": int(np.isnan(out_i).sum() + np.isnan(out_d).sum()),
    }
    funcs = {
        "kernel_1t": lambda: kernel(omega, out_i, out_d),
        "kernel_2t": lambda: on_two_threads(kernel, halves),
        "mem_1t": lambda: mem(buf),
        "mem_2t": lambda: on_two_threads(mem, [(b,) for b in buf_halves]),
        "numpy_1t": lambda: numpy_pairs(omega, ref_i, ref_d),
        "numpy_2t": lambda: on_two_threads(numpy_pairs, ref_halves),
    }
    counts = {k: (max(1, number // 20) if k.startswith("numpy") else number) for k in funcs}
    t = interleaved_times(funcs, repeats, counts)
    res["timings"] = t
    res["ns_per_point"] = {k: v["median_s"] / n * 1e9 for k, v in t.items()}
    res["points_per_s"] = {k: n / v["median_s"] for k, v in t.items()}
    ns = res["ns_per_point"]
    res["ratios"] = {
        "speedup_vs_numpy_1t": ns["numpy_1t"] / ns["kernel_1t"],
        "speedup_vs_numpy_2t": ns["numpy_2t"] / ns["kernel_2t"],
        "kernel_over_mem_1t": ns["kernel_1t"] / ns["mem_1t"],
        "kernel_over_mem_2t": ns["kernel_2t"] / ns["mem_2t"],
        "thread_scaling": ns["kernel_1t"] / ns["kernel_2t"],
    }
    return res


def run(mode="quick") -> dict:
    """All kernel measurements for ``mode`` in {"smoke", "quick", "full"}."""
    repeats = REPEATS[mode]
    budget = BUDGET[mode]
    costs = divider_costs(
        calls=20 if mode == "smoke" else 2000, repeats=3 if mode == "smoke" else 7
    )
    rows = []
    for case in CASES:
        for kind in ("all_open", "linear"):
            for n in SIZES[mode]:
                rows.append(rate_case(case, n, kind, repeats, costs, budget=budget))
        n_mid = SIZES[mode][min(1, len(SIZES[mode]) - 1)]
        rows.append(
            rate_case(case, n_mid, "shuffled", repeats, costs, numpy_threads=(1,), budget=budget)
        )
    for n in PAIR_SIZES[mode]:
        rows.append(pairs_case(n, repeats, budget=budget / 10))
    result = {
        "divider_costs": costs,
        "rows": rows,
        "parallel_control": parallel_control(reps=2 if mode == "smoke" else 200),
    }
    if mode != "smoke":  # a compile in a subprocess: seconds, too slow for the smoke test
        result["vector_census"] = vector_census()
    return result
