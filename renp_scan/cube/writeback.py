"""Send a partial's stored blocks to the disk while the run goes on.

A finished cube is fsynced before its rename. Left to that moment, the fsync waits
for every byte of the cube to reach the disk, after all the work is done: on this
project's virtual disk, writing 192 MB takes 0.06 s and its fsync 0.27-0.32 s, most
of an uncompressed sweep. A
:class:`Writeback` thread calls ``fdatasync`` on the partial whenever
:data:`SYNC_BYTES` more have been stored, so the disk writes overlap computing and
storing the next blocks, and the final fsync finds little left.

It changes nothing of what a run promises: flags are still set after a flush to
the OS (``docs/reliability.md``), so a ``kill -9`` is survived as before, and the
background syncs only make a power cut lose less. A failed sync (``EIO``, or a late
``ENOSPC``/``EDQUOT`` of a network file system) is raised by the next
:meth:`Writeback.check`: the kernel may have dropped the pages it could not write,
so the run must stop rather than go on trusting them.
"""

from __future__ import annotations

import os
import threading

#: Stored bytes between two background syncs: large enough that the syncs cost the
#: disk no extra seeks, small enough that little is left for the final fsync.
SYNC_BYTES = 32 * 2**20


class Writeback:
    """A thread that fdatasyncs ``path`` after each :data:`SYNC_BYTES` stored.

    The file is opened again read-only (``fdatasync`` of any descriptor of a file
    writes back all of its dirty pages), so HDF5's own descriptor is never touched.
    One sync runs at a time; bytes stored meanwhile wait for the next.

    Parameters
    ----------
    path : str or Path
        The partial being written.
    every_bytes : int, optional
        Stored bytes between two syncs (default :data:`SYNC_BYTES`).
    """

    def __init__(self, path, every_bytes: int | None = None):
        self.every_bytes = int(SYNC_BYTES if every_bytes is None else every_bytes)
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._pending = 0
        self._stop = False
        self._error: OSError | None = None
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="renp-scan-writeback",
                                        daemon=True)
        self._thread.start()

    def stored(self, nbytes: int) -> None:
        """Count ``nbytes`` just stored; wake the thread once :attr:`every_bytes` are due."""
        with self._wake:
            self._pending += int(nbytes)
            if self._pending >= self.every_bytes:
                self._wake.notify()

    def check(self) -> None:
        """Raise the error of a failed background sync, if one failed."""
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the thread and close its descriptor (idempotent); syncs nothing more."""
        if self._fd is None:
            return
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join()
        os.close(self._fd)
        self._fd = None

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stop and self._pending < self.every_bytes:
                    self._wake.wait()
                if self._stop:
                    return
                self._pending = 0
            try:
                os.fdatasync(self._fd) if hasattr(os, "fdatasync") else os.fsync(self._fd)
            except OSError as exc:
                self._error = exc
                return
