"""Plot the tracked same-run ratios over commits: ``python benchmarks/plot_history.py``.

Reads the airspeed velocity results in ``benchmarks/asv_results`` (written by
``python benchmarks/track.py``) and writes ``benchmarks/history.png``: one panel per
ratio, one line per channel / grid / size (kernel) or compression (sweep), one point per commit (ordered by commit
date, labelled by hash) and one marker per machine, since ratios from different
machines are not comparable. ``asv publish`` draws the same data interactively.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "asv_results"
PANELS = (
    ("track_kernel_over_floor", "kernel / fused floor (goal <= 1.25 all-open)", 1.25),
    ("track_numpy_over_kernel", "whole-array NumPy / kernel (goal >= 20)", 20.0),
    ("track_numpy_chunked_over_kernel", "NumPy in 65536-point pieces / kernel", None),
    ("track_float32_kernel_over_floor", "float32 kernel / float64 floor", 1.0),
    ("track_engine_over_raw_throughput",
     "sweep: engine / raw h5py write throughput (goal >= 0.9 zstd, lzf)", 0.9),
    ("track_engine_over_disk_time", "sweep: engine time / disk floor (os.write + fsync)", 1.0),
)
MARKERS = "osD^v<>p*"
STYLES = ("-", "--", ":", "-.")


def load(results_dir: Path = RESULTS) -> list:
    """[{"machine", "commit", "date", "values": {(ratio, "channel/grid/n"): value}}].

    Reads asv's result files (format version 2: per benchmark a row of
    ``result_columns``, the results of a parametrised benchmark listed in the order of
    the product of its parameter lists) without importing asv.
    """
    records = []
    for machine_dir in sorted(p for p in Path(results_dir).glob("*") if p.is_dir()):
        for path in sorted(machine_dir.glob("*.json")):
            if path.name == "machine.json":
                continue
            data = json.loads(path.read_text())
            if data.get("version") != 2:
                raise ValueError(f"{path}: asv results format {data.get('version')}, expected 2")
            cols = data["result_columns"]
            values = {}
            for key, row in data["results"].items():
                row = dict(zip(cols, row, strict=False))
                ratio = key.rsplit(".", 1)[-1]
                combos = list(itertools.product(*row["params"])) if row["params"] else [()]
                results = row["result"] if row["params"] else [row["result"]]
                for combo, v in zip(combos, results or [], strict=False):
                    if v is not None:
                        values[(ratio, "/".join(c.strip("'") for c in combo))] = v
            records.append({"machine": machine_dir.name, "commit": data["commit_hash"],
                            "date": data.get("date"), "values": values})
    return sorted(records, key=lambda r: (r["date"] or 0, r["machine"]))


def plot(records, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    commits = list(dict.fromkeys(r["commit"] for r in records))
    machines = list(dict.fromkeys(r["machine"] for r in records))
    series = sorted({s for r in records for (_, s) in r["values"]})
    # kernel series are "channel/grid/n", sweep series a compression name
    channels = sorted({s.split("/", 1)[0] for s in series})
    rests = sorted({s.split("/", 1)[-1] for s in series})
    fig, axes = plt.subplots(3, 2, figsize=(11, 12.5))
    for ax, (ratio, title, goal) in zip(axes.flat, PANELS, strict=True):
        labelled = set()
        for s in series:
            for m_i, mach in enumerate(machines):
                pts = [(commits.index(r["commit"]), r["values"][(ratio, s)]) for r in records
                       if r["machine"] == mach and (ratio, s) in r["values"]]
                if pts:
                    # colour by grid and size (or compression), line style by channel
                    channel, rest = s.split("/", 1)[0], s.split("/", 1)[-1]
                    ax.plot(*zip(*pts, strict=True), marker=MARKERS[m_i % len(MARKERS)],
                            color=f"C{rests.index(rest) % 10}",
                            ls=STYLES[channels.index(channel) % len(STYLES)], ms=4,
                            label=None if s in labelled else s)
                    labelled.add(s)
        if goal is not None:
            ax.axhline(goal, color="k", lw=0.8, ls=":")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(commits)), [c[:8] for c in commits], rotation=60, ha="right",
                      fontsize=7)
        ax.set_xlim(-0.5, len(commits) - 0.5)
        ax.grid(True, alpha=0.3)
    for ax in (axes.flat[0], axes.flat[4]):  # one legend for the kernel, one for the sweep
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="center right", ncol=2)
    fig.suptitle("same-run ratios over commits; machines: " + "; ".join(
        f"{MARKERS[i % len(MARKERS)]} {m}" for i, m in enumerate(machines)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent / "history.png")
    args = parser.parse_args(argv)
    records = load(args.results)
    if not records:
        print(f"no results in {args.results}: run python benchmarks/track.py first")
        return 1
    plot(records, args.output)
    print(f"wrote {args.output} ({len(records)} results)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
