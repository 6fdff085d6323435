"""Run every benchmark, write ``results/*.json``, the README table and the throughput plot.

Usage (from the repository root)::

    python benchmarks/run_all.py --quick          # ~5 min: sizes up to 1e7, scans up to 1e8
    python benchmarks/run_all.py --full           # ~20 min: up to 1e8 points, 1e9-entry cube
    python benchmarks/run_all.py --full --only kernel,tf
    python benchmarks/run_all.py --report-only    # re-render README/plot from results/*.json

Each benchmark's JSON holds the machine description, UTC date, command and mode next to
its numbers; the README's generated section is rendered only from those files, and the
kernel's headline ratios are printed. The history of the ratios over commits is kept by
airspeed velocity: ``python benchmarks/track.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_coldstart, bench_kernel, bench_sweep, bench_tf  # noqa: E402
from benchmarks.common import (
    RESULTS,
    cpu_pressure,
    load_average,
    machine,
    utc_now,
    write_json,
)  # noqa: E402
from benchmarks.report import ratio_summary, render_readme, throughput_plot  # noqa: E402

BENCHMARKS = {
    "tf": bench_tf,
    "kernel": bench_kernel,
    "sweep": bench_sweep,
    "coldstart": bench_coldstart,
}


def run(names, mode, results_dir=RESULTS, command="") -> dict:
    """Run the named benchmarks in ``mode``; returns {name: payload} (also written as JSON)."""
    out = {}
    for name in names:
        meta = {
            "benchmark": name,
            "mode": mode,
            "date_utc": utc_now(),
            "command": command,
            "machine": machine(),
            "load_average_before": load_average(),
            "cpu_pressure_before": cpu_pressure(),
        }
        start = time.perf_counter()
        result = BENCHMARKS[name].run(mode)
        meta["wall_s"] = time.perf_counter() - start
        meta["load_average_after"] = load_average()
        meta["cpu_pressure_after"] = cpu_pressure()
        payload = {"meta": meta, "result": result}
        write_json(name, payload, results_dir)
        out[name] = payload
        print(f"{name}: {meta['wall_s']:.1f} s", flush=True)
    return out


def load_results(results_dir=RESULTS) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(results_dir).glob("*.json"))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grp = parser.add_mutually_exclusive_group()
    grp.add_argument("--quick", action="store_true", help="smaller sizes (default)")
    grp.add_argument("--full", action="store_true", help="all sizes, up to 1e9-entry cubes")
    grp.add_argument(
        "--report-only",
        action="store_true",
        help="only re-render README and plot from results/*.json",
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if not args.report_only:
        mode = "full" if args.full else "quick"
        command = "python benchmarks/run_all.py " + " ".join(sys.argv[1:] if argv is None else argv)
        out = run(names, mode, command=command.strip())
        if "kernel" in out:
            print("\n".join(ratio_summary(out["kernel"])))
    results = load_results()
    readme = Path(__file__).resolve().parent / "README.md"
    render_readme(results, readme)
    if "kernel" in results:
        throughput_plot(results["kernel"], Path(__file__).resolve().parent / "throughput.png")
    print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
