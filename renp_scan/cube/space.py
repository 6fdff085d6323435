"""Keep HDF5 from ever running out of space mid-write: room held ahead, and a size check.

HDF5 does not survive a failed write well: after ``ENOSPC``/``EDQUOT``/``EFBIG``
in the middle of a chunk or metadata write, its in-memory state no longer matches
the file, closing it can write an inconsistent index (the partial then cannot be
resumed) and h5py may even crash. So the writer makes sure each write fits
*before* handing it to HDF5:

* before each block, the room for it (:attr:`SpaceGuard.reserve_bytes`: the largest
  block plus room for HDF5's metadata) is allocated to ``OUT.partial`` itself, past
  its end, without changing its size (``fallocate`` with ``FALLOC_FL_KEEP_SIZE``).
  HDF5 then writes the block into disk space the partial already owns (other users
  and quotas included), and nothing is freed or taken back per block. When the
  room cannot be had the file system is full: the run stops cleanly with
  :class:`OutOfSpace` before the write. The room left past the end is given back
  when the run finishes;
* where the file system cannot do that (macOS, older NFS), a reserve file
  ``OUT.reserve`` of the same size is allocated when the run starts, released
  before each block (the block lands in space this run owned a moment ago) and
  taken back after it; when it cannot be taken back the run stops the same way;
* the soft ``RLIMIT_FSIZE`` of the process (a per-file size limit, invisible to
  the file system) is compared with the partial's size plus the block before
  each write.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat
from pathlib import Path

from ..errors import InputError

try:
    import resource
except ImportError:  # not on Windows: no per-file size limit to respect there
    resource = None

#: Room kept for HDF5 metadata of one block and for the final flush and close [bytes]
#: (a block adds a few kB of chunk index; this leaves a wide margin).
METADATA_HEADROOM = 2**20
#: errno values that mean "no more space here".
SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class StorageError(OSError):
    """Storing the cube failed for a reason outside the scan; the partial is kept."""


class OutOfSpace(StorageError):
    """The output file system is full, a quota or the file-size limit is reached.

    Raised *before* a write that would not fit (nothing is half-written): the
    partial holds every block written so far and can be resumed.
    """


#: ``fallocate`` mode: allocate without changing the file size (linux/falloc.h).
FALLOC_FL_KEEP_SIZE = 0x01
#: errno values of a file system (or platform) that cannot allocate past a file's end.
UNSUPPORTED_ERRNOS = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}


@functools.lru_cache(maxsize=1)
def _libc_fallocate():
    """Return libc's ``fallocate`` (64-bit offsets) through ctypes, None where there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError, TypeError):  # no such C library (Windows) or function
        return None
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return function


def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """``fallocate(2)`` with ``mode`` flags (:func:`os.posix_fallocate` takes none).

    Raises OSError (``ENOSYS`` where the C library has no ``fallocate``).
    """
    function = _libc_fallocate()
    if function is None:
        raise OSError(errno.ENOSYS, "fallocate is not available here")
    if function(fd, mode, offset, length) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def reserve_path(partial) -> Path:
    """``OUT.reserve`` beside ``OUT.partial``."""
    partial = Path(partial)
    name = partial.name[: -len(".partial")] if partial.name.endswith(".partial") else partial.name
    return partial.with_name(name + ".reserve")


