"""Low-level HDF5 helpers shared by the cube's writer and readers.

Opening files under HDF5's file locks (on file systems with and without POSIX
locks), the errors h5py raises on a damaged file, a dataset's filter pipeline, the
size of a chunk once filtered.
"""

from __future__ import annotations

import collections
import errno
import os
import re
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

from ..errors import InputError
from .layout import chunk_crc, compression_options

#: errno values of a file system that has no POSIX locks (HDF5 cannot lock there).
NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)
#: h5py ``locking`` values for a read-only open, in order: HDF5's default (what xarray,
#: h5netcdf and plain h5py use), then no lock, then a strict lock. These are the three
#: flag pairs HDF5 distinguishes (``"best-effort"`` equals the default).
LOCKING_ORDER = (None, False, True)
#: What h5py raises on a file whose structure is damaged (missing objects, bad metadata).
DAMAGE = (KeyError, ValueError, TypeError, OSError, RuntimeError, IndexError, AttributeError,
          zlib.error)


def one_line(exc: BaseException) -> str:
    """Return the message of ``exc`` on one line (its type name when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def errno_of(exc: BaseException) -> int:
    """Return the errno of an OSError, or the ``errno = N`` HDF5 quotes (EIO if none)."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    found = re.search(r"errno = (\d+)", str(exc))
    return int(found.group(1)) if found else errno.EIO


def _locking_mismatch(exc: OSError) -> bool:
    """Tell whether HDF5 refused an open for other file-locking flags.

    HDF5 says "file locking flag values don't match" when the file is already open
    in this process with other locking flags.
    """
    text = str(exc)
    return "file locking" in text and "don't match" in text


def no_lock_support(exc: OSError) -> bool:
    """Tell whether HDF5 could not lock because the file system has no POSIX locks."""
    text = str(exc)
    return "unable to lock file" in text and any(f"errno = {code}," in text
                                                 for code in NO_LOCKS)


def open_read_only(opener, order=LOCKING_ORDER):
    """Return ``opener(locking)`` for the first h5py ``locking`` value HDF5 accepts.

    HDF5 shares one handle among all opens of a file in a process and refuses a new
    open whose locking flags differ from the first one's. Trying the three flag
    settings in turn makes a read-only open succeed whatever opened the file before
    (xarray/h5netcdf, h5py, :func:`~renp_scan.cube.reader.open_cube`), any number of
    times. A file system without POSIX locks (NFS without lockd: ``ENOLCK``;
    ``ENOSYS``, ``EOPNOTSUPP``) moves on to the unlocked open, as
    ``HDF5_USE_FILE_LOCKING=FALSE`` would. Any other error (a lock held by a writer in
    another process, damage) is raised.
    """
    failure = None
    for locking in order:
        try:
            return opener(locking)
        except OSError as exc:
            if not (_locking_mismatch(exc) or no_lock_support(exc)):
                raise
            failure = exc
    raise failure


def open_locked(path, mode: str) -> h5py.File:
    """``h5py.File(path, mode)``, without HDF5's own file lock where the file system has none.

    HDF5 locks every file it opens; on file systems without POSIX locks (NFS without
    lockd: ``ENOLCK``) that fails with "unable to lock file". The sweep holds
    ``OUT.lock`` while it writes, which already keeps other runs away, so the file is
    then opened unlocked, as ``HDF5_USE_FILE_LOCKING=FALSE`` would do.
    """
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        if "unable to lock file" not in str(exc):
            raise
        code = errno_of(exc)
        if code not in NO_LOCKS:
            # The lock is held: another program has the file open.
            raise InputError("output", f"{path} is open in another program (its HDF5 file "
                             f"lock is held: {os.strerror(code)}); close it and rerun") from None
    return h5py.File(path, mode, locking=False)


def filter_pipeline(dset) -> tuple:
    """Return the filter pipeline of ``dset``: (filter id, flags, client values, name) each."""
    plist = dset.id.get_create_plist()
    return tuple(plist.get_filter(i) for i in range(plist.get_nfilters()))


def filter_names(dset) -> str:
    """Return the filters of ``dset`` joined by ``+`` (``"shuffle+deflate"``) or ``"none"``."""
    names = [name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
             for *_, name in filter_pipeline(dset)]
    return "+".join(names) if names else "none"


def set_element(dset_id, index: int, value: np.ndarray) -> None:
    """Write ``value`` (shape (1,)) at ``index`` of a 1-D dataset (low-level: no selection objects).

    The same write as ``dset[index] = value[0]``, for the per-block done flags and CRCs.
    """
    space = dset_id.get_space()
    space.select_hyperslab((index,), (1,))
    dset_id.write(h5py.h5s.create_simple((1,)), space, value)


#: Threads computing CRC-32s of stored chunks while the next chunk is read.
CRC_THREADS = max(1, min(4, os.cpu_count() or 1))


def stored_crcs(chunks, threads: int = CRC_THREADS):
    """Yield ``(key, chunk_crc(mask, stored))`` for each ``(key, mask, stored)``, in order.

    h5py reads one chunk at a time (it holds a global lock); ``zlib.crc32`` releases
    the GIL on large buffers, so the CRCs run on ``threads`` threads while the
    iterator ``chunks`` reads the next ones. At most ``2 * threads`` chunks are held.
    """
    with ThreadPoolExecutor(threads) as pool:
        pending = collections.deque()
        for key, mask, stored in chunks:
            pending.append((key, pool.submit(chunk_crc, mask, stored)))
            if len(pending) > 2 * threads:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        while pending:
            done_key, future = pending.popleft()
            yield done_key, future.result()


def memory_file(tag: str, key) -> h5py.File:
    """Create an HDF5 file in memory only (core driver, no backing store); close it after use."""
    return h5py.File(f"renp-scan-{tag}-{id(key)}.h5", "w", driver="core", backing_store=False)


def stored_chunk_bytes(block, dtype="float64", compression="gzip", compression_level=None,
                       shuffle=True) -> int:
    """Bytes HDF5 stores for ``block`` as one chunk with the given filters (in memory).

    Used to estimate a cube's file size from one computed block.

    Parameters
    ----------
    block : ndarray, shape (rows, cols)
        Values of one chunk.
    dtype, compression, compression_level, shuffle
        As for :func:`~renp_scan.cube.writer.create_partial`.
    """
    filters = compression_options(compression, compression_level, shuffle)
    with memory_file("estimate", block) as f:
        dset = f.create_dataset("rate", shape=block.shape, chunks=block.shape, dtype=dtype,
                                **filters)
        dset[...] = block
        return int(dset.id.get_chunk_info(0).size)


def scratch_fd() -> int:
    """Open a writable, truncatable file on no disk (memfd), or an unlinked temp file."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("renp-scan-abandoned")
    with tempfile.TemporaryFile() as tmp:
        return os.dup(tmp.fileno())
