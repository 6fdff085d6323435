"""Reliability under faults: kill -9 anywhere, signals, damaged partials, concurrent
runs, a full disk, a dead dask worker, HDF5 file locking unavailable.

Every run goes through the installed ``renp-scan`` entry point. The promise checked
everywhere: the engine never hands over a wrong or damaged cube and never loses
finished work; a rerun of the same command completes a cube equal bit for bit to
an uninterrupted run (the module's reference cube), with no NaN or inf.
Each test records what it observed as a row of docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import small_scan_text
from reliability_support import (
    EXE,
    assert_same_cube,
    blocks_done,
    case,
    cli,
    error_line,
    listing,
    record,
)

pytestmark = pytest.mark.skipif(EXE is None, reason="renp-scan entry point not installed")

N_BLOCKS = 16  # the small scan: 16 lines of 3 m0 x 30 omega, one block each


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    (d / "small.toml").write_text(small_scan_text(), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def reference(workdir):
    """An uninterrupted run of small.toml."""
    proc = cli("run", "small.toml", "-o", "reference.h5", "--quiet", "--workers", "1",
               cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return workdir / "reference.h5"


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
        # Killed after the rename: the cube is finished; the rerun says so.
        line = error_line(rerun, "output")
        assert "finished cube" in line and "--overwrite" in line
        outcome = f"rerun: exit 2, `{line}`"
    else:
        assert rerun.returncode == 0, rerun.stderr
        resumed = f"({done} of {N_BLOCKS} blocks from the resumed partial)"
        if done:
            assert resumed in rerun.stdout, rerun.stdout
        else:
            assert "resumed partial" not in rerun.stdout
        outcome = f"rerun: exit 0, {done or 0} of {N_BLOCKS} blocks resumed"
    assert not partial.exists()
    assert_same_cube(out, reference)
    if not want_out:
        assert not lock.exists()
    record(f"kill9-{stage}", f"killed (signal 9); partial: "
           f"{'%d/%d blocks done' % (done, N_BLOCKS) if want_partial else 'none'}; "
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
    key = "oscillation.normal.dm21_sq_eV2"
    with h5py.File(partial, "r+") as f:
        f.attrs[key] = f.attrs[key] * 1.01
    line = refused_then_overwrite(workdir, scan, out, partial, reference, recover=False)
    assert key in line
    record("damage-physics-changed", f"`{key}` scaled by 1.01; `{line}`")