def create_beside_output(path) -> int:
    """Create ``path`` (a file renp_scan keeps beside its output) and return its fd.

    Never follows a symbolic link and never truncates an existing file: the name is
    created with ``O_CREAT | O_EXCL | O_NOFOLLOW``. A regular file or a link already
    at the name is a leftover of a killed run (the caller holds ``OUT.lock``): the
    name is unlinked, which leaves whatever a link pointed at untouched. Anything
    else there (a directory, a FIFO) is refused with :class:`InputError`.
    """
    path = Path(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    for _attempt in range(3):
        try:
            return os.open(path, flags, 0o644)
        except FileExistsError:
            remove_leftover(path)
    raise InputError("output", f"could not create {str(path)!r} (another process keeps "
                     "creating it)")


def remove_leftover(path) -> None:
    """Unlink the regular file or link at ``path`` (a killed run's leftover), if any.

    A link is removed, never followed. Anything else there (a directory, a FIFO) is
    refused with :class:`InputError`; the caller holds ``OUT.lock``.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise InputError("output", f"{str(path)!r} exists and is not a file renp_scan made "
                         "(a directory or special file); move it away and rerun") from None
    path.unlink(missing_ok=True)


def _fsize_limit() -> int | None:
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


class SpaceGuard:
    """The room held ahead, or the reserve file, and the size checks of one run.

    See the module doc. :meth:`open` chooses the way: room past the partial's end
    where the file system can allocate it (:attr:`ahead` True), else ``OUT.reserve``.

    Parameters
    ----------
    partial : str or Path
        The partial being written (it exists when :meth:`open` is called).
    block_bytes : int
        Upper bound on the stored size of one block [bytes].
    """

    def __init__(self, partial, block_bytes: int):
        self.partial = Path(partial)
        self.path = reserve_path(partial)
        self.block_bytes = int(block_bytes)
        self.reserve_bytes = self.block_bytes + METADATA_HEADROOM
        #: True when the room is held inside the partial, past its end.
        self.ahead = False
        self._fd = None

    def open(self) -> None:
        """Hold the room for the first block; OutOfSpace if even that does not fit."""
        limit = _fsize_limit()
        if limit is not None and self.reserve_bytes > limit:
            raise OutOfSpace(errno.EFBIG, f"the file-size limit (ulimit -f) of {limit} bytes is "
                             f"below one block plus headroom ({self.reserve_bytes} bytes)")
        fd = os.open(self.partial, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._hold_ahead(fd, starting=True)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in UNSUPPORTED_ERRNOS:
                raise
        else:
            self._fd, self.ahead = fd, True
            remove_leftover(self.path)  # a reserve file of an earlier run on another system
            return
        self._fd = create_beside_output(self.path)
        self._take(starting=True)

    def _hold_ahead(self, fd: int, starting: bool = False) -> None:
        """Allocate ``reserve_bytes`` past the partial's end (its size unchanged)."""
        end = os.fstat(fd).st_size
        try:
            fallocate(fd, FALLOC_FL_KEEP_SIZE, end, self.reserve_bytes)
        except OSError as exc:
            if exc.errno in SPACE_ERRNOS:
                raise self._no_room(exc.errno, starting) from None
            raise

    def _no_room(self, code: int, starting: bool) -> OutOfSpace:
        when = "to start" if starting else "for the next block"
        return OutOfSpace(code, f"no room {when} on the file system of {self.partial.parent} "
                          f"({os.strerror(code)}; {self.reserve_bytes / 1e6:.3g} MB wanted)")

    def _take(self, starting: bool = False) -> None:
        if not hasattr(os, "posix_fallocate"):  # macOS, Windows
            self._fill_zeros()
            return
        try:
            os.posix_fallocate(self._fd, 0, self.reserve_bytes)
        except OSError as exc:
            if exc.errno not in SPACE_ERRNOS:
                if exc.errno in UNSUPPORTED_ERRNOS:
                    self._fill_zeros()
                    return
                raise
            os.ftruncate(self._fd, 0)  # give back what was allocated: the close needs it
            raise self._no_room(exc.errno, starting) from None

    def _fill_zeros(self) -> None:
        # File systems without fallocate (some NFS): real zeros allocate the space.
        zeros = bytes(2**20)
        written = 0
        try:
            while written < self.reserve_bytes:
                written += os.pwrite(self._fd, zeros[: self.reserve_bytes - written], written)
        except OSError as exc:
            if exc.errno not in SPACE_ERRNOS:
                raise
            os.ftruncate(self._fd, 0)
            raise OutOfSpace(exc.errno, f"no room on the file system of {self.partial.parent} "
                             f"({os.strerror(exc.errno)})") from None

    def before_write(self, partial_bytes: int) -> None:
        """Call before storing a block: check the size limit, make room for the block.

        Parameters
        ----------
        partial_bytes : int
            Current size of the partial (HDF5's end of allocation) [bytes].
        """
        limit = _fsize_limit()
        if limit is not None and partial_bytes + self.reserve_bytes > limit:
            raise OutOfSpace(errno.EFBIG, f"the partial would pass the file-size limit "
                             f"(ulimit -f) of {limit} bytes")
        if self._fd is None:
            return
        if self.ahead:
            self._hold_ahead(self._fd)
        else:
            os.ftruncate(self._fd, 0)

    def after_write(self) -> None:
        """Call after a block is stored and flagged: take the reserve file back (OutOfSpace if full)."""
        if self._fd is not None and not self.ahead:
            self._take()

    def release(self) -> None:
        """Give the reserve file's space back (before the final flush and close)."""
        if self._fd is not None and not self.ahead:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Give back the room past the partial's end, or remove the reserve file (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self.ahead:
                # Truncating to its own size frees what was allocated past the end (ext4,
                # XFS and tmpfs do; elsewhere the room stays allocated: disk use, not data).
                os.ftruncate(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
            if not self.ahead:
                self.path.unlink(missing_ok=True)
