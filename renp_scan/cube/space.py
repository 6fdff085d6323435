"""Keep HDF5 from ever running out of space mid-write: a reserve file and a size check.

HDF5 does not survive a failed write well: after ``ENOSPC``/``EDQUOT``/``EFBIG``
in the middle of a chunk or metadata write, its in-memory state no longer matches
the file, closing it can write an inconsistent index (the partial then cannot be
resumed) and h5py may even crash. So the writer makes sure each write fits
*before* handing it to HDF5:

* a reserve file ``OUT.reserve`` of :attr:`SpaceGuard.reserve_bytes` (the largest
  block plus room for HDF5's metadata and its final flush) is allocated on the
  output's file system when the run starts. Before each block is stored the
  reserve is released, so the block and its metadata land in space this run owned
  a moment ago (other users and quotas included); after the block it is taken
  back. When it cannot be taken back the file system is full: the block just
  written is safe, and the run stops cleanly with :class:`OutOfSpace`;
* the soft ``RLIMIT_FSIZE`` of the process (a per-file size limit, invisible to
  the file system) is compared with the partial's size plus the block before
  each write.
"""

from __future__ import annotations

import errno
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
            pass
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise InputError("output", f"{str(path)!r} exists and is not a file renp_scan made "
                             "(a directory or special file); move it away and rerun") from None
        path.unlink(missing_ok=True)
    raise InputError("output", f"could not create {str(path)!r} (another process keeps "
                     "creating it)")


def _fsize_limit() -> int | None:
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


class SpaceGuard:
    """The reserve file and size checks of one run (see the module doc).

    Parameters
    ----------
    partial : str or Path
        The partial being written.
    block_bytes : int
        Upper bound on the stored size of one block [bytes].
    """

    def __init__(self, partial, block_bytes: int):
        self.partial = Path(partial)
        self.path = reserve_path(partial)
        self.block_bytes = int(block_bytes)
        self.reserve_bytes = self.block_bytes + METADATA_HEADROOM
        self._fd = None

    def open(self) -> None:
        """Create and fill the reserve; OutOfSpace if even that does not fit."""
        limit = _fsize_limit()
        if limit is not None and self.reserve_bytes > limit:
            raise OutOfSpace(errno.EFBIG, f"the file-size limit (ulimit -f) of {limit} bytes is "
                             f"below one block plus headroom ({self.reserve_bytes} bytes)")
        self._fd = create_beside_output(self.path)
        self._take(starting=True)

    def _take(self, starting: bool = False) -> None:
        if not hasattr(os, "posix_fallocate"):  # macOS, Windows
            self._fill_zeros()
            return
        try:
            os.posix_fallocate(self._fd, 0, self.reserve_bytes)
        except OSError as exc:
            if exc.errno not in SPACE_ERRNOS:
                if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    self._fill_zeros()
                    return
                raise
            os.ftruncate(self._fd, 0)  # give back what was allocated: the close needs it
            when = "to start" if starting else "for the next block"
            raise OutOfSpace(exc.errno, f"no room {when} on the file system of "
                             f"{self.partial.parent} ({os.strerror(exc.errno)}; "
                             f"{self.reserve_bytes / 1e6:.3g} MB wanted)") from None

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
        """Call before storing a block: check the size limit, release the reserve.

        Parameters
        ----------
        partial_bytes : int
            Current size of the partial (HDF5's end of allocation) [bytes].
        """
        limit = _fsize_limit()
        if limit is not None and partial_bytes + self.reserve_bytes > limit:
            raise OutOfSpace(errno.EFBIG, f"the partial would pass the file-size limit "
                             f"(ulimit -f) of {limit} bytes")
        if self._fd is not None:
            os.ftruncate(self._fd, 0)

    def after_write(self) -> None:
        """Call after a block is stored and flagged: take the reserve back (OutOfSpace if full)."""
        if self._fd is not None:
            self._take()

    def release(self) -> None:
        """Give the reserve back to the file system (before the final flush and close)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Remove the reserve file this guard created (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)
