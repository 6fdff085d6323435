"""Cluster runs on a real one-node SLURM (scripts/local_slurm.sh): dask-jobqueue recipe.

The recipe of docs/cluster.md is scripts/run_on_slurm.py (the docs show its code,
checked here); the tests run that script as a user would, against a local run of
the same scan.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cluster_support import local_reference
from conftest import fraction_grid, scan_text
from reliability_support import assert_same_cube, blocks_done
from slurm_support import (
    ROOT,
    SCRIPT,
    job_env,
    slurm,  # noqa: F401  (the fixture)
    squeue,
    wait_until,
)

#: Tests that submit jobs or touch the daemons.
slurm_only = pytest.mark.slurm
uses_slurm = pytest.mark.usefixtures("slurm")

RECIPE = ROOT / "scripts" / "run_on_slurm.py"
#: 4 spectrum lines x 5 blocks of 200 m0 rows (block_target_seconds 0.01 with the
#: reference cost: 249 rows, balanced to 200) = 20 cheap blocks.
SLURM_SCAN = scan_text("slurm-test", hierarchies=("NH", "IH"), natures=("majorana", "dirac"),
                       m0={"count": 1000, "start_eV": 0.0, "stop_eV": 0.2},
                       omega=fraction_grid(30, 0.0), engine={"block_target_seconds": 0.01})


@pytest.fixture(scope="module")
def scan_and_reference(tmp_path_factory):
    """The test scan file and its cube from a local (threaded) run."""
    return local_reference(tmp_path_factory.mktemp("slurm-ref"), SLURM_SCAN,
                           cube_name="local.h5")


@slurm_only
@uses_slurm
def test_local_slurm_script_is_idempotent_and_local():
    first = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    status = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True)
    assert status.returncode == 0, status.stdout
    pids = re.findall(r"running \(pid (\d+)\)", status.stdout)
    assert len(pids) == 3, status.stdout
    again = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    assert again.returncode == 0
    status2 = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True)
    assert re.findall(r"running \(pid (\d+)\)", status2.stdout) == pids  # nothing restarted
    # The daemons listen on the loopback address only.
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    ports = {int(line.split()[1].split(":")[1], 16): line.split()[1].split(":")[0]
             for line in listening if line.split()[3] == "0A"}  # 0A = LISTEN
    for port in (6817, 6818):
        assert ports.get(port) == "0100007F", f"port {port} bound to {ports.get(port)}"


def test_docs_show_the_recipe_script():
    docs = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    script = RECIPE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    shown = [b for b in blocks if "SLURMCluster(" in b]
    assert shown, "docs/cluster.md shows no SLURMCluster code"
    for block in shown:
        assert block in script, "docs/cluster.md shows code that is not scripts/run_on_slurm.py"


def test_worker_jobs_run_the_clients_python(tmp_path):
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (test extra)")
    sys.path.insert(0, str(RECIPE.parent))
    try:
        import run_on_slurm
    finally:
        sys.path.remove(str(RECIPE.parent))
    args = run_on_slurm.parse_args(["s.toml", "-o", "c.h5", "--interface", "lo"])
    cluster = run_on_slurm.make_cluster(args)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert f"{sys.executable} -m distributed.cli.dask_worker" in script


def recipe(scan, out, tmp_path, *extra, **env):
    return subprocess.Popen(
        [sys.executable, str(RECIPE), str(scan), "-o", str(out), "--jobs", "2", "--cores", "1",
         "--memory", "1GB", "--walltime", "00:10:00", "--interface", "lo",
         "--log-directory", str(tmp_path / "logs"), *extra],
        cwd=tmp_path, env=job_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


@slurm_only
@uses_slurm
@pytest.mark.parametrize("mode", ["single-writer", "write-on-workers"])
def test_jobqueue_cube_equals_local_and_survives_scancel(scan_and_reference, tmp_path, mode):
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (test extra)")
    scan, reference = scan_and_reference
    out = tmp_path / "cube.h5"
    extra = ["--write-on-workers"] if mode == "write-on-workers" else []
    proc = recipe(scan, out, tmp_path, *extra, RENP_SCAN_TEST_BLOCK_DELAY=0.3)

    def done():
        if extra:
            return sum(blocks_done(p) for p in tmp_path.glob("cube.h5.piece-*.partial"))
        return blocks_done(tmp_path / "cube.h5.partial")

    try:
        wait_until(lambda: done() >= 3, 120, "3 blocks written", proc)
        # Both worker jobs run: cancel one mid-run; its in-flight blocks are recomputed.
        jobs = wait_until(lambda: len(squeue("dask-worker")) == 2 and squeue("dask-worker"),
                          60, "two worker jobs", proc)
        assert done() < 20
        subprocess.run(["scancel", jobs[0]], check=True)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "wrote" in stdout
    assert_same_cube(out, reference)
    assert sorted(p.name for p in tmp_path.glob("cube.h5*")) == ["cube.h5"]
    # The worker jobs logged nothing about a missing module or interpreter.
    for log in (tmp_path / "logs").glob("*.err"):
        text = log.read_text(errors="replace")
        assert "ModuleNotFoundError" not in text and "No such file" not in text, text


def test_docs_show_the_array_script():
    docs = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    assert (ROOT / "scripts" / "shards.sbatch").read_text(encoding="utf-8") in docs


@slurm_only
@uses_slurm
def test_job_array_shards_merge_to_the_local_cube(scan_and_reference, tmp_path):
    scan, reference = scan_and_reference
    env = job_env()
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the activated venv
    proc = subprocess.run(
        ["sbatch", "--wait", "--array=1-3", "--cpus-per-task=1", "--time=00:10:00",
         f"--output={tmp_path}/shard-%a.out", str(ROOT / "scripts" / "shards.sbatch"),
         str(scan), str(tmp_path / "cube.h5")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("shard-*.out")))
    assert proc.returncode == 0, proc.stderr + logs
    assert sorted(p.name for p in tmp_path.glob("cube.h5*")) == ["cube.h5"], logs
    assert_same_cube(tmp_path / "cube.h5", reference)


def test_local_slurm_script_says_why_it_cannot_run(tmp_path):
    # As an unprivileged user the script refuses in one clear line (exit 1). A copy
    # in a world-readable folder, so that the user can read it wherever the repo is.
    if os.geteuid() == 0:
        folder = Path(tempfile.mkdtemp(dir="/tmp"))
        folder.chmod(0o755)
        script = folder / "local_slurm.sh"
        shutil.copy(SCRIPT, script)
        script.chmod(0o755)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               "bash", str(script), "start"]
    else:
        folder, cmd = None, ["bash", str(SCRIPT), "start"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    finally:
        if folder is not None:
            shutil.rmtree(folder)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "local_slurm: cannot run SLURM here: needs root (to install " \
                                  "packages and run the daemons)"
    usage = subprocess.run(["bash", str(SCRIPT), "restart"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
