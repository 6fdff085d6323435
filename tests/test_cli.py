"""The ``renp-scan`` command line, run as a user runs it (the installed entry point).

Includes kill -9 mid-run followed by a resume that must equal an uninterrupted run bit
for bit, and a run on a dask.distributed LocalCluster (SIGINT / SIGTERM are in
test_reliability_faults.py).
Runs are slowed down with the test-only variable RENP_SCAN_TEST_BLOCK_DELAY.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import TWO_TARGET_SCAN, small_scan_text
from reliability_support import (
    EXE,
    blocks_done,
    cli,
    cli_reference,
    error_line,
    small_workdir,
    start,
    wait_for_blocks,
)

import renp_scan
from renp_scan.errors import InputError
from renp_scan.sweep.scanfile import parse_scan

pytestmark = pytest.mark.skipif(EXE is None, reason="renp-scan entry point not installed")
N_ENTRIES = parse_scan(small_scan_text()).n_entries()


def rate(path, target="Cs"):
    with h5py.File(path, "r") as f:
        return f[target]["rate"][...]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return small_workdir(tmp_path_factory, "cli")


@pytest.fixture(scope="module")
def reference_cube(workdir):
    """An uninterrupted run of small.toml (through the CLI)."""
    return cli_reference(workdir)


def test_run_then_info_and_open_cube(workdir, reference_cube):
    proc = cli("run", "small.toml", "-o", "run.h5", "--workers", "2", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote run.h5: {N_ENTRIES:,} entries, ")
    assert "block" in proc.stderr and "pts/s" in proc.stderr  # the tqdm bar
    assert not (workdir / "run.h5.partial").exists() and not (workdir / "run.h5.lock").exists()
    assert np.array_equal(rate(workdir / "run.h5"), rate(reference_cube))
    info = cli("info", "run.h5", cwd=workdir)
    assert info.returncode == 0, info.stderr
    assert "complete" in info.stdout.splitlines()[0]
    # (hierarchy, nature, channel, coulomb_model, phase, m0, omega)
    assert "rate (2, 2, 2, 1, 2, 3," in info.stdout and "NuFIT" in info.stdout
    assert "  coulomb_model: thomas-fermi\n" in info.stdout  # the default: the paper's TF
    with renp_scan.open_cube(workdir / "run.h5", "Cs") as ds:
        values = ds["rate"].values
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    again = cli("run", "small.toml", "-o", "run.h5", cwd=workdir)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert again.stdout.endswith("; nothing to do\n")
    other = workdir / "other.toml"
    other.write_text((workdir / "small.toml").read_text().replace('"small"', '"other"'))
    again = cli("run", "other.toml", "-o", "run.h5", cwd=workdir)
    error_line(again, "output")
    assert "--overwrite" in again.stderr
    over = cli("run", "small.toml", "-o", "run.h5", "--overwrite", "--quiet", cwd=workdir)
    assert over.returncode == 0, over.stderr


def test_python_dash_m_and_targets(workdir):
    proc = subprocess.run([sys.executable, "-m", "renp_scan", "targets"], cwd=workdir,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    keys = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "Cs" in keys and "Xe" in keys


def test_validate_computes_no_cube(workdir):
    before = sorted(p.name for p in workdir.iterdir())
    proc = cli("validate", "small.toml", "--workers", "2", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert f"total: {N_ENTRIES:,} entries" in proc.stdout and "estimated time" in proc.stdout
    assert sorted(p.name for p in workdir.iterdir()) == before


@pytest.mark.parametrize("args,field", [
    (["run", "missing.toml", "-o", "x.h5"], None),
    (["run", "bad.toml", "-o", "x.h5"], "scan.natures"),
    (["run", "small.toml", "-o", "nodir/x.h5"], "output"),
    (["run", "small.toml", "-o", "x.h5", "--workers", "0"], "workers"),
    (["run", "small.toml", "-o", "x.h5", "--workers", "two"], "arguments"),
    (["run", "small.toml"], "arguments"),
    (["frobnicate"], "arguments"),
    (["validate", "bad.toml"], "scan.natures"),
    (["info", "notes.txt"], "cube"),
    (["info", "foreign.h5"], "cube"),
    (["info", "missing.h5"], "cube"),
    (["plot", "foreign.h5", "-o", "p.png"], "cube"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, args, field):
    (tmp_path / "small.toml").write_text(small_scan_text())
    (tmp_path / "bad.toml").write_text(small_scan_text().replace('"dirac"]', '"diracc"]'))
    (tmp_path / "notes.txt").write_text("not a cube\n")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = cli(*args, cwd=tmp_path)
    error_line(proc, field)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_directory(tmp_path):
    (tmp_path / "small.toml").write_text(small_scan_text())
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    proc = cli("run", "small.toml", "-o", "ro/x.h5", cwd=tmp_path)
    error_line(proc, "output")
    assert list(ro.iterdir()) == []


def test_kill_9_then_resume_equals_uninterrupted(workdir, reference_cube):
    out, partial = workdir / "killed.h5", workdir / "killed.h5.partial"
    proc = start("run", "small.toml", "-o", out.name, "--workers", "1", "--quiet",
                 cwd=workdir, delay=0.25)
    wait_for_blocks(partial, 3, proc)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert partial.exists() and not out.exists()
    assert (workdir / "killed.h5.lock").exists()  # stale: its pid is dead
    done = blocks_done(partial)
    assert 3 <= done < 16
    info = cli("info", partial.name, cwd=workdir)
    assert info.returncode == 0, info.stderr
    assert f"PARTIAL: {done} of 16 blocks done" in info.stdout
    with pytest.raises(InputError, match="unfinished partial"):
        renp_scan.open_cube(partial, "Cs")
    resume = cli("run", "small.toml", "-o", out.name, cwd=workdir)
    assert resume.returncode == 0, resume.stderr
    assert f"({done} of 16 blocks from the resumed partial)" in resume.stdout
    assert not partial.exists() and not (workdir / "killed.h5.lock").exists()
    assert np.array_equal(rate(out), rate(reference_cube))


def test_partial_of_another_scan_is_refused(workdir):
    (workdir / "two.toml").write_text(TWO_TARGET_SCAN)
    proc = start("run", "small.toml", "-o", "mixed.h5", "--workers", "1", "--quiet",
                 cwd=workdir, delay=0.2)
    wait_for_blocks(workdir / "mixed.h5.partial", 1, proc)
    proc.kill()
    proc.communicate(timeout=30)
    refused = cli("run", "two.toml", "-o", "mixed.h5", cwd=workdir)
    error_line(refused, "output")
    assert "different scan" in refused.stderr and "--overwrite" in refused.stderr
    ok = cli("run", "two.toml", "-o", "mixed.h5", "--overwrite", "--quiet", cwd=workdir)
    assert ok.returncode == 0, ok.stderr
    with renp_scan.open_cube(workdir / "mixed.h5", "Xe") as ds:
        assert ds.sizes["m0"] == 2


def test_live_lock_refuses(workdir):
    import socket

    (workdir / "locked.h5.lock").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    proc = cli("run", "small.toml", "-o", "locked.h5", cwd=workdir)
    error_line(proc, "output")
    assert "being written" in proc.stderr
    assert not (workdir / "locked.h5.partial").exists()


def test_run_on_a_local_cluster(workdir, reference_cube):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        proc = cli("run", "small.toml", "-o", "cluster.h5", "--quiet",
                   "--scheduler", cluster.scheduler_address, cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(rate(workdir / "cluster.h5"), rate(reference_cube))


def test_two_coulomb_models_info_plot_and_version_1(tmp_path):
    text = TWO_TARGET_SCAN.replace('channels = ["nucleus"]',
                                   'channels = ["nucleus"]\ncoulomb_models = ["thomas-fermi", '
                                   '"valence"]')
    (tmp_path / "models.toml").write_text(text)
    proc = cli("run", "models.toml", "-o", "models.h5", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = cli("info", "models.h5", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "rate (1, 1, 1, 2, 1, 2, 20)" in info.stdout
    assert "  coulomb_model: thomas-fermi, valence\n" in info.stdout
    validate = cli("validate", "models.toml", cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert "coulomb_model=2, phase=1, m0=2, omega=20" in validate.stdout

    def plot(name, *extra):
        done = cli("plot", "models.h5", "-o", name, "--target", "Cs", "--title", "t", *extra,
                   cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        # The pixels: the PNG's text chunks also record the options given, which differ.
        from PIL import Image

        with Image.open(tmp_path / name) as image:
            return image.tobytes()

    # Same title and labels: only the drawn values (and so the y axis) tell them apart.
    default, tf = plot("d.png"), plot("tf.png", "--coulomb-model", "thomas-fermi")
    valence = plot("val.png", "--coulomb-model", "valence")
    assert default == tf and valence != tf
    bad = cli("plot", "models.h5", "-o", "bad.png", "--coulomb-model", "hartree", cwd=tmp_path)
    error_line(bad, "coulomb_model")

    # A cube of format version 1 (no coulomb_model dim): refused in one line.
    with h5py.File(tmp_path / "v1.h5", "w") as f:
        f.attrs.update(format="renp_scan.cube", format_version=np.int64(1),
                       complete=np.int8(1), targets=["Cs"])
        f.create_dataset("Cs/rate", data=np.ones((1, 1, 1, 1, 2, 3)))
    for command in (("info", "v1.h5"), ("plot", "v1.h5", "-o", "v1.png")):
        old = cli(*command, cwd=tmp_path)
        error_line(old, "cube")
        assert "format version 1; this renp_scan reads versions 2 and 3" in old.stderr
        assert "re-run the scan" in old.stderr


def test_plot(workdir, reference_cube):
    proc = cli("plot", reference_cube.name, "-o", "fig.png", "--hierarchy", "NH", "--m0", "0.1",
               "--omega-min", "0.6", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote fig.png: 2 lines"
    assert (workdir / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proc = cli("plot", reference_cube.name, "-o", "all.png", "--logy", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote all.png: 12 lines"  # 2 hierarchies x 2 natures x 3 m0
    bad = cli("plot", reference_cube.name, "-o", "bad.png", "--nature", "sterile", cwd=workdir)
    error_line(bad, "nature")
    assert not (workdir / "bad.png").exists()
    empty = cli("plot", reference_cube.name, "-o", "bad.png", "--omega-min", "0.7",
                "--omega-max", "0.71", cwd=workdir)
    error_line(empty, "omega")
