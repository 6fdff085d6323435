"""Shared helpers of the benchmarks: timing, two-thread split, machine description, JSON.

Every benchmark reports medians of repeated timings and every speed figure as a ratio
against a baseline timed in the same process, a few seconds apart: the machine is a
shared 2-core VM and absolute numbers drift with its load (recorded as the load
average at the start and end of each run).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

_POOL = None


def pool() -> ThreadPoolExecutor:
    """A two-thread pool, created once (thread start-up is not part of any timing)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(2, thread_name_prefix="bench")
    return _POOL


def split2(func, *arrays):
    """Run ``func(*halves)`` on the first and second half of every array on two threads.

    Arguments that are not arrays are passed to both calls unchanged.
    The last axis is split, so (3, 3, n) outputs split along n. Works for nogil kernels
    (both halves run at once) and for NumPy ufuncs (they release the GIL too).
    """
    n = arrays[0].shape[-1]
    h = n // 2

    def half(sl):
        return [a[..., sl] if isinstance(a, np.ndarray) else a for a in arrays]

    futures = [
        pool().submit(func, *half(slice(None, h))),
        pool().submit(func, *half(slice(h, None))),
    ]
    for f in futures:
        f.result()


def median_time(func, repeats=5, number=1, warmup=1) -> dict:
    """Median (and min, max) wall time of ``func()`` in seconds over ``repeats`` runs.

    Each run calls ``func`` ``number`` times and reports the time per call. ``warmup``
    untimed calls come first (JIT compile or cache load, page faults of fresh outputs).
    """
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - start) / number)
    return {
        "median_s": float(np.median(times)),
        "min_s": float(min(times)),
        "max_s": float(max(times)),
        "repeats": repeats,
        "number": number,
    }


def interleaved_times(funcs: dict, repeats=5, number=1, warmup=1, clock=time.perf_counter) -> dict:
    """Like :func:`median_time` for several functions, timed round-robin.

    Each repeat times every function once in turn, so a load spike from other users
    of the machine hits the kernel and its baselines alike and their ratio survives.
    ``number`` may be an int or a dict giving each function its own call count.
    ``clock=time.thread_time`` times single-threaded functions by the CPU time of the
    calling thread: time slices taken by other processes on a shared machine do not count.
    """
    counts = number if isinstance(number, dict) else dict.fromkeys(funcs, number)
    for func in funcs.values():
        for _ in range(warmup):
            func()
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = clock()
            for _ in range(counts[name]):
                func()
            times[name].append((clock() - start) / counts[name])
    return {
        name: {
            "median_s": float(np.median(t)),
            "min_s": float(min(t)),
            "max_s": float(max(t)),
            "repeats": repeats,
            "number": counts[name],
        }
        for name, t in times.items()
    }


def repeats_for(n_points: int, budget_points: float = 2e7) -> int:
    """Calls per timing run so that one run covers about ``budget_points`` points."""
    return max(1, int(budget_points // max(1, n_points)))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def _numba_cpu_name() -> str:
    """CPU Numba compiles for: ``NUMBA_CPU_NAME`` if set, else the host (LLVM's name)."""
    import numba

    return numba.config.CPU_NAME or "host"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    for attr in ("__version__", "version"):
        v = getattr(mod, attr, None)
        if isinstance(v, str):
            return v
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        return "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "renp_scan"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty(renp_scan)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict:
    """Machine and software description stored with every result file."""
    import h5py
    import llvmlite.binding as llvm
    import psutil

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "llvm_host_cpu": llvm.get_host_cpu_name(),
        "llvm_triple": llvm.get_process_triple(),
        "numba_cpu_name": _numba_cpu_name(),
        "cpu_flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "ram_GiB": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": _version("numba"),
        "llvmlite": _version("llvmlite"),
        "scipy": _version("scipy"),
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
        "hdf5plugin": _version("hdf5plugin"),
        "dask": _version("dask"),
        "distributed": _version("distributed"),
        "git_commit": git_commit(),
    }


def load_average() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_pressure() -> str:
    """Linux PSI line "some avg10=.. avg60=.. avg300=..": % of time runnable tasks waited."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return ""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def write_json(name: str, payload: dict, directory: Path | None = None) -> Path:
    """Write ``payload`` to ``results/<name>.json`` (or ``directory``) and return the path."""
    directory = RESULTS if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, sort_keys=False, default=_jsonable) + "\n")
    return path


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")
