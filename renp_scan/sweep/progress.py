"""Progress bar of a sweep on stderr: blocks done, points per second, ETA (tqdm)."""

from __future__ import annotations

import sys
import time


class BlockProgress:
    """A tqdm bar counting blocks, with the throughput in cube entries per second.

    Parameters
    ----------
    total_blocks : int
        Blocks of the whole cube.
    done_blocks : int
        Blocks already done (a resumed run starts the bar there).
    enabled : bool
        False (``--quiet``) draws nothing.
    stream : file, optional
        Where to draw; stderr by default so stdout stays clean.
    """

    def __init__(self, total_blocks: int, done_blocks: int = 0, enabled: bool = True, stream=None):
        from tqdm import tqdm

        self._points = 0
        self._start = time.perf_counter()
        self._bar = tqdm(total=total_blocks, initial=done_blocks, unit="block",
                         disable=not enabled, file=stream or sys.stderr, dynamic_ncols=True,
                         smoothing=0.05, desc="renp-scan")

    def update(self, n_points: int) -> None:
        """Count one finished block of ``n_points`` entries."""
        self._points += n_points
        elapsed = time.perf_counter() - self._start
        if elapsed > 0:
            self._bar.set_postfix_str(f"{self._points / elapsed:,.0f} pts/s", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        """Finish the bar (leaves the last state on screen)."""
        self._bar.close()
