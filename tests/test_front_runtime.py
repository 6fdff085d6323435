"""A new user's first runs: reading a cube already open in the process, rerunning a
finished scan, losing every dask worker, and non-interactive progress and estimates."""

from __future__ import annotations

import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from cluster_support import (
    local_reference,
    process_env,
    start_scheduler,
    start_workers,
    stop,
    wait_for_workers,
)
from conftest import small_scan_text
from reliability_support import assert_same_cube, blocks_done, wait_for_blocks


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    """A finished cube of the small test scan (computed once for this module)."""
    _, out = local_reference(tmp_path_factory.mktemp("cube"), small_scan_text(), "small.toml",
                             "small.h5")
    with h5py.File(out, "r") as f:
        _STORED[str(out)] = f["Cs/rate"][...]
    return out


#: The rate of each module cube, read right after it was written (nothing else open).
_STORED = {}


# ------------------------------------------------------------------ file already open


def _opened_by(how: str, path):
    """Open ``path`` the way a user's earlier notebook cell would; return the handle."""
    import xarray as xr

    import renp_scan

    if how == "xarray":
        return xr.open_dataset(path, engine="h5netcdf", group="Cs")
    if how == "open_cube":
        return renp_scan.open_cube(path, atom="Cs")
    if how == "h5py-default":
        return h5py.File(path, "r")
    return h5py.File(path, "r", locking={"h5py-unlocked": False, "h5py-locked": True}[how])


def _every_reader(path, tmp_path, capsys):
    """open_cube twice, RateTable.from_cube, ``info`` and ``plot`` in process; the handles."""
    import renp_scan
    from renp_scan.analysis.table import RateTable
    from renp_scan.cli.main import main

    handles = [renp_scan.open_cube(path, atom="Cs"), renp_scan.open_cube(path, "Cs")]
    reference = _STORED[str(path)]
    for ds in handles:
        np.testing.assert_array_equal(ds.rate.values, reference)
    table = RateTable.from_cube(path, channel="nucleus")
    assert table.rate_Hz.shape == (2, 2, 3, reference.shape[-1])
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    assert "complete" in capsys.readouterr().out.splitlines()[0]
    pytest.importorskip("matplotlib")
    png = tmp_path / f"plot{len(list(tmp_path.glob('plot*.png')))}.png"
    assert main(["plot", str(path), "-o", str(png)]) == 0
    assert png.stat().st_size > 0
    return handles


def test_readme_loading_sequence_in_one_process(small_cube, tmp_path, capsys):
    """README's loading snippet (xarray, then open_cube), then open_cube again, h5py,
    RateTable.from_cube, ``info`` and ``plot``: all in one process, all open at once."""
    import xarray as xr

    import renp_scan

    path = str(small_cube)
    handles = [xr.open_dataset(path, engine="h5netcdf", group="Cs"),
               renp_scan.open_cube(path, atom="Cs")]
    try:
        ds = handles[-1]
        line = ds.rate.sel(hierarchy="NH", nature="majorana", channel="nucleus",
                           coulomb_model="thomas-fermi").squeeze()
        assert line.dims == ("phase", "m0", "omega")
        handles += _every_reader(path, tmp_path, capsys)
        handles.append(h5py.File(path, "r"))
        handles += _every_reader(path, tmp_path, capsys)
        np.testing.assert_array_equal(handles[0].rate.values, handles[1].rate.values)
    finally:
        for h in handles:
            h.close()


@pytest.mark.parametrize("how", ["xarray", "open_cube", "h5py-default", "h5py-unlocked",
                                 "h5py-locked"])
def test_readers_work_whatever_opened_the_file_first(small_cube, tmp_path, capsys, how):
    """HDF5 refuses a second open with other locking flags; the readers adapt to the first."""
    first = _opened_by(how, small_cube)
    handles = []
    try:
        # The same kind of open again must also still work after ours (a cell run twice).
        handles = _every_reader(small_cube, tmp_path, capsys)
        handles.append(_opened_by(how, small_cube))
        handles += _every_reader(small_cube, tmp_path, capsys)
    finally:
        for h in handles + [first]:
            h.close()


