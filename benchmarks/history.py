"""History of the same-run ratios, one JSON line per benchmark run, keyed by commit and machine.

``run_all.py`` appends a record to ``results/history.jsonl`` after every non-smoke run:
the commit, the machine (CPU model and LLVM target), the date and mode, and the ratios
that are meaningful across runs because both sides were timed in the same run (kernel /
fused floor, NumPy / kernel, float32 kernel / floor, engine / raw write). Absolute times
are not kept here: on a shared machine they say more about the load than about the code.
``plot_history.py`` draws them over commits.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import RESULTS

HISTORY = RESULTS / "history.jsonl"

#: Ratios kept per kernel row (keys of the row's "ratios").
KERNEL_RATIOS = ("kernel_over_floor_1t", "speedup_vs_numpy_1t", "kernel_f32_over_floor_1t")


def kernel_series(kernel_result: dict) -> dict:
    """{"<case>/<grid>/<n>": {ratio: value}} of one kernel benchmark result."""
    series = {}
    for row in kernel_result.get("rows", []):
        if row["case"] == "all_pairs":
            continue
        key = f"{row['case']}/{row['grid']}/{row['n']:.0e}".replace("+0", "")
        series[key] = {k: row["ratios"][k] for k in KERNEL_RATIOS if k in row["ratios"]}
    return series


def sweep_series(sweep_result: dict) -> dict:
    """{"<compression>": engine / raw-write throughput} of one sweep benchmark result."""
    out = {}
    for c in sweep_result.get("compression", []):
        if c.get("engine") is None:
            continue
        name = c["compression"] + (f" {c['level']}" if c["level"] is not None else "")
        out[name] = c["engine_over_raw_throughput"]
    return out


def record(payloads: dict) -> dict | None:
    """One history record from ``{benchmark: payload}`` of a run (None if nothing to keep)."""
    series = {}
    if "kernel" in payloads:
        series["kernel"] = kernel_series(payloads["kernel"]["result"])
    if "sweep" in payloads:
        series["sweep_engine_over_raw"] = sweep_series(payloads["sweep"]["result"])
    if not series:
        return None
    meta = next(iter(payloads.values()))["meta"]
    m = meta["machine"]
    return {
        "commit": m["git_commit"],
        "date_utc": meta["date_utc"],
        "mode": meta["mode"],
        "machine": {
            "cpu_model": m["cpu_model"],
            "llvm_host_cpu": m["llvm_host_cpu"],
            "usable_cpus": m["usable_cpus"],
        },
        "load_average_before": meta["load_average_before"],
        **series,
    }


def append(payloads: dict, path: Path = HISTORY) -> dict | None:
    """Append the record of a run to ``path`` (one JSON object per line) and return it."""
    rec = record(payloads)
    if rec is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    return rec


def load(path: Path = HISTORY) -> list:
    """All records of ``path``, oldest first."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
