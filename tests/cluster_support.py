"""Real dask processes and reference cubes for the cluster tests.

* :func:`local_reference` writes a scan file and its cube from an uninterrupted
  threaded run: the reference every cluster run is compared with bit for bit;
* :func:`process_env` is the environment of those processes: this checkout first on
  ``PYTHONPATH``, no test variable unless asked for;
* :func:`start_scheduler` / :func:`start_workers` start ``dask scheduler`` and
  ``dask worker`` processes of this interpreter on the loopback address, so that a
  test can kill them like a node failure would; :func:`wait_for_workers` waits
  until they joined, :func:`stop` ends them;
* :func:`dask_processes` is the context manager for the common case: one
  scheduler and its workers, stopped on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import load_scan

#: Seconds a scheduler or a worker may take to start on a loaded machine.
START_LIMIT_S = 120.0
ROOT = Path(__file__).resolve().parents[1]


def local_reference(folder, text: str, scan_name: str = "scan.toml",
                    cube_name: str = "ref.h5") -> tuple[Path, Path]:
    """Write ``text`` to ``folder/scan_name`` and compute its cube on one thread.

    Returns ``(scan file, cube)``; the cube is ``folder/cube_name``.
    """
    scan = Path(folder) / scan_name
    scan.write_text(text, encoding="utf-8")
    cube = Path(folder) / cube_name
    run_scan(load_scan(scan), cube, workers=1, progress=False, handle_signals=False)
    return scan, cube


def process_env(**extra) -> dict:
    """Environment of a dask process or client started by a test.

    The repository root goes first on ``PYTHONPATH``: workers unpickle tasks of the
    renp_scan under test, never of another installation. The test-only variables
    (``RENP_SCAN_TEST_*``) are dropped, then ``extra`` is added (values as strings).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENP_SCAN_TEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_scheduler(workdir, env) -> tuple[subprocess.Popen, str]:
    """``dask scheduler`` on 127.0.0.1 (a free port); return (process, address).

    The address is read from the scheduler file it writes in ``workdir``.
    """
    sched_file = Path(workdir) / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                             "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                             "--scheduler-file", str(sched_file)],
                            cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dask scheduler exited with {proc.returncode}")
        try:
            return proc, json.loads(sched_file.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError(f"dask scheduler did not start within {START_LIMIT_S:g} s")


def start_workers(address: str, workdir, env, n: int = 1,
                  nanny: bool = True) -> subprocess.Popen:
    """One ``dask worker`` command running ``n`` single-thread workers on 127.0.0.1.

    With ``nanny=False`` a killed worker stays dead (no restart).
    """
    cmd = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", str(n),
           "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", "--death-timeout", "60"]
    if not nanny:
        cmd.append("--no-nanny")
    return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for_workers(address: str, n: int, timeout_s: float = START_LIMIT_S) -> None:
    """Wait until ``n`` workers are connected to the scheduler at ``address``."""
    from distributed import Client  # optional dependency: imported where it is needed

    with Client(address, timeout="60s", set_as_default=False) as client:
        client.wait_for_workers(n, timeout=timeout_s)


def stop(procs, timeout_s: float = 30.0) -> None:
    """End the processes still running (last started first): SIGTERM, then SIGKILL."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout_s)


@contextlib.contextmanager
def dask_processes(workdir, env, n_workers: int = 1, nanny: bool = True):
    """A scheduler and ``n_workers`` connected single-thread workers; yields the address."""
    procs = []
    try:
        scheduler, address = start_scheduler(workdir, env)
        procs.append(scheduler)
        procs.append(start_workers(address, workdir, env, n_workers, nanny))
        wait_for_workers(address, n_workers)
        yield address
    finally:
        stop(procs)
