"""Plot the same-run benchmark ratios over commits: ``python benchmarks/plot_history.py``.

Reads ``benchmarks/results/history.jsonl`` (appended by ``run_all.py``) and writes
``benchmarks/history.png``: kernel / fused floor and NumPy / kernel per case and grid
size, one point per run, x = runs in order labelled by commit; one marker per machine
(CPU model, LLVM target), since ratios from different machines are not comparable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.history import HISTORY, load  # noqa: E402

PANELS = (
    ("kernel_over_floor_1t", "kernel / fused floor (goal <= 1.25)", 1.25),
    ("speedup_vs_numpy_1t", "NumPy time / kernel time (goal >= 20)", 20.0),
    ("kernel_f32_over_floor_1t", "float32 kernel / float64 floor", 1.0),
)
MARKERS = "osD^v<>p*"


def plot(records, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    machines = list(dict.fromkeys(
        f"{r['machine']['cpu_model']} ({r['machine']['llvm_host_cpu']})" for r in records))
    series = sorted({key for r in records for key in r.get("kernel", {})})
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5.2 * len(PANELS), 4.2), squeeze=False)
    labels = [f"{i}: {r['commit'][:12]}" for i, r in enumerate(records)]
    for ax, (ratio, title, goal) in zip(axes[0], PANELS, strict=True):
        for s_i, key in enumerate(series):
            for m_i, machine in enumerate(machines):
                pts = [
                    (i, r["kernel"][key][ratio])
                    for i, r in enumerate(records)
                    if key in r.get("kernel", {}) and ratio in r["kernel"][key]
                    and f"{r['machine']['cpu_model']} ({r['machine']['llvm_host_cpu']})" == machine
                ]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker=MARKERS[m_i % len(MARKERS)],
                            color=f"C{s_i % 10}", ls="-", ms=4,
                            label=key if m_i == 0 else None)
        ax.axhline(goal, color="k", lw=0.8, ls=":")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(records)), labels, rotation=60, ha="right", fontsize=6)
        ax.grid(True, alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="best")
    fig.suptitle("same-run ratios over commits; machines: " + "; ".join(
        f"{MARKERS[i % len(MARKERS)]} {m}" for i, m in enumerate(machines)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent / "history.png")
    args = parser.parse_args(argv)
    records = load(args.history)
    if not records:
        print(f"no records in {args.history}: run python benchmarks/run_all.py --quick first")
        return 1
    plot(records, args.output)
    print(f"wrote {args.output} ({len(records)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
