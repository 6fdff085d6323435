"""Progress of a sweep on stderr: blocks done, points per second, ETA.

On a terminal a tqdm bar; otherwise (a batch job's log, a pipe, a CI run) one plain
line every :data:`PLAIN_INTERVAL_S` seconds and one when the last block is done, so a
log file holds readable lines instead of carriage-return redraws.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL_S = 30.0


def _eta(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class BlockProgress:
    """Progress counted in blocks, with the throughput in cube entries per second.

    Parameters
    ----------
    total_blocks : int
        Blocks of the whole cube.
    done_blocks : int
        Blocks already done (a resumed run starts there).
    enabled : bool
        False (``--quiet``) shows nothing.
    stream : file, optional
        Where to write; stderr by default so stdout stays clean. A tqdm bar if it is a
        terminal (``isatty()``), plain lines otherwise.
    interval_s : float
        Seconds between plain lines [s].
    """

    def __init__(self, total_blocks: int, done_blocks: int = 0, enabled: bool = True,
                 stream=None, interval_s: float = PLAIN_INTERVAL_S):
        self._stream = stream or sys.stderr
        self._total, self._done, self._computed = total_blocks, done_blocks, 0
        self._points = 0
        self._start = self._last_line = time.perf_counter()
        self._interval_s = interval_s
        self._enabled = enabled
        self._waiting = None
        isatty = getattr(self._stream, "isatty", None)
        self._bar = None
        if enabled and isatty is not None and isatty():
            self._bar = tqdm(total=total_blocks, initial=done_blocks, unit="block",
                             file=self._stream, dynamic_ncols=True, smoothing=0.05,
                             desc="renp-scan")

    @property
    def interactive(self) -> bool:
        """True when a tqdm bar is drawn (stderr is a terminal and not ``--quiet``)."""
        return self._bar is not None

    def _rate(self) -> float:
        elapsed = time.perf_counter() - self._start
        return self._points / elapsed if elapsed > 0 else 0.0

    def _line(self, text: str) -> None:
        print(f"renp-scan: {text}", file=self._stream, flush=True)
        self._last_line = time.perf_counter()

    def _status(self) -> str:
        text = (f"{self._done} of {self._total} blocks "
                f"({100 * self._done / max(1, self._total):.0f}%), {self._rate():,.0f} pts/s")
        elapsed = time.perf_counter() - self._start
        if 0 < self._computed and self._done < self._total:
            text += f", ETA {_eta(elapsed / self._computed * (self._total - self._done))}"
        return text

    def update(self, n_points: int) -> None:
        """Count one finished block of ``n_points`` entries."""
        self._points += n_points
        self._done += 1
        self._computed += 1
        if self._waiting is not None:
            self.waiting(None)
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._rate():,.0f} pts/s", refresh=False)
            self._bar.update(1)
        elif self._enabled and (time.perf_counter() - self._last_line >= self._interval_s
                                or (self._done == self._total and self._computed)):
            self._line(self._status())

    def waiting(self, seconds: float | None, limit_s: float | None = None) -> None:
        """Say that no worker has been available for ``seconds`` [s] (None: workers again).

        ``limit_s`` is when the run gives up [s] (shown with the wait).
        """
        if seconds is None:
            if self._waiting is not None and self._bar is not None:
                self._bar.set_description_str("renp-scan", refresh=True)
            self._waiting = None
            return
        text = f"waiting for workers (none for {seconds:.0f} s"
        text += f"; stopping after {limit_s:g} s)" if limit_s is not None else ")"
        first = self._waiting is None
        self._waiting = seconds
        if self._bar is not None:
            self._bar.set_description_str(f"renp-scan {text}", refresh=True)
        elif self._enabled and (first or time.perf_counter() - self._last_line
                                >= self._interval_s):
            self._line(f"{self._status()}; {text}")

    def close(self) -> None:
        """Finish the bar (leaves the last state on screen)."""
        if self._bar is not None:
            self._bar.close()
