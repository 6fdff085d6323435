"""SIGINT/SIGTERM as a clean stop between blocks: a block being written is finished first."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path


class ScanInterrupted(Exception):
    """A run stopped by SIGINT or SIGTERM; the partial cube is kept.

    Attributes
    ----------
    signum : int
        The signal received.
    partial : Path
        The kept ``OUT.partial``.
    blocks_done, blocks_total : int
        Progress at the stop.
    """

    def __init__(self, signum: int, partial: Path, blocks_done: int, blocks_total: int):
        self.signum = signum
        self.partial = partial
        self.blocks_done = blocks_done
        self.blocks_total = blocks_total
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {name} after {blocks_done} of {blocks_total} blocks; "
            f"{partial} is kept: rerun the same command to resume")

    @property
    def exit_status(self) -> int:
        """Shell convention 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class _Stop(BaseException):
    """Raised in the main thread by the signal handler (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _SignalGuard:
    """SIGINT/SIGTERM become :class:`_Stop`, deferred while a block is being written."""

    def __init__(self):
        self.critical = False
        self.pending = None
        self._previous = {}

    def _handler(self, signum, frame):
        if self.critical:
            self.pending = signum
            return
        raise _Stop(signum)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    @contextmanager
    def protect(self):
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending is not None:
            raise _Stop(self.pending)
