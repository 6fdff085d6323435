"""A one-node SLURM for the tests marked ``slurm`` (scripts/local_slurm.sh).

The fixture :func:`slurm` makes sure the local SLURM takes jobs, starting it with
``scripts/local_slurm.sh start`` when it is not running; the tests are skipped,
with the script's reason, only when it cannot be started (not root, no packages
and no way to install them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_slurm.sh"


def _takes_jobs() -> bool:
    if not shutil.which("sinfo"):
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                          timeout=30)
    return proc.returncode == 0 and any(s.startswith(("idle", "mix", "alloc"))
                                        for s in proc.stdout.split())


@pytest.fixture(scope="session")
def slurm():
    """Ensure the local SLURM takes jobs; skip (with the reason) only if it cannot start."""
    if not _takes_jobs():
        proc = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                              timeout=900)
        if proc.returncode != 0 or not _takes_jobs():
            reason = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            pytest.skip(f"SLURM cannot be started here: {reason[-1] if reason else '?'}")
    return True


def job_env(**extra) -> dict:
    """Environment of a client process: PATH holds only system folders.

    A worker job that ran ``python`` from PATH instead of the client's interpreter
    would then find no renp_scan and no dask: the tests see it.
    """
    env = dict(os.environ)
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def squeue(name: str | None = None) -> list[str]:
    """Job ids in the queue (of jobs named ``name``)."""
    cmd = ["squeue", "-h", "-o", "%i"] + (["-n", name] if name else [])
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()


def wait_until(predicate, limit: float, what: str, proc=None):
    """Poll ``predicate`` until true; fail naming ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended before {what}: {proc.returncode}\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}"
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
