"""Record the kernel's and the sweep's same-run ratios for the current commit with asv.

Usage (from the repository root, on a committed tree)::

    python benchmarks/track.py              # measure HEAD, publish the asv site, draw history.png
    python benchmarks/track.py --plot-only  # publish and draw from the stored results only
    asv preview                             # browse benchmarks/asv_html (asv.conf.json)

The benchmarks are ``benchmarks/tracking`` (asv ``track_*`` functions returning ratios of
times measured in the same run, see :mod:`benchmarks.tracking.kernel_ratios`); asv runs
them (:mod:`benchmarks.tracking.kernel_ratios`, :mod:`benchmarks.tracking.sweep_ratios`)
in this Python environment (``environment_type: "existing"``, nothing is built or
installed, no network) on this source tree, and stores one result file per commit and
machine under ``benchmarks/asv_results/<machine>/``. The machine is named after its CPU
model, LLVM target and usable cores (``asv machine`` is run with those values), so
ratios from different machines stay apart. ``benchmarks/plot_history.py`` draws the
stored ratios over commits into ``benchmarks/history.png`` for the README; ``asv
publish`` renders the same results as an interactive site in ``benchmarks/asv_html``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, machine  # noqa: E402


def machine_name(m: dict) -> str:
    """``<cpu model>-<llvm target>-<n>cpu`` in lower case, for asv's results folder."""
    cpu = re.sub(r"\((r|tm)\)", "", m["cpu_model"].lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")
    return f"{cpu}-{m['llvm_host_cpu']}-{m['usable_cpus']}cpu"


def _asv(*args, env=None) -> None:
    cmd = [sys.executable, "-m", "asv", *args]
    print("+", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def _dirty() -> str:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "renp_scan", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot-only", action="store_true",
                        help="no measurement: publish and plot the stored results")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="measure although renp_scan/ or benchmarks/ have uncommitted changes "
                             "(the results are still filed under HEAD)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("asv") is None:
        print("asv is not installed: python -m pip install -e '.[bench]'")
        return 2
    if not args.plot_only:
        dirty = _dirty()
        if dirty and not args.allow_dirty:
            print("uncommitted changes (results would be filed under HEAD):\n" + dirty
                  + "\ncommit first, or pass --allow-dirty")
            return 2
        m = machine()
        name = machine_name(m)
        _asv("machine", "--yes", "--machine", name, "--cpu", m["cpu_model"],
             "--num_cpu", str(m["usable_cpus"]), "--ram", f"{m['ram_GiB']} GiB",
             "--arch", m["llvm_triple"], "--os", m["platform"])
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        # asv drops PYTHONPATH; ASV_PYTHONPATH makes the benchmarks import this tree
        env = dict(os.environ, ASV_PYTHONPATH=str(ROOT))
        _asv("run", "--python=same", "--set-commit-hash", head, "--machine", name,
             "--show-stderr", env=env)
    _asv("publish")
    from benchmarks import plot_history

    return plot_history.main([])


if __name__ == "__main__":
    sys.exit(main())