def test_locking_mismatch_is_real(small_cube):
    """HDF5 itself refuses mixed locking flags (what the readers above work around)."""
    with h5py.File(small_cube, "r"), pytest.raises(OSError, match="don't match"):
        h5py.File(small_cube, "r", locking=False)


# ------------------------------------------------------------------ rerun of a finished cube


def _run_cli(capsys, *args):
    from renp_scan.cli.main import main

    capsys.readouterr()
    status = main(["run", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_rerun_of_finished_cube_is_nothing_to_do(tmp_path, capsys):
    """Same scan: exit 0, one line, the file untouched; another scan: exit 2 until --overwrite."""
    from renp_scan.cube.reader import describe_cube

    scan = tmp_path / "small.toml"
    scan.write_text(small_scan_text(), encoding="utf-8")
    out = tmp_path / "c.h5"
    assert _run_cli(capsys, scan, "-o", out, "--quiet", "--workers", "1") == (0, "", "")
    before, mtime = out.read_bytes(), out.stat().st_mtime_ns
    # The same scan file reached by another path (a requeued job from another directory).
    moved = tmp_path / "sub"
    moved.mkdir()
    (moved / "again.toml").write_text(scan.read_text(), encoding="utf-8")
    for spec in (scan, moved / "again.toml"):
        status, stdout, stderr = _run_cli(capsys, spec, "-o", out, "--workers", "1")
        assert (status, stderr) == (0, "")
        sha = describe_cube(out)["attrs"]["scan_sha256"]
        assert stdout == f"renp-scan: {out} is complete (scan 'small', sha256 {sha[:12]}...); " \
            "nothing to do\n"
    assert _run_cli(capsys, scan, "-o", out, "--quiet") == (0, "", "")
    assert out.read_bytes() == before and out.stat().st_mtime_ns == mtime

    other = tmp_path / "other.toml"
    other.write_text(small_scan_text().replace("count = 30", "count = 31"), encoding="utf-8")
    status, stdout, stderr = _run_cli(capsys, other, "-o", out)
    assert status == 2 and stdout == ""
    assert stderr.startswith(f"renp-scan: error: output: {out} is a finished cube of another "
                             "scan ('small', sha256 ") and stderr.count("\n") == 1
    assert "pass --overwrite to replace it" in stderr
    assert out.read_bytes() == before
    assert _run_cli(capsys, other, "-o", out, "--overwrite", "--quiet")[0] == 0
    assert describe_cube(out)["attrs"]["scan_sha256"] != sha


def test_rerun_with_other_physics_data_is_refused(tmp_path, capsys):
    """Same scan text, changed oscillation data: not this scan's result (as for a resume)."""
    from importlib.resources import files

    osc = tmp_path / "osc.toml"
    text = files("renp_scan.data").joinpath("oscillations.toml").read_text(encoding="utf-8")
    osc.write_text(text, encoding="utf-8")
    scan = tmp_path / "small.toml"
    scan.write_text(small_scan_text(extra='[physics]\noscillation_file = "osc.toml"\n'),
                    encoding="utf-8")
    out = tmp_path / "c.h5"
    assert _run_cli(capsys, scan, "-o", out, "--quiet", "--workers", "1")[0] == 0
    assert _run_cli(capsys, scan, "-o", out)[1].endswith("nothing to do\n")
    osc.write_text(text.replace("dm21_sq_eV2 = 7.49e-5", "dm21_sq_eV2 = 9.49e-5"), encoding="utf-8")
    status, stdout, stderr = _run_cli(capsys, scan, "-o", out)
    assert status == 2, stderr
    assert "is a finished cube of this scan file computed from other inputs" in stderr
    assert "--overwrite" in stderr and stderr.count("\n") == 1
    assert _run_cli(capsys, scan, "-o", out, "--overwrite", "--quiet", "--workers", "1")[0] == 0
    # The recomputed cube uses the edited data (not a copy cached from the first run).
    from renp_scan import spectrum
    from renp_scan.model.oscillations import load_oscillation_data
    from renp_scan.sweep.scanfile import load_scan

    spec = load_scan(scan)
    direct = spectrum("Cs", spec.omega_eV["Cs"], float(spec.m0_eV[1]), hierarchy="NH",
                      majorana=True, channel="nucleus", density_cm3=spec.physics.density_cm3,
                      volume_cm3=spec.physics.volume_cm3, eta=spec.physics.eta,
                      majorana_phases_rad=(0.0, 0.0),
                      oscillation_data=load_oscillation_data(str(osc)))
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["Cs/rate"][0, 0, 0, 0, 0, 1], direct)


# ------------------------------------------------------------------ no dask worker left


class _FakeClient:
    """Stands in for a distributed.Client with a fixed worker list (no cluster)."""

    class scheduler:  # noqa: N801  (mirrors Client.scheduler.address)
        address = "tcp://127.0.0.1:1"

    def __init__(self, workers):
        self.workers = workers

    def nthreads(self):
        return dict(self.workers)


class _Recorder:
    def __init__(self):
        self.calls = []

    def waiting(self, seconds, limit_s=None):
        self.calls.append((seconds, limit_s))


def test_worker_watch_waits_then_stops(monkeypatch):
    from renp_scan.sweep import executors

    monkeypatch.setattr(executors, "WORKER_CHECK_S", 0.0)
    bar = _Recorder()
    busy = executors.WorkerWatch(_FakeClient({"w": 1}), 0.05, bar)
    for _ in range(3):
        busy.idle()  # busy workers are not absent: never stops, never "waiting"
    assert bar.calls == []
    client = _FakeClient({})
    watch = executors.WorkerWatch(client, 0.2, bar)
    watch.idle()
    assert bar.calls[-1] == (0.0, 0.2)
    client.workers = {"w": 1}  # a worker is back: the wait resets
    watch.idle()
    assert bar.calls[-1] == (None, None)
    client.workers = {}
    watch.idle()
    with pytest.raises(executors.NoWorkersError, match=r"no dask worker connected to "
                       r"'tcp://127.0.0.1:1' for 0 s \(--worker-timeout 0.2\)"):
        import time

        time.sleep(0.25)
        watch.idle()


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "300", True])
def test_worker_timeout_must_be_positive_seconds(bad, tmp_path):
    from renp_scan.errors import InputError
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.scanfile import parse_scan

    with pytest.raises(InputError, match="must be a number of seconds > 0") as err:
        run_scan(parse_scan(small_scan_text()), tmp_path / "c.h5", worker_timeout_s=bad)
    assert err.value.field == "worker_timeout"
    assert not list(tmp_path.iterdir())


