"""Workers writing in place (--write-on-workers) and a client restarted after kill -9.

The reference is a run of the same scan on the embedded threaded scheduler
(checked against direct renp_scan.spectrum calls in test_engine.py).
"""

from __future__ import annotations

import signal
import time

import pytest
from cluster_support import dask_processes, local_reference, process_env
from conftest import small_scan_text
from reliability_support import assert_same_cube, blocks_done, cli, error_line, listing, start

from renp_scan.sweep.pieces import run_writing_on_workers
from renp_scan.sweep.scanfile import parse_scan

distributed = pytest.importorskip("distributed")

#: 16 spectrum lines x 1 block each (3 m0 x 30 omega).
SCAN = small_scan_text(extra="[engine]\nblock_target_seconds = 0.01\n")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return local_reference(tmp_path_factory.mktemp("ref"), SCAN)


def test_workers_write_pieces_and_client_gets_receipts(tmp_path, reference):
    scan, ref = reference
    spec = parse_scan(SCAN, path=scan)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        report, executor = run_writing_on_workers(spec, tmp_path / "cube.h5", scheduler=client,
                                                  progress=False)
    assert report.blocks_computed == report.blocks_total == 16
    assert_same_cube(tmp_path / "cube.h5", ref)
    assert listing(tmp_path) == ["cube.h5"]  # pieces removed, no lock or partial left
    # Receipts only: well under 200 bytes per block reached the client (a block of
    # 3 x 30 float64 is 720 bytes before compression).
    assert 0 < executor.result_bytes < 200 * 16
    assert executor.notes == []


def test_write_on_workers_needs_a_scheduler(tmp_path, reference):
    scan, _ = reference
    line = error_line(cli("run", scan, "-o", "c.h5", "--write-on-workers", cwd=tmp_path),
                      "write_on_workers")
    assert "needs --scheduler" in line
    line = error_line(cli("run", scan, "-o", "c.h5", "--write-on-workers", "--scheduler",
                          "tcp://127.0.0.1:1", "--shard", "1/2", cwd=tmp_path),
                      "write_on_workers")
    assert "--shard" in line
    assert listing(tmp_path) == []


def pieces_done(folder) -> int:
    return sum(blocks_done(p) for p in folder.glob("cube.h5.piece-*.partial"))


@pytest.fixture
def dask_cluster(tmp_path):
    """A dask scheduler and two single-thread worker processes (blocks sleep 0.4 s)."""
    with dask_processes(tmp_path, process_env(RENP_SCAN_TEST_BLOCK_DELAY=0.4),
                        n_workers=2) as address:
        yield address


def test_client_killed_restarts_and_keeps_the_workers_blocks(tmp_path, reference, dask_cluster):
    scan, ref = reference
    work = tmp_path / "out"
    work.mkdir()
    cmd = ("run", scan, "-o", "cube.h5", "--scheduler", dask_cluster, "--write-on-workers",
           "--quiet")
    proc = start(*cmd, cwd=work)
    deadline = time.monotonic() + 120
    while pieces_done(work) < 4:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no blocks written by the workers"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # like a wall-time kill: no cleanup at all
    proc.communicate(timeout=30)
    kept = pieces_done(work)
    assert 4 <= kept < 16
    again = cli(*cmd[:-1], cwd=work, timeout=300)
    assert again.returncode == 0, again.stderr
    # At least the blocks the pieces held at the kill were taken, not computed again.
    found = int(again.stdout.split("(")[1].split(" of 16 blocks from earlier runs")[0])
    assert found >= kept
    assert listing(work) == ["cube.h5"]
    assert_same_cube(work / "cube.h5", ref)
