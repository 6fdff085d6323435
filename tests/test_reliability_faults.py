"""Reliability under faults: kill -9 anywhere, signals, damaged partials, concurrent
runs, a full disk, a dead dask worker, HDF5 file locking unavailable.

Every run goes through the installed ``renp-scan`` entry point. The promise checked
everywhere: the engine never hands over a wrong or damaged cube and never loses
finished work; a rerun of the same command completes a cube equal bit for bit to
an uninterrupted run (the module's reference cube), with no NaN or inf.
Each test records what it observed as a row of docs/reliability.md.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import fraction_grid, scan_text, small_scan_text
from reliability_support import (
    EXE,
    assert_same_cube,
    blocks_done,
    case,
    cli,
    cli_reference,
    error_line,
    listing,
    record,
    small_workdir,
    start,
    wait_for_blocks,
)

pytestmark = pytest.mark.skipif(EXE is None, reason="renp-scan entry point not installed")

N_BLOCKS = 16  # the small scan: 16 lines of 3 m0 x 30 omega, one block each


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return small_workdir(tmp_path_factory, "faults")


@pytest.fixture(scope="module")
def reference(workdir):
    """An uninterrupted run of small.toml."""
    return cli_reference(workdir, "--workers", "1")


# ------------------------------------------------------------------ kill -9 at every stage

#: stage -> (partial expected after the kill, done blocks expected in it, OUT expected)
KILL_STAGES = {
    "after-lock": (False, None, False),
    "after-create": (True, 0, False),
    "after-chunk-1": (True, 0, False),
    "after-block-1": (True, 1, False),
    "after-chunk-8": (True, 7, False),
    "after-block-8": (True, 8, False),
    "after-block-16": (True, 16, False),
    "before-finalize": (True, 16, False),
    "after-mark-complete": (True, 16, False),
    "after-fsync": (True, 16, False),
    "after-rename": (False, None, True),
    "before-lock-release": (False, None, True),
}
for _stage in KILL_STAGES:
    case(f"kill9-{_stage}", f"`kill -9` (self-inflicted, test hook) at stage `{_stage}`, "
         "then the same command again",
         "rerun finishes (or reports the cube already finished); rate equals an "
         "uninterrupted run bit for bit; no NaN/inf; no work redone that was flagged done")


@pytest.mark.parametrize("stage", list(KILL_STAGES))
def test_kill_9_at_stage_then_rerun(workdir, reference, stage):
    out = workdir / f"kill-{stage}.h5"
    partial, lock = out.with_name(out.name + ".partial"), out.with_name(out.name + ".lock")
    killed = cli("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1",
                 cwd=workdir, kill_at=stage)
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    want_partial, want_done, want_out = KILL_STAGES[stage]
    assert partial.exists() == want_partial
    assert out.exists() == want_out
    assert lock.exists()  # the dead run's lock: stale, must be taken over
    done = blocks_done(partial) if want_partial else None
    if want_done is not None:
        assert done == want_done
    rerun = cli("run", "small.toml", "-o", out.name, "--workers", "1", cwd=workdir)
    if want_out:
        # Killed after the rename: the cube is finished; the rerun says so and exits 0.
        assert rerun.returncode == 0, rerun.stderr
        line = rerun.stdout.strip()
        assert re.fullmatch(rf"renp-scan: {out.name} is complete \(scan 'small', sha256 "
                            r"[0-9a-f]{12}\.\.\.\); nothing to do", line), line
        assert rerun.stderr == ""
        outcome = f"rerun: exit 0, `{line}`"
    else:
        assert rerun.returncode == 0, rerun.stderr
        resumed = f"({done} of {N_BLOCKS} blocks from the resumed partial)"
        if done:
            assert resumed in rerun.stdout, rerun.stdout
        else:
            assert "resumed partial" not in rerun.stdout
        outcome = f"rerun: exit 0, {done or 0} of {N_BLOCKS} blocks resumed"
    assert not partial.exists()
    assert not out.with_name(out.name + ".reserve").exists()
    assert_same_cube(out, reference)
    if not want_out:
        assert not lock.exists()
    record(f"kill9-{stage}", f"killed (signal 9); partial: "
           f"{f'{done}/{N_BLOCKS} blocks done' if want_partial else 'none'}; "
           f"{outcome}; rate bit-identical, 0 NaN/inf")


# ------------------------------------------------------------------ damaged partials


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def half_partials(workdir):
    """Partials of small.toml with 8 of 16 blocks done, per compression ("gzip", "none")."""
    made = {}
    for compression in ("gzip", "none"):
        scan = f"small-{compression}.toml"
        (workdir / scan).write_text(small_scan_text(compression=compression), encoding="utf-8")
        out = workdir / f"half-{compression}.h5"
        killed = cli("run", scan, "-o", out.name, "--quiet", "--workers", "1", cwd=workdir,
                     kill_at="after-block-8")
        assert killed.returncode == -9, killed.stderr
        partial = out.with_name(out.name + ".partial")
        assert blocks_done(partial) == 8
        made[compression] = (scan, partial)
    return made


def damaged_copy(workdir, half_partials, name, compression="gzip"):
    """Copy the 8-of-16 partial to ``name``.h5.partial; return (scan, out, partial)."""
    scan, source = half_partials[compression]
    out = workdir / f"{name}.h5"
    partial = out.with_name(out.name + ".partial")
    shutil.copyfile(source, partial)
    return scan, out, partial


def refused_then_overwrite(workdir, scan, out, partial, reference, recover=True) -> str:
    """Rerun on a damaged partial: refused, partial untouched; then --overwrite recovers."""
    before = sha256_of(partial)
    refused = cli("run", scan, "-o", out.name, "--workers", "1", cwd=workdir)
    line = error_line(refused, "output")
    assert "--overwrite" in line
    assert sha256_of(partial) == before  # never modified, never mixed with new results
    assert not out.exists()
    if recover:
        again = cli("run", scan, "-o", out.name, "--overwrite", "--quiet", "--workers", "1",
                    cwd=workdir)
        assert again.returncode == 0, again.stderr
        assert_same_cube(out, reference)
    return line


TRUNCATIONS = {"empty": 0.0, "superblock": 0.01, "quarter": 0.25, "half": 0.5,
               "three-quarters": 0.75, "last-byte": None}
for _name in TRUNCATIONS:
    case(f"damage-truncate-{_name}", f"partial (8/16 blocks done) truncated: {_name}",
         "rerun refused with one line naming --overwrite, exit 2, partial untouched; "
         "--overwrite then gives the reference cube")


@pytest.mark.parametrize("where", list(TRUNCATIONS))
def test_truncated_partial_is_refused(workdir, half_partials, reference, where):
    scan, out, partial = damaged_copy(workdir, half_partials, f"trunc-{where}")
    size = partial.stat().st_size
    fraction = TRUNCATIONS[where]
    keep = size - 1 if fraction is None else int(fraction * size)
    with open(partial, "r+b") as fh:
        fh.truncate(keep)
    line = refused_then_overwrite(workdir, scan, out, partial, reference,
                                  recover=where in ("empty", "half"))
    record(f"damage-truncate-{where}", f"cut to {keep} of {size} bytes; `{line}`")


def chunk_span(partial, index, target="Cs"):
    """(byte offset, size) of block ``index``'s stored chunk in ``partial``."""
    with h5py.File(partial, "r", locking=False) as f:
        rate = f[target]["rate"]
        shape = rate.chunks
        grid = [int(np.ceil(n / c)) for n, c in zip(rate.shape, shape, strict=True)]
        coord = np.unravel_index(index, grid)
        info = rate.id.get_chunk_info_by_coord(tuple(int(c) * s for c, s in zip(coord, shape,
                                                                                   strict=True)))
        return info.byte_offset, info.size


