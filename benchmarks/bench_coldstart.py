"""Cold start: JIT compile with an empty cache, CLI start-up with a warm one, dask workers.

Every measurement runs in a fresh subprocess whose ``RENP_SCAN_CACHE_DIR`` (the kernels'
Numba cache) points at a temporary directory, so the user's cache plays no part:

1. ``first_call``: import renp_scan, then the first and second ``spectrum`` call
   (Cs, both channels), with an empty cache (compile) and again with the cache the
   first process wrote (load). The cold/warm ratio is the cost of compiling.
2. ``cli``: wall time of the whole ``renp-scan run scans/quick.toml`` process with a
   warm cache (goal <= 2 s), against the bare interpreter start + ``import renp_scan``.
3. ``dask``: a ``distributed.LocalCluster`` of 2 worker processes sharing one empty
   cache directory; both workers make their first call at the same moment. Reported:
   each worker's first-call time, the cache files written, and whether a third fresh
   process then loads every kernel from that cache without compiling (no torn files
   from the concurrent writes), and the workers' times after a restart (warm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT

_FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
import renp_scan
t1 = time.perf_counter()
omega = np.linspace(0.01, 1.3, 1000)
renp_scan.spectrum("Cs", omega, 0.01, channel="nucleus")
renp_scan.spectrum("Cs", omega, 0.01, channel="core")
t2 = time.perf_counter()
renp_scan.spectrum("Cs", omega, 0.02, channel="nucleus")
renp_scan.spectrum("Cs", omega, 0.02, channel="core")
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1, "second_call_s": t3 - t2}))
"""

_DASK = r"""
import json, os, sys, time
from distributed import Client, LocalCluster

def first_call(start_at):
    import time
    while time.time() < start_at:  # both workers start compiling at the same moment
        time.sleep(0.001)
    t0 = time.perf_counter()
    import numpy as np
    import renp_scan
    omega = np.linspace(0.01, 1.3, 1000)
    renp_scan.spectrum("Cs", omega, 0.01, channel="nucleus")
    renp_scan.spectrum("Cs", omega, 0.01, channel="core")
    t1 = time.perf_counter()
    renp_scan.spectrum("Cs", omega, 0.02, channel="core")
    return {"pid": os.getpid(), "first_call_s": t1 - t0, "second_call_s": time.perf_counter() - t1}

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    with cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        cold = client.run(first_call, time.time() + 1.0)
        client.restart()
        warm = client.run(first_call, time.time() + 1.0)
        # the real engine on the cluster (workers restarted: cache warm, nothing imported)
        import tempfile
        from renp_scan.sweep.engine import run_scan
        from renp_scan.sweep.scanfile import load_scan
        client.restart()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            report = run_scan(load_scan("scans/quick.toml"), tmp + "/quick.h5", scheduler=client,
                              progress=False, handle_signals=False)
            engine_s = time.perf_counter() - t0
    print(json.dumps({"cold": list(cold.values()), "warm": list(warm.values()),
                      "engine_quick_on_cluster_s": engine_s, "engine_entries": report.n_entries}))
"""


def _env(cache_dir: Path | None) -> dict:
    """The subprocess environment; ``cache_dir`` None keeps the default cache location."""
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("RENP_SCAN_CACHE_DIR", None)
    if cache_dir is not None:
        env["RENP_SCAN_CACHE_DIR"] = str(cache_dir)
    return env


def _run_json(code: str, cache_dir: Path, timeout=600) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(cache_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def _cache_listing(cache_dir: Path) -> dict:
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    return {
        "index_files": sum(p.suffix == ".nbi" for p in files),
        "data_files": sum(p.suffix == ".nbc" for p in files),
        "other_files": sorted(p.name for p in files if p.suffix not in (".nbi", ".nbc")),
        "bytes": sum(p.stat().st_size for p in files),
        "newest_mtime_ns": max((p.stat().st_mtime_ns for p in files), default=0),
    }


def first_call(repeats_warm=3) -> dict:
    with tempfile.TemporaryDirectory(prefix="renp-numba-cold-") as tmp:
        cache = Path(tmp)
        cold = _run_json(_FIRST_CALL, cache)
        listing = _cache_listing(cache)
        warm = [_run_json(_FIRST_CALL, cache) for _ in range(repeats_warm)]
    warm_first = sorted(w["first_call_s"] for w in warm)[len(warm) // 2]
    return {
        "cold": cold,
        "warm": warm,
        "cache_after_cold": listing,
        "compile_over_warm_first_call": cold["first_call_s"] / warm_first,
    }


def cli(scan="scans/quick.toml", repeats=3) -> dict:
    exe = Path(sys.executable).with_name("renp-scan")
    cmd_run = [str(exe)] if exe.exists() else [sys.executable, "-m", "renp_scan"]
    with tempfile.TemporaryDirectory(prefix="renp-numba-cli-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        out = Path(tmp) / "quick.h5"

        def once(argv):
            start = time.perf_counter()
            proc = subprocess.run(
                argv, env=_env(cache), cwd=ROOT, capture_output=True, text=True, timeout=600
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{argv} failed:\n{proc.stderr[-3000:]}")
            return time.perf_counter() - start

        run_argv = cmd_run + ["run", scan, "-o", str(out), "--quiet", "--overwrite"]
        cold = once(run_argv)  # fills the cache
        warm = sorted(once(run_argv) for _ in range(repeats))
        imp = sorted(once([sys.executable, "-c", "import renp_scan"]) for _ in range(repeats))
        bare = sorted(once([sys.executable, "-c", "pass"]) for _ in range(repeats))
    med = len(warm) // 2
    return {
        "scan": scan,
        "command": f"renp-scan run {scan} -o OUT.h5 --quiet --overwrite",
        "cold_cache_s": cold,
        "warm_cache_s": warm,
        "warm_median_s": warm[med],
        "python_start_s": bare[med],
        "import_renp_scan_s": imp[med],
        "goal_s": 2.0,
        "meets_goal": warm[med] <= 2.0,
    }


def dask_workers() -> dict:
    with tempfile.TemporaryDirectory(prefix="renp-numba-dask-") as tmp:
        cache = Path(tmp)
        res = _run_json(_DASK, cache, timeout=900)
        res["cache_after_workers"] = _cache_listing(cache)
        # a third process on the cache the two workers wrote concurrently
        res["fresh_process_after"] = _run_json(_FIRST_CALL, cache)
        res["cache_after_fresh_process"] = _cache_listing(cache)
    # a recompile would rewrite cache files: nothing newer than the workers' files
    res["fresh_process_compiled_nothing"] = (
        res["cache_after_fresh_process"]["newest_mtime_ns"]
        == res["cache_after_workers"]["newest_mtime_ns"]
    )
    return res


def run(mode="quick") -> dict:
    """All cold-start measurements; ``smoke`` only runs the first-call script once.

    (A compile with an empty cache takes several seconds, too long for the test suite.)
    """
    if mode == "smoke":
        return {"smoke_first_call_default_cache": _run_json(_FIRST_CALL, None)}
    return {
        "first_call": first_call(repeats_warm=3),
        "cli": cli(repeats=3 if mode == "quick" else 5),
        "dask": dask_workers(),
    }
