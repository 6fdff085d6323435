"""Rates from a cube, interpolated: cubic spline (PCHIP near thresholds) in m0, linear in omega.

At fixed omega, Gamma(omega; m0) (Yoshimura & Sasao eqs. 18-23) is smooth in m0
except where a pair threshold omega_ij(m0) = eps_eg/2 - (m_i + m_j)^2 / (2 eps_eg)
crosses omega: there the phase-space factor Delta_ij opens like a square root.
:class:`SplineRates` interpolates each needed omega column of a
:class:`~renp_scan.analysis.table.RateTable` in m0: with a not-a-knot cubic
spline (scipy ``make_interp_spline``; lower order for fewer than 4 knots) below
the lowest threshold the m0 grid reaches, and with PCHIP at and above it, where
a column may hold a threshold crossing (PCHIP does not ring across the kink and
keeps rates non-negative and exact zeros zero, which zero-background fits need).
Frequencies between two cube columns are interpolated linearly in omega.

Accuracy (measured against direct :func:`renp_scan.spectrum` evaluation at the
m0 mid-points, documented in ``docs/sensitivity.md`` and checked by
``tests/test_interpolate.py``), for a linear m0 grid of step 1 meV on [0, 0.2] eV:
at most 2.2e-7 (Cs) / 6.3e-10 (Xe) relative for omega at least 10 meV below every
threshold the grid reaches (1e-5 / 3e-8 at 3 meV below). Where a threshold
crosses omega, the error is set by the square-root onset: up to 6.4 % (Cs) /
4.8 % (Xe) of the peak rate at the worst point, 0.6 % / 0.35 % at the 99th
percentile, and it shrinks only slowly with the step -- use a dense m0 grid
there, or :class:`~renp_scan.analysis.direct.ModelRates`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from scipy.interpolate import PchipInterpolator, make_interp_spline

from ..model.neutrinos import pair_thresholds_eV
from .source import RateSource
from .table import RateTable, linear_weights

#: Splines kept per source (one per hypothesis and frequency set).
_CACHE_SIZE = 64


class SplineRates(RateSource):
    """Rate source that interpolates a :class:`RateTable` (see module doc).

    Parameters
    ----------
    table : RateTable
        Rates on (hierarchy, nature, m0, omega).
    """

    def __init__(self, table: RateTable):
        self.table = table
        self.target = table.target
        self.eps_eg_eV = table.eps_eg_eV
        self.channel = table.channel
        self.coulomb_model = table.coulomb_model
        self.hierarchies = table.hierarchies
        self.natures = table.natures
        knots = table.m0_eV
        if knots.size > 1:
            # Knots plus mid-points: profiles find every local minimum the
            # spline can have between two knots.
            mids = 0.5 * (knots[1:] + knots[:-1])
            self.m0_scan_eV = np.sort(np.concatenate([knots, mids]))
        else:
            self.m0_scan_eV = knots.copy()
        self.kink_floor_eV = _lowest_threshold(table)
        self._splines = OrderedDict()
        # Toy studies share one source between dask threads.
        self._lock = threading.Lock()

    @property
    def degree(self) -> int:
        """Spline degree in m0 of the smooth columns (3, or fewer with fewer than 4 knots)."""
        return min(3, self.table.m0_eV.size - 1)

    def _interpolator(self, hierarchy, nature, omega):
        key = (hierarchy, nature, omega.tobytes())
        with self._lock:
            found = self._splines.get(key)
            if found is not None:
                self._splines.move_to_end(key)
                return found
        ih, inat = self.table.index(hierarchy, nature)
        i0, i1, w = linear_weights(self.table.omega_eV, omega)
        found = _Columns(self.table.m0_eV, self.table.rate_Hz[ih, inat], self.table.omega_eV,
                         i0, i1, w, self.degree, self.kink_floor_eV)
        with self._lock:
            self._splines[key] = found
            if len(self._splines) > _CACHE_SIZE:
                self._splines.popitem(last=False)
        return found

    def rates_Hz(self, hierarchy, nature, m0_eV, omega_eV) -> np.ndarray:
        """Interpolated Gamma [Hz], shape (len(m0_eV), len(omega_eV)); see RateSource."""
        m0 = self.check_m0(m0_eV)
        omega = np.ascontiguousarray(np.atleast_1d(omega_eV), dtype=float)
        values = self._interpolator(hierarchy, nature, omega)(m0)
        # A cubic next to the threshold window can still dip below zero; a rate cannot.
        return np.maximum(values, 0.0)

    def describe(self) -> dict:
        """Provenance attributes (the table's, plus the interpolation used)."""
        attrs = super().describe()
        attrs.update({f"table_{k}": v for k, v in self.table.attrs.items()})
        attrs["interpolation"] = (
            f"m0 ({self.table.m0_eV.size} knots): spline of degree {self.degree} for omega < "
            f"{self.kink_floor_eV:.9g} eV, PCHIP above (threshold crossings); omega: linear")
        attrs["phase_index"] = self.table.phase
        return attrs


def _lowest_threshold(table: RateTable) -> float:
    """Lowest pair threshold omega_ij [eV] any hierarchy reaches on the table's m0 range.

    Thresholds fall as m0 grows, so it is reached at the largest m0; below it no
    column of the table has a threshold crossing in m0.
    """
    m0_max = float(table.m0_eV[-1])
    lowest = float(pair_thresholds_eV(table.eps_eg_eV, m0_max, table.hierarchies).min())
    return max(lowest, 0.0)


class _Columns:
    """Gamma(m0) at a set of frequencies: per-column interpolants, then omega weights.

    Columns below ``kink_floor_eV`` are smooth in m0 and get the cubic spline;
    columns at or above it may hold a threshold crossing (a square-root kink), and
    get PCHIP, which does not ring across the kink, keeps non-negative data
    non-negative and reproduces exact zeros above a threshold. PCHIP is not linear
    in the data, so each needed cube column is interpolated in m0 first and the
    linear omega weights are applied after.
    """

    def __init__(self, m0, rate, omega_grid, i0, i1, w, degree, kink_floor_eV):
        cols = np.unique(np.concatenate([i0, i1]))
        self.pos0 = np.searchsorted(cols, i0)
        self.pos1 = np.searchsorted(cols, i1)
        self.w = w
        values = rate[:, cols]
        self.n_cols = cols.size
        self.kinked = omega_grid[cols] >= kink_floor_eV
        self.parts = []
        for mask in (~self.kinked, self.kinked):
            if not np.any(mask):
                continue
            if degree == 0:
                interp = _Constant(values[0, mask])
            elif np.array_equal(mask, self.kinked):
                interp = PchipInterpolator(m0, values[:, mask], axis=0)
            else:
                interp = make_interp_spline(m0, values[:, mask], k=degree, axis=0)
            self.parts.append((mask, interp))

    def __call__(self, m0):
        out = np.empty((m0.size, self.n_cols))
        for mask, interp in self.parts:
            out[:, mask] = interp(m0)
        return (1.0 - self.w) * out[:, self.pos0] + self.w * out[:, self.pos1]


class _Constant:
    """A one-knot table: the same rates at its single m0."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def __call__(self, m0):
        return np.broadcast_to(self.values, (np.size(m0), self.values.size)).copy()