def flip_byte(path, offset) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


for _compression in ("gzip", "none"):
    case(f"damage-flip-chunk-{_compression}",
         f"one byte flipped inside a done block's stored chunk ({_compression} compression)",
         "rerun refused (CRC-32 of the chunk), exit 2, partial untouched; --overwrite recovers")


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_flipped_byte_in_a_done_chunk_is_refused(workdir, half_partials, reference, compression):
    scan, out, partial = damaged_copy(workdir, half_partials, f"flip-{compression}", compression)
    offset, size = chunk_span(partial, 3)
    flip_byte(partial, offset + size // 2)
    line = refused_then_overwrite(workdir, scan, out, partial, reference)
    assert "CRC-32" in line and "Cs block 3" in line
    record(f"damage-flip-chunk-{compression}", f"byte {offset + size // 2} flipped; `{line}`")


case("damage-no-done-mask", "`/_progress/Cs/done` deleted from the partial",
     "rerun refused as damaged, exit 2, partial untouched; --overwrite recovers")


def test_deleted_done_mask_is_refused(workdir, half_partials, reference):
    scan, out, partial = damaged_copy(workdir, half_partials, "nomask")
    with h5py.File(partial, "r+") as f:
        del f["_progress/Cs/done"]
    info = cli("info", partial.name, cwd=workdir)
    info_line = error_line(info, "cube")
    assert "damaged" in info_line
    line = refused_then_overwrite(workdir, scan, out, partial, reference)
    assert "damaged" in line
    record("damage-no-done-mask", f"`{line}`; `renp-scan info` on it: `{info_line}`")


case("damage-flag-without-chunk", "done flag set for a block whose chunk was never written",
     "detected on resume: the flag is cleared and the block computed (a note says so); the "
     "cube equals the reference")


def test_done_flag_without_chunk_is_recomputed(workdir, half_partials, reference):
    scan, out, partial = damaged_copy(workdir, half_partials, "falseflag")
    with h5py.File(partial, "r+") as f:
        done = f["_progress/Cs/done"]
        assert done[12] == 0
        done[12] = 1
    rerun = cli("run", scan, "-o", out.name, "--workers", "1", cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    notes = [ln for ln in rerun.stderr.splitlines() if ln.startswith("renp-scan: note:")]
    assert len(notes) == 1 and "1 block" in notes[0], rerun.stderr
    assert "(8 of 16 blocks from the resumed partial)" in rerun.stdout
    assert_same_cube(out, reference)
    record("damage-flag-without-chunk", f"rerun exit 0; `{notes[0]}`; 8 of 16 resumed; "
           "rate bit-identical")


case("damage-axis-changed", "one omega value of the partial's coordinate changed",
     "rerun refused (axes differ from the scan's), exit 2; blocks are never computed on "
     "wrong axes")
case("damage-physics-changed", "an oscillation-data attribute of the partial differs from "
     "the data the rerun would use (as after a package upgrade)",
     "rerun refused (never mixes blocks from different physics data), exit 2")


def test_changed_axis_or_physics_data_is_refused(workdir, half_partials, reference):
    scan, out, partial = damaged_copy(workdir, half_partials, "axis")
    with h5py.File(partial, "r+") as f:
        f["Cs/omega"][5] = np.nextafter(f["Cs/omega"][5], 1.0)
    line = refused_then_overwrite(workdir, scan, out, partial, reference, recover=False)
    assert "omega_eV axis" in line
    record("damage-axis-changed", f"omega[5] moved by one ulp; `{line}`")

    scan, out, partial = damaged_copy(workdir, half_partials, "physics")
    key = "oscillation_normal_dm21_sq_eV2"
    with h5py.File(partial, "r+") as f:
        f.attrs[key] = f.attrs[key] * 1.01
    line = refused_then_overwrite(workdir, scan, out, partial, reference, recover=False)
    assert key in line
    record("damage-physics-changed", f"`{key}` scaled by 1.01; `{line}`")


case("kill9-twice", "`kill -9` after block 3, then again after block 4 of the resumed run, "
     "then the same command a third time",
     "each rerun keeps every block done before; the cube equals the reference")


def test_kill_9_during_a_resumed_run(workdir, reference):
    out = workdir / "twice.h5"
    partial = out.with_name(out.name + ".partial")
    first = cli("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1", cwd=workdir,
                kill_at="after-block-3")
    assert first.returncode == -9 and blocks_done(partial) == 3
    second = cli("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1", cwd=workdir,
                 kill_at="after-block-4")
    assert second.returncode == -9 and blocks_done(partial) == 7
    third = cli("run", "small.toml", "-o", out.name, "--workers", "1", cwd=workdir)
    assert third.returncode == 0, third.stderr
    assert f"(7 of {N_BLOCKS} blocks from the resumed partial)" in third.stdout
    assert_same_cube(out, reference)
    with h5py.File(out) as f:
        assert f.attrs["run_sessions"] == 3
    record("kill9-twice", "3 blocks, then 3 + 4 = 7 blocks kept; third run resumed 7 of 16; "
           "run_sessions = 3; rate bit-identical")


# ------------------------------------------------------------------ SIGINT / SIGTERM

for _sig in ("SIGINT", "SIGTERM"):
    case(f"signal-{_sig}", f"`{_sig}` sent to a running `renp-scan run` (after 2 blocks)",
         "clean stop between blocks: exit 128+signal, one line saying how to resume, partial "
         "kept, lock released; the rerun completes the reference cube")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_cleanly(workdir, reference, sig):
    name = signal.Signals(sig).name
    out = workdir / f"signal-{name}.h5"
    partial = out.with_name(out.name + ".partial")
    proc = start("run", "small.toml", "-o", out.name, "--quiet", "--workers", "2",
                 cwd=workdir, delay=0.2)
    wait_for_blocks(partial, 2, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], stderr
    assert "rerun the same command to resume" in lines[0]
    assert "Traceback" not in stderr
    done = blocks_done(partial)
    assert 2 <= done < N_BLOCKS
    assert listing(workdir).count(partial.name) == 1
    assert not out.exists()
    assert not out.with_name(out.name + ".lock").exists()
    assert not out.with_name(out.name + ".reserve").exists()
    rerun = cli("run", "small.toml", "-o", out.name, "--quiet", cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_cube(out, reference)
    record(f"signal-{name}", f"exit {proc.returncode}; `{lines[0]}`; rerun exit 0; rate "
           "bit-identical")


# ------------------------------------------------------------------ two runs at once

case("lock-live-holder", "a second `renp-scan run` on the same output while the first runs",
     "second refused at once (exit 2, one line naming the holder's pid and host); the first "
     "finishes the reference cube")
case("lock-stale-dead-pid", "`OUT.lock` left by a SIGKILLed run (pid gone)",
     "taken over by the next run, which finishes")
case("lock-stale-recycled-pid", "`OUT.lock` naming a live pid whose start time differs from "
     "the recorded one (pid recycled after the owner died)", "taken over")
case("lock-other-host", "`OUT.lock` written on another host",
     "respected: refused with one line naming that host and how to remove the lock")


def test_second_run_is_refused_while_the_first_runs(workdir, reference):
    out = workdir / "busy.h5"
    # 16 blocks of >= 1 s: the first run still holds the lock when the second, started
    # after its first block, has validated its scan, even on a loaded machine.
    first = start("run", "small.toml", "-o", out.name, "--quiet", "--workers", "1",
                  cwd=workdir, delay=1.0)
    wait_for_blocks(out.with_name(out.name + ".partial"), 1, first)
    second = cli("run", "small.toml", "-o", out.name, "--workers", "1", cwd=workdir)
    line = error_line(second, "output")
    assert f"pid {first.pid} on host {socket.gethostname()}" in line
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert_same_cube(out, reference)
    record("lock-live-holder", f"`{line}`; the first run exit 0, rate bit-identical")


def test_stale_locks_are_taken_over_and_foreign_ones_respected(workdir, reference):
    from renp_scan.cube.lock import owner_line

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    out = workdir / "stale.h5"
    lock = out.with_name(out.name + ".lock")
    lock.write_text(owner_line(int(dead.stdout)))
    proc = cli("run", "small.toml", "-o", out.name, "--quiet", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert not lock.exists()
    assert_same_cube(out, reference)
    record("lock-stale-dead-pid", f"lock of dead pid {dead.stdout.strip()}: run exit 0, "
           "lock removed, rate bit-identical")

    # This very process is alive, but the lock claims it started at another time.
    pid, host, start_ticks, boot = owner_line().split()
    out = workdir / "recycled.h5"
    lock = out.with_name(out.name + ".lock")
    lock.write_text(f"{pid} {host} {int(start_ticks) - 1000} {boot}\n")
    proc = cli("run", "small.toml", "-o", out.name, "--quiet", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert_same_cube(out, reference)
    # ... and with the true start time the same pid is a live holder.
    (workdir / "recycled3.h5.lock").write_text(owner_line())
    refused = cli("run", "small.toml", "-o", "recycled3.h5", cwd=workdir)
    error_line(refused, "output")
    record("lock-stale-recycled-pid", f"pid {pid} alive with another start time: taken over, "
           "exit 0; with its true start time: refused")

    (workdir / "foreign.h5.lock").write_text("4242 node17.cluster 123 x\n")
    refused = cli("run", "small.toml", "-o", "foreign.h5", cwd=workdir)
    line = error_line(refused, "output")
    assert "node17.cluster" in line and "delete the lock file" in line
    assert (workdir / "foreign.h5.lock").read_text() == "4242 node17.cluster 123 x\n"
    record("lock-other-host", f"`{line}`")


# ------------------------------------------------------------------ disk full, size limits

#: 8 blocks of 1 MB (uncompressed, one line of 8 m0 x 16000 omega each): sizes are exact.
BIG_SCAN = scan_text("big", hierarchies=("NH", "IH"), natures=("majorana", "dirac"),
                     channels=("nucleus", "core"),
                     m0={"values_eV": [0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.2]},
                     omega=fraction_grid(16000, 0.0), output={"compression": "none"})
BIG_BLOCKS = 8

#: A child that runs the CLI with the space guard switched off, so HDF5 itself meets
#: the full disk / size limit (tests the fallback: the file is detached, not flushed).
UNGUARDED = """\
import sys
from renp_scan.cube import space
space.SpaceGuard.open = lambda self: None
space.SpaceGuard.before_write = lambda self, partial_bytes: None
space.SpaceGuard.after_write = lambda self: None
from renp_scan.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def big_reference(workdir):
    (workdir / "big.toml").write_text(BIG_SCAN, encoding="utf-8")
    (workdir / "unguarded.py").write_text(UNGUARDED, encoding="utf-8")
    proc = cli("run", "big.toml", "-o", "big-reference.h5", "--quiet", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return workdir / "big-reference.h5"


def file_size_limit(limit):
    def preexec():
        # SIGXFSZ ignored: a write past the limit then fails with EFBIG (instead of a kill).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def assert_stopped_for_space(proc, out, directory) -> tuple[str, int]:
    """A storage stop: exit 1, one line, partial kept (not complete), no OUT/lock/reserve."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("renp-scan: error: output: "), proc.stderr
    assert "rerun the same command to resume" in lines[0]
    partial = out.with_name(out.name + ".partial")
    assert not out.exists()  # nothing that looks like a finished cube
    with h5py.File(partial, "r") as f:
        assert int(f.attrs["complete"]) == 0
    for leftover in (".lock", ".reserve"):
        assert not out.with_name(out.name + leftover).exists(), listing(directory)
    return lines[0], blocks_done(partial)


case("disk-fsize-limit", "run under a 5 MB file-size limit (`RLIMIT_FSIZE`, SIGXFSZ "
     "ignored) for an 8 MB cube; then rerun without the limit",
     "stops before the write that would not fit: exit 1, one line, partial kept and not "
     "complete, no OUT; rerun resumes to the reference cube")
case("disk-fsize-limit-unguarded", "as above at 3.3 MB, with the engine's space guard "
     "switched off so HDF5 itself gets EFBIG mid-write",
     "the failed write is detected, the file detached (never flushed half-way): exit 1, "
     "one line, no crash; the partial resumes to the reference cube")


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "unguarded"])
def test_file_size_limit(workdir, big_reference, guarded):
    out = workdir / f"fsize-{guarded}.h5"
    limit = 5_000_000 if guarded else 3_300_000
    command = [EXE] if guarded else [sys.executable, "unguarded.py"]
    proc = subprocess.run([*command, "run", "big.toml", "-o", out.name, "--quiet",
                           "--workers", "1"], cwd=workdir, capture_output=True, text=True,
                          timeout=120, preexec_fn=file_size_limit(limit))
    line, done = assert_stopped_for_space(proc, out, workdir)
    assert ("file-size limit" in line) if guarded else ("File too large" in line)
    assert 1 <= done < BIG_BLOCKS
    rerun = cli("run", "big.toml", "-o", out.name, "--workers", "1", cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({done} of {BIG_BLOCKS} blocks from the resumed partial)" in rerun.stdout
    assert_same_cube(out, big_reference)
    record("disk-fsize-limit" if guarded else "disk-fsize-limit-unguarded",
           f"exit 1; `{line}`; rerun resumed {done} of {BIG_BLOCKS}; rate bit-identical")


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 24 MiB tmpfs (needs root and mount); skipped where it cannot be mounted."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill_up(directory) -> Path:
    """Fill the file system of ``directory`` with one file until ENOSPC."""
    filler = Path(directory) / "filler"
    chunk = bytes(2**20)
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


case("disk-full", "the output file system (a 24 MiB tmpfs) is filled by another file "
     "while the run is at block 2; the file is deleted, the command rerun",
     "stops cleanly (exit 1, one line), partial kept, not complete; rerun resumes to the "
     "reference cube")
case("disk-full-unguarded", "as above with the space guard switched off (HDF5 gets ENOSPC)",
     "the failed write is detected, the file detached: exit 1, one line; the partial "
     "resumes to the reference cube")


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "unguarded"])
def test_disk_fills_up_during_a_run(workdir, big_reference, small_tmpfs, guarded):
    shutil.copyfile(workdir / "big.toml", small_tmpfs / "big.toml")
    out = small_tmpfs / "full.h5"
    command = [EXE] if guarded else [sys.executable, str(workdir / "unguarded.py")]
    env = dict(os.environ, RENP_SCAN_TEST_BLOCK_DELAY="0.3")
    env.pop("RENP_SCAN_TEST_KILL_AT", None)
    proc = subprocess.Popen([*command, "run", "big.toml", "-o", out.name, "--quiet",
                             "--workers", "1"], cwd=small_tmpfs, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_blocks(out.with_name(out.name + ".partial"), 2, proc)
    filler = fill_up(small_tmpfs)
    _, stderr = proc.communicate(timeout=120)
    line, done = assert_stopped_for_space(subprocess.CompletedProcess(
        proc.args, proc.returncode, "", stderr), out, small_tmpfs)
    assert ("no room" in line) if guarded else ("No space left on device" in line)
    assert 2 <= done < BIG_BLOCKS
    filler.unlink()
    rerun = cli("run", "big.toml", "-o", out.name, "--quiet", "--workers", "1",
                cwd=small_tmpfs)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_cube(out, big_reference)
    record("disk-full" if guarded else "disk-full-unguarded",
           f"exit 1; `{line}`; rerun resumed {done} of {BIG_BLOCKS}; rate bit-identical")


# ------------------------------------------------------------------ a dask worker dies

case("dask-worker-killed", "`renp-scan run --scheduler` on a LocalCluster of 2 worker "
     "processes; one worker process is SIGKILLed after 3 blocks",
     "the scheduler reruns its tasks elsewhere; the run completes (exit 0) with the "
     "reference cube")


def test_killed_dask_worker(workdir, reference, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # Worker processes inherit the environment: every block then takes >= 0.3 s.
    monkeypatch.setenv("RENP_SCAN_TEST_BLOCK_DELAY", "0.3")
    out = workdir / "dask.h5"
    partial = out.with_name(out.name + ".partial")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, protocol="tcp",
                                  host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        proc = start("run", "small.toml", "-o", out.name, "--quiet", "--scheduler",
                     cluster.scheduler_address, cwd=workdir, delay=0.3)
        wait_for_blocks(partial, 3, proc, limit=120)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=180)
        restarted = client.run(os.getpid)
    assert proc.returncode == 0, stderr
    assert victim not in restarted.values()
    assert_same_cube(out, reference)
    record("dask-worker-killed", f"worker pid {victim} SIGKILLed at >= 3 of {N_BLOCKS} blocks; "
           f"run exit 0; {len(restarted)} workers after (nanny restart); rate bit-identical")


# ------------------------------------------------------------------ no HDF5 file locking

#: LD_PRELOAD shim: a file system without POSIX locks (flock/fcntl locks fail with
#: NOLOCK_ERRNO, default ENOLCK as on NFS without lockd).
NOLOCK_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/file.h>
static int lock_errno(void) { const char *e = getenv("NOLOCK_ERRNO"); return e ? atoi(e) : ENOLCK; }
int flock(int fd, int op) { (void)fd; (void)op; errno = lock_errno(); return -1; }
int fcntl(int fd, int cmd, ...) {
    static int (*real)(int, int, ...) = 0;
    va_list ap; va_start(ap, cmd); void *arg = va_arg(ap, void *); va_end(ap);
    if (cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW) {
        errno = lock_errno(); return -1;
    }
    if (!real) real = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
    return real(fd, cmd, arg);
}
"""


@pytest.fixture(scope="module")
def nolock_env(tmp_path_factory):
    """Environment that runs a process as if on a file system without locks."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.platform != "linux":
        pytest.skip("needs a C compiler on Linux to build the LD_PRELOAD shim")
    d = tmp_path_factory.mktemp("nolock")
    (d / "nolock.c").write_text(NOLOCK_C)
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(d / "nolock.so"),
                    str(d / "nolock.c"), "-ldl"], check=True, capture_output=True)
    return {"LD_PRELOAD": str(d / "nolock.so"), "NOLOCK_ERRNO": str(errno.ENOLCK)}


case("hdf5-locking-unavailable", "every `renp-scan` process runs as if on a file system "
     "without POSIX locks (LD_PRELOAD shim: flock/fcntl locks fail with ENOLCK, like NFS "
     "without lockd): run, kill -9, resume, `info`, `open_cube`",
     "works: HDF5's own lock is skipped where the file system has none (OUT.lock still "
     "guards the output); the cube equals the reference")
case("hdf5-lock-held", "the partial is open in another program (h5py, which holds HDF5's "
     "file lock) when the run is resumed",
     "refused with one line saying the file is open elsewhere, exit 2; resumes once closed")


def test_no_file_locking(workdir, reference, nolock_env):
    out = workdir / "nolock.h5"
    # Sanity: the shim really takes locks away (plain h5py fails to create a file).
    probe = subprocess.run([sys.executable, "-c", "import h5py; h5py.File('probe.h5', 'w')"],
                           cwd=workdir, env=dict(os.environ, **nolock_env),
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "unable to lock file" in probe.stderr
    killed = cli("run", "small.toml", "-o", out.name, "--quiet", cwd=workdir, env=nolock_env,
                 kill_at="after-block-5")
    assert killed.returncode == -9
    rerun = cli("run", "small.toml", "-o", out.name, cwd=workdir, env=nolock_env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"(5 of {N_BLOCKS} blocks from the resumed partial)" in rerun.stdout
    info = cli("info", out.name, cwd=workdir, env=nolock_env)
    assert info.returncode == 0 and "complete" in info.stdout.splitlines()[0], info.stderr
    reader = subprocess.run(
        [sys.executable, "-c", "import renp_scan, numpy as np\n"
         f"with renp_scan.open_cube({out.name!r}, 'Cs') as ds:\n"
         "    print(int(np.isfinite(ds['rate'].values).sum()))"],
        cwd=workdir, env=dict(os.environ, **nolock_env), capture_output=True, text=True)
    assert reader.returncode == 0, reader.stderr
    rates = assert_same_cube(out, reference)
    assert int(reader.stdout) == rates["Cs"].size
    record("hdf5-locking-unavailable", "plain h5py: 'unable to lock file' (errno 37); "
           "renp-scan: killed at block 5, resumed 5 of 16 (exit 0), info exit 0, open_cube "
           "read every value; rate bit-identical")


def test_partial_open_elsewhere_is_refused(workdir, half_partials, reference):
    scan, out, partial = damaged_copy(workdir, half_partials, "heldopen")
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys\n"
                               f"f = h5py.File({partial.name!r}, 'r')\n"
                               "print('open', flush=True)\nsys.stdin.read()"],
                              cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = cli("run", scan, "-o", out.name, "--workers", "1", cwd=workdir)
        line = error_line(refused, "output")
        assert "open in another program" in line
    finally:
        holder.communicate("", timeout=30)
    rerun = cli("run", scan, "-o", out.name, "--quiet", "--workers", "1", cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_cube(out, reference)
    record("hdf5-lock-held", f"`{line}`; after the reader closed: exit 0, rate bit-identical")


# ------------------------------------------------------------------ byte flips anywhere

#: A child that resumes copies of a partial, each with one byte flipped, through the API,
#: and prints one JSON line per offset: "refused: ..." or "same"/"DIFFERENT".
FLIP_CHILD = """\
import json, os, shutil, sys
import h5py
from renp_scan.errors import InputError
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import load_scan

scan, source, reference, offsets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
spec = load_scan(scan)
with h5py.File(reference, "r") as f:
    want = f["Cs/rate"][...].tobytes()
for offset in map(int, offsets):
    for name in ("flip.h5", "flip.h5.partial"):
        if os.path.exists(name):
            os.unlink(name)
    shutil.copyfile(source, "flip.h5.partial")
    with open("flip.h5.partial", "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))
    try:
        run_scan(spec, "flip.h5", workers=1, progress=False, handle_signals=False)
        with h5py.File("flip.h5", "r") as f:
            got = f["Cs/rate"][...]
        ok = got.tobytes() == want
        result = "same" if ok else "DIFFERENT"
    except InputError as exc:
        result = "refused: " + exc.message
    print(json.dumps([offset, result]), flush=True)
"""
N_FLIPS = 24

case("damage-flip-anywhere", f"{N_FLIPS} copies of the partial (8/16 done), each with one "
     "byte flipped at evenly spread offsets (superblock, object headers, B-tree, heaps, "
     "attributes, coordinates, done mask, CRCs, chunks), each resumed",
     "every copy is either refused as damaged (one line naming --overwrite) or completes to "
     "the reference cube; never a different cube, never a crash")


def test_flipped_byte_anywhere_never_gives_a_wrong_cube(workdir, half_partials, reference):
    scan, source = half_partials["gzip"]
    size = source.stat().st_size
    offsets = np.linspace(0, size - 1, N_FLIPS).astype(int)
    (workdir / "flip_child.py").write_text(FLIP_CHILD)
    flips = workdir / "flips"
    flips.mkdir()
    proc = subprocess.run([sys.executable, str(workdir / "flip_child.py"), str(workdir / scan),
                           str(source), str(reference), *map(str, offsets)], cwd=flips,
                          capture_output=True, text=True, timeout=300)
    results = dict(json.loads(line) for line in proc.stdout.splitlines())
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:], len(results))
    assert sorted(results) == sorted(int(o) for o in offsets)
    for offset, result in results.items():
        assert result == "same" or (result.startswith("refused: ") and "--overwrite" in result), \
            (offset, result)
    refused = sum(r != "same" for r in results.values())
    assert refused >= 1  # some flips land in blocks flagged done: those must be refused
    record("damage-flip-anywhere", f"{size}-byte partial: {refused} of {N_FLIPS} refused, "
           f"{N_FLIPS - refused} completed bit-identical, 0 different, 0 crashes")
