"""Grids of photon energy omega and smallest neutrino mass m0 [eV]: build and merge.

Pure functions of floats. Scan files (:mod:`renp_scan.sweep.scanfile`) and
measurement plans (:mod:`renp_scan.analysis.plan`) both build their omega points
here, so a merged grid means the same thing in a cube and in a plan: points
closer than :data:`MERGE_RTOL` times eps_eg are one point.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MERGE_RTOL", "linear_grid", "log_grid", "merge_grids"]

#: Grid points closer than this fraction of eps_eg are merged, so a threshold
#: point landing next to a regular point does not create a near-zero step (and a
#: plan does not measure the same laser frequency twice).
MERGE_RTOL = 1e-12


def linear_grid(start: float, stop: float, count: int) -> np.ndarray:
    """Evenly spaced grid with both ends, except an open end at zero.

    Parameters
    ----------
    start, stop : float
        Range ends, ``0 <= start``; ``stop > start`` unless ``count == 1`` and
        ``start == stop > 0``.
    count : int
        Number of points, >= 1.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 points. If ``start == 0`` the zero end is left out
        (omega = 0 is outside the domain): the points are
        ``stop * k / count`` for ``k = 1 .. count``. Otherwise
        ``numpy.linspace(start, stop, count)``.
    """
    if start == 0.0:
        return stop * np.arange(1, count + 1, dtype=np.float64) / count
    return np.linspace(start, stop, count, dtype=np.float64)


def log_grid(start: float, stop: float, count: int) -> np.ndarray:
    """Logarithmically spaced grid with both ends (``start > 0``).

    Parameters
    ----------
    start, stop : float
        Range ends, ``0 < start <= stop``.
    count : int
        Number of points, >= 1.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 points; the ends are exactly ``start`` and ``stop``.
    """
    grid = np.geomspace(start, stop, count, dtype=np.float64)
    # geomspace goes through exp/log; pin the ends so they are the user's values.
    grid[0] = start
    grid[-1] = stop
    return grid


def merge_grids(grids, atol: float) -> np.ndarray:
    """Sorted union of 1-D grids with points closer than ``atol`` merged.

    Parameters
    ----------
    grids : sequence of numpy.ndarray
        Grids to merge (any order).
    atol : float
        Points within ``atol`` of the previous kept point are dropped (same
        unit as the grids), so the result is strictly increasing with steps
        larger than ``atol``. The smallest point is always kept, zero or not.

    Returns
    -------
    numpy.ndarray
        1-D float64, strictly increasing.
    """
    merged = np.unique(np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grids]))
    if merged.size < 2:
        return merged
    close_pairs = np.flatnonzero(np.diff(merged) <= atol)
    if close_pairs.size == 0:
        return merged
    keep = np.ones(merged.size, dtype=bool)
    # Greedy against the last *kept* point, so a run of close points collapses
    # to one point per atol. Only the right member of a close pair can be
    # dropped, so the Python loop runs over close pairs only (usually few).
    last = merged[0]
    for i in close_pairs:
        if keep[i]:
            last = merged[i]
        if merged[i + 1] - last <= atol:
            keep[i + 1] = False
    return merged[keep]