def test_worker_timeout_default_is_documented():
    from renp_scan.cli.main import build_parser
    from renp_scan.sweep.executors import WORKER_TIMEOUT_S

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    assert f"(default {WORKER_TIMEOUT_S:g};" in " ".join(run.format_help().split())


def test_run_stops_when_no_worker_is_left_then_resumes(tmp_path):
    """Real processes: the only worker is killed mid-run; the run waits --worker-timeout,
    stops with one line and exit 1, keeps the partial; a fresh worker finishes it to the
    bit-identical cube of a local run."""
    pytest.importorskip("distributed")
    scan, reference = local_reference(tmp_path, small_scan_text(), "small.toml", "local.h5")
    env = process_env(RENP_SCAN_TEST_BLOCK_DELAY=0.4)  # every block takes >= 0.4 s on the worker
    out = tmp_path / "dist.h5"
    partial = out.with_name(out.name + ".partial")
    run = [sys.executable, "-m", "renp_scan", "run", str(scan), "-o", str(out)]
    procs = []
    try:
        scheduler, address = start_scheduler(tmp_path, env)
        procs.append(scheduler)
        worker = start_workers(address, tmp_path, env, nanny=False)  # a kill is final
        procs.append(worker)
        wait_for_workers(address, 1)
        client = subprocess.Popen([*run, "--scheduler", address, "--worker-timeout", "4"],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        procs.append(client)
        wait_for_blocks(partial, 3, client, limit=180)
        worker.kill()
        worker.wait(timeout=30)
        stdout, stderr = client.communicate(timeout=180)
        assert client.returncode == 1, stderr
        lines = stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("renp-scan: error:")]
        assert errors == [lines[-1]], stderr  # one error line, the last one
        done = blocks_done(partial)
        assert 3 <= done < 16
        assert re.fullmatch(
            rf"renp-scan: error: scheduler: no dask worker connected to '{address}' for "
            rf"\d+ s \(--worker-timeout 4\); {done} of 16 blocks are kept in "
            rf"{re.escape(str(partial))}: start workers \(or run without --scheduler\) and "
            r"rerun the same command to resume", lines[-1]), lines[-1]
        # stderr is not a terminal: plain progress lines, one saying it waits for workers.
        assert "\r" not in stderr
        assert any("waiting for workers (none for" in line and "stopping after 4 s" in line
                   for line in lines[:-1]), stderr
        assert not out.exists() and partial.exists()

        procs.append(start_workers(address, tmp_path, env, nanny=False))
        wait_for_workers(address, 1)
        rerun = subprocess.run([*run, "--scheduler", address, "--worker-timeout", "60"],
                               cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert f"({done} of 16 blocks from the resumed partial)" in rerun.stdout
        assert_same_cube(out, reference)
    finally:
        stop(procs)


# ------------------------------------------------------------------ progress without a terminal


class _Terminal:
    """A text stream that says it is a terminal (what tqdm draws on)."""

    def __init__(self):
        import io

        self.buffer = io.StringIO()

    def write(self, text):
        return self.buffer.write(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_is_plain_lines_when_not_a_terminal():
    import io

    from renp_scan.sweep.progress import BlockProgress

    log = io.StringIO()  # isatty() is False: a batch job's log
    bar = BlockProgress(4, 1, stream=log, interval_s=1e9)
    for _ in range(3):
        bar.update(100)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 1 and re.fullmatch(
        r"renp-scan: 4 of 4 blocks \(100%\), [\d,]+ pts/s", lines[0]), lines
    every = io.StringIO()
    bar = BlockProgress(3, 0, stream=every, interval_s=0.0)
    bar.update(10)
    bar.waiting(12.4, 300.0)
    bar.update(10)
    lines = every.getvalue().splitlines()
    assert re.fullmatch(r"renp-scan: 1 of 3 blocks \(33%\), [\d,]+ pts/s, ETA \d+ s", lines[0])
    assert lines[1].endswith("; waiting for workers (none for 12 s; stopping after 300 s)")
    assert lines[2].startswith("renp-scan: 2 of 3 blocks (67%)") and len(lines) == 3
    quiet = io.StringIO()
    bar = BlockProgress(2, 0, enabled=False, stream=quiet, interval_s=0.0)
    bar.update(1)
    bar.waiting(1.0, 2.0)
    bar.update(1)
    bar.close()
    assert quiet.getvalue() == ""
    resumed = io.StringIO()  # everything came from the partial: nothing to report
    BlockProgress(5, 5, stream=resumed, interval_s=0.0).close()
    assert resumed.getvalue() == ""


def test_progress_is_a_bar_on_a_terminal():
    from renp_scan.sweep.progress import BlockProgress

    term = _Terminal()
    bar = BlockProgress(2, 0, stream=term)
    assert bar.interactive
    bar.update(10)
    bar.waiting(7.0, 300.0)
    assert "renp-scan waiting for workers (none for 7 s; stopping after 300 s)" in \
        term.buffer.getvalue()
    bar.update(10)
    bar.close()
    text = term.buffer.getvalue()
    assert "\r" in text and "2/2" in text and "pts/s" in text
    assert text.rstrip().split("\r")[-1].startswith("renp-scan:")  # the wait note is gone


def test_cli_run_progress_in_a_pipe_is_plain(tmp_path):
    """``renp-scan run`` with stderr a pipe (a batch log): one plain final progress line."""
    import subprocess
    import sys

    scan = tmp_path / "small.toml"
    scan.write_text(small_scan_text(), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "renp_scan", "run", str(scan), "-o",
                           str(tmp_path / "c.h5"), "--workers", "1"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert re.fullmatch(r"renp-scan: 16 of 16 blocks \(100%\), [\d,]+ pts/s", lines[-1]), lines


# ------------------------------------------------------------------ validate's estimates

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
#: Every shipped scan file.
SHIPPED_SCANS = sorted([*ROOT.glob("scans/*.toml"), *ROOT.glob("plans/scans/*.toml")])
#: Entries above which a shipped scan is not run by the suite (the benchmarks).
RUN_LIMIT_ENTRIES = 10_000_000


def _scan_entries(path) -> int:
    from renp_scan.sweep.scanfile import load_scan

    return load_scan(path).n_entries()


def test_every_shipped_scan_is_covered():
    names = {p.name for p in SHIPPED_SCANS}
    assert {"quick.toml", "cs_fig4.toml", "benchmark.toml", "benchmark_x10.toml",
            "cs_sensitivity.toml"} <= names


@pytest.mark.parametrize("scan", [p for p in SHIPPED_SCANS
                                  if _scan_entries(p) <= RUN_LIMIT_ENTRIES],
                         ids=lambda p: p.name)
def test_file_size_estimate_within_2x_of_the_written_cube(scan, tmp_path):
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.planning import estimate_scan
    from renp_scan.sweep.scanfile import load_scan

    spec = load_scan(scan)
    est = estimate_scan(spec, workers=1)
    report = run_scan(spec, tmp_path / "c.h5", progress=False, handle_signals=False)
    ratio = est.file_bytes / report.file_bytes
    assert 0.5 < ratio < 2.0, (scan.name, est.file_bytes, report.file_bytes)
    # the bound a run checks first really bounds the file (and the estimate)
    from renp_scan.sweep.planning import file_bytes_bound

    bound = file_bytes_bound(spec, est.layouts)
    assert bound >= report.file_bytes and bound >= est.file_bytes, (scan.name, bound)


@pytest.mark.slow
@pytest.mark.parametrize("scan", [p for p in SHIPPED_SCANS
                                  if _scan_entries(p) > RUN_LIMIT_ENTRIES],
                         ids=lambda p: p.name)
def test_big_scan_size_estimate_matches_more_blocks(scan):
    """Scans too big to run here: the estimate's data part against the compressed size
    of 8 other blocks per target (spread over the block grid, none of the estimate's
    samples), extrapolated the same way; its metadata part is measured on the real
    (empty) file and checked for every runnable scan above."""
    from renp_scan.cube.hdf5 import stored_chunk_bytes
    from renp_scan.sweep import blocks, planning
    from renp_scan.sweep.scanfile import load_scan

    spec = load_scan(scan)
    size = planning.estimate_scan(spec, workers=1)
    layouts = size.layouts
    independent = 0.0
    for lay in layouts:
        used = set(planning._sample_blocks(lay))
        picks = [i for i in np.linspace(0, lay.n_blocks - 1, 11).astype(int)[1:-1]
                 if i not in used][:8]
        assert len(picks) >= 6
        stored = entries = 0
        for index in picks:
            task = blocks.block_task(spec, lay, int(index))
            block = blocks.fill_block(task, np.empty((len(task.m0_eV), len(task.omega_eV))))
            stored += stored_chunk_bytes(block.astype(spec.dtype), spec.dtype, spec.compression,
                                         spec.compression_level, spec.shuffle)
            entries += block.size
        independent += lay.n_entries * stored / entries
    assert 0.5 < size.data_bytes / independent < 2.0, (size.data_bytes, independent)
    assert size.metadata_bytes < 0.01 * size.data_bytes
    bound = planning.file_bytes_bound(spec, layouts)
    assert bound >= size.file_bytes and bound >= size.raw_bytes + size.metadata_bytes


@pytest.mark.parametrize("compression", ["none", "gzip", "lzf"])
def test_file_bound_holds_for_incompressible_data_and_tiny_cubes(tmp_path, compression):
    """Noise cannot be compressed (the filters expand it a little) and a one-row float32
    cube is mostly metadata: the bound still holds for the file HDF5 writes."""
    from renp_scan.cube.writer import create_partial
    from renp_scan.sweep import planning
    from renp_scan.sweep.provenance import physics_provenance, target_attributes
    from renp_scan.sweep.scanfile import parse_scan

    text = (ROOT / "scans" / "quick.toml").read_text()
    text = re.sub(r'compression = "[a-z]+"', f'compression = "{compression}"', text)
    text = re.sub(r"compression_level = \d+\n", "", text) if compression != "gzip" else text
    text = re.sub(r'dtype = "float64"', 'dtype = "float32"', text)
    spec = parse_scan(text)
    layouts = planning.plan_layouts(spec)
    path = tmp_path / "noise.h5"
    writer = create_partial(
        path, layouts, target_attrs={t: target_attributes(spec.atoms[t], spec.physics)
                                     for t in spec.targets},
        root_attrs=physics_provenance(spec), dtype=spec.dtype, compression=spec.compression,
        compression_level=spec.compression_level, shuffle=spec.shuffle)
    rng = np.random.default_rng(7)
    for name, lay in writer.layouts.items():
        for index in range(lay.n_blocks):
            rows, cols = (len(v) for v in (lay.block_labels(index)["m0_eV"], lay.omega_eV))
            writer.write_block(name, index, rng.random((rows, cols)).astype(spec.dtype))
    writer.close()
    assert path.stat().st_size <= planning.file_bytes_bound(spec, layouts)


def test_space_check_estimates_only_when_the_bound_does_not_fit(tmp_path, monkeypatch):
    """The run's disk check costs nothing where the layout's bound fits the free space;
    on a tighter disk it compresses sample blocks (the estimate) before refusing."""
    from collections import namedtuple

    from renp_scan.errors import InputError
    from renp_scan.sweep import output, planning
    from renp_scan.sweep.scanfile import load_scan

    spec = load_scan(ROOT / "scans" / "cs_fig4.toml")
    costs = planning.preflight(spec)
    layouts = planning.plan_layouts(spec, costs)
    bound = planning.file_bytes_bound(spec, layouts)
    calls = []
    real = output.estimate_scan
    monkeypatch.setattr(output, "estimate_scan", lambda *a, **k: calls.append(1) or real(*a, **k))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(output.shutil, "disk_usage", lambda _p: usage(0, 0, 10 * bound))
    output.check_space(tmp_path / "c.h5", spec, False, costs, layouts)
    assert calls == []
    monkeypatch.setattr(output.shutil, "disk_usage", lambda _p: usage(0, 0, 1000))
    with pytest.raises(InputError, match="needs about"):
        output.check_space(tmp_path / "c.h5", spec, False, costs, layouts)
    assert calls == [1]


@pytest.mark.slow
def test_validate_reports_first_call_compile_on_a_cold_cache(tmp_path):
    """A fresh kernel cache folder: validate times the compile and says so; the second
    validate finds the cache warm and adds nothing."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, RENP_SCAN_CACHE_DIR=str(tmp_path / "kernels"))
    scan = ROOT / "scans" / "cs_fig4.toml"
    outputs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "renp_scan", "validate", str(scan)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outputs.append(next(line for line in proc.stdout.splitlines()
                            if line.startswith("estimated time: ")))
    cold = re.fullmatch(r"estimated time: .* of compute, .* of compression/storage and "
                        r"([\d.]+) (s|min) of first-call kernel compile \(the Numba cache was "
                        r"cold; it is filled now, so runs on this machine skip it\), roughly "
                        r"([\d.]+) (s|min) on \d+ threads", outputs[0])
    assert cold, outputs[0]
    compile_s = float(cold[1]) * (60 if cold[2] == "min" else 1)
    wall_s = float(cold[3]) * (60 if cold[4] == "min" else 1)
    assert compile_s > 0.5 and wall_s >= compile_s * 0.99  # the compile is in the wall time
    assert "first-call" not in outputs[1], outputs[1]
    assert any((tmp_path / "kernels").rglob("*.nbi"))  # the cache really went there
