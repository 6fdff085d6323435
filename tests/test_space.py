"""The space guard (room past the partial's end, or the reserve file) and the writeback thread.

The whole-run behaviour on a really full disk is in ``tests/test_reliability_faults.py``
(``disk-full``, ``disk-fsize-limit``); here each piece is checked on its own, the
allocation through ``st_blocks`` of the file system itself.
"""

from __future__ import annotations

import errno
import os
import threading
import time

import numpy as np
import pytest

from renp_scan.cube import space, writeback
from renp_scan.cube.space import METADATA_HEADROOM, OutOfSpace, SpaceGuard
from renp_scan.cube.writer import PartialWriteError

from test_cube import make_layout, new_partial

BLOCK = 4 * 2**20


def allocated(path) -> int:
    """Bytes of disk the file system has given ``path`` (st_blocks counts 512-byte units)."""
    return os.stat(path).st_blocks * 512


def a_partial(tmp_path, size=100_000):
    path = tmp_path / "c.h5.partial"
    path.write_bytes(os.urandom(size))
    return path


def test_room_for_a_block_is_held_past_the_end_and_given_back(tmp_path):
    path = a_partial(tmp_path)
    guard = SpaceGuard(path, BLOCK)
    guard.open()
    if not guard.ahead:
        pytest.skip("this file system cannot allocate past a file's end")
    assert guard.reserve_bytes == BLOCK + METADATA_HEADROOM
    assert os.path.getsize(path) == 100_000  # the size HDF5 sees is unchanged
    assert allocated(path) >= 100_000 + guard.reserve_bytes
    assert not guard.path.exists()  # no reserve file
    with open(path, "ab") as fh:  # HDF5 stores a block at the end
        fh.write(os.urandom(BLOCK))
    guard.before_write(os.path.getsize(path))
    assert allocated(path) >= 100_000 + BLOCK + guard.reserve_bytes
    guard.after_write()
    guard.close()
    guard.close()  # idempotent
    assert allocated(path) < 100_000 + BLOCK + 2**16  # the room past the end is given back
    assert os.path.getsize(path) == 100_000 + BLOCK


def test_a_reserve_file_where_the_file_system_cannot_allocate_ahead(tmp_path, monkeypatch):
    def unsupported(*_args):
        raise OSError(errno.EOPNOTSUPP, "not here")

    monkeypatch.setattr(space, "fallocate", unsupported)
    path = a_partial(tmp_path)
    guard = SpaceGuard(path, BLOCK)
    guard.open()
    assert not guard.ahead
    assert os.path.getsize(guard.path) == guard.reserve_bytes
    guard.before_write(os.path.getsize(path))
    assert os.path.getsize(guard.path) == 0  # released for the block
    guard.after_write()
    assert os.path.getsize(guard.path) == guard.reserve_bytes  # taken back
    guard.close()
    assert not guard.path.exists()


def test_no_room_for_the_next_block_stops_before_the_write(tmp_path, monkeypatch):
    calls = []
    real = space.fallocate

    def fills_up(fd, mode, offset, length):
        calls.append(offset)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, mode, offset, length)

    monkeypatch.setattr(space, "fallocate", fills_up)
    path = a_partial(tmp_path)
    guard = SpaceGuard(path, BLOCK)
    guard.open()
    if not guard.ahead:
        pytest.skip("this file system cannot allocate past a file's end")
    with pytest.raises(OutOfSpace, match="no room for the next block .*No space left"):
        guard.before_write(os.path.getsize(path))
    guard.close()


def test_a_leftover_reserve_link_is_removed_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = a_partial(tmp_path)
    (tmp_path / "c.h5.reserve").symlink_to(victim)
    guard = SpaceGuard(path, BLOCK)
    guard.open()
    guard.close()
    assert not os.path.lexists(tmp_path / "c.h5.reserve")
    assert victim.read_text() == "precious"


# ------------------------------------------------------------------ writeback


def test_writeback_syncs_after_enough_bytes_and_reports_a_failed_sync(tmp_path, monkeypatch):
    synced = threading.Event()
    fail = []

    def fake_sync(fd):
        if fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        synced.set()

    monkeypatch.setattr(writeback.os, "fdatasync", fake_sync)
    path = a_partial(tmp_path)
    wb = writeback.Writeback(path, every_bytes=1000)
    wb.stored(999)
    assert not synced.wait(0.2)  # not yet due
    wb.stored(1)
    assert synced.wait(5)
    wb.check()
    fail.append(1)
    wb.stored(1000)
    deadline = time.monotonic() + 5
    while wb._error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(OSError, match="Input/output error"):
        wb.check()
    wb.close()
    wb.close()


def test_a_failed_background_sync_stops_the_writer_with_the_partial_kept(tmp_path, monkeypatch):
    """The kernel may drop pages it could not write: no block is stored after that."""
    def eio(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writeback, "SYNC_BYTES", 1)
    monkeypatch.setattr(writeback.os, "fdatasync", eio)
    lay = make_layout()
    full = np.random.default_rng(1).random(lay.shape)
    part = tmp_path / "c.h5.partial"
    writer = new_partial(part, [lay])
    writer.sync_in_background()
    writer.write_block("Cs", 0, full[lay.block_selection(0)])
    writer._writeback._thread.join(5)  # the sync of block 0 failed
    with pytest.raises(PartialWriteError, match="Input/output error"):
        writer.write_block("Cs", 1, full[lay.block_selection(1)])
    assert writer.abandoned and writer.n_done() == 1
    writer.close()
