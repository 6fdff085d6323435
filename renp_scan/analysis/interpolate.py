"""Rates from a cube, interpolated: cubic spline in m0, linear in omega.

At fixed omega, Gamma(omega; m0) (Yoshimura & Sasao eqs. 18-23) is smooth in m0
except where a pair threshold omega_ij(m0) = eps_eg/2 - (m_i + m_j)^2 / (2 eps_eg)
crosses omega: there the phase-space factor Delta_ij opens like a square root.
:class:`SplineRates` interpolates each needed omega column of a
:class:`~renp_scan.analysis.table.RateTable` with a not-a-knot cubic spline in
m0 (scipy ``make_interp_spline``; lower order for fewer than 4 knots), and
frequencies between two cube columns linearly in omega. Both steps are linear
in the data, so they commute: the omega weights are applied to the m0 knots
once per plan, and the spline is built on the plan's columns only.

Accuracy (measured against direct :func:`renp_scan.spectrum` evaluation at the
m0 mid-points, documented in ``docs/sensitivity.md`` and checked by
``tests/test_interpolate.py``), for a linear m0 grid of step 1 meV on [0, 0.2] eV:
at most 2.2e-7 (Cs) / 6.3e-10 (Xe) relative for omega at least 10 meV below every
threshold the grid reaches (1e-5 / 3e-8 at 3 meV below). Where a threshold
crosses omega, the error is set by the square-root onset (up to ~6 % of the peak
rate for Cs, ~3 % for Xe) and shrinks only slowly with the step -- use a dense m0
grid there, or :class:`~renp_scan.analysis.direct.ModelRates`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from scipy.interpolate import make_interp_spline

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
        self._splines = OrderedDict()
        # Toy studies share one source between dask threads.
        self._lock = threading.Lock()

    @property
    def degree(self) -> int:
        """Spline degree in m0 (3, or fewer with fewer than 4 knots)."""
        return min(3, self.table.m0_eV.size - 1)

    def _spline(self, hierarchy, nature, omega):
        key = (hierarchy, nature, omega.tobytes())
        with self._lock:
            spline = self._splines.get(key)
            if spline is not None:
                self._splines.move_to_end(key)
                return spline
        ih, inat = self.table.index(hierarchy, nature)
        i0, i1, w = linear_weights(self.table.omega_eV, omega)
        rate = self.table.rate_Hz[ih, inat]
        knots = (1.0 - w) * rate[:, i0] + w * rate[:, i1]
        if self.degree == 0:
            spline = _Constant(knots[0])
        else:
            spline = make_interp_spline(self.table.m0_eV, knots, k=self.degree, axis=0)
        with self._lock:
            self._splines[key] = spline
            if len(self._splines) > _CACHE_SIZE:
                self._splines.popitem(last=False)
        return spline

    def rates_Hz(self, hierarchy, nature, m0_eV, omega_eV) -> np.ndarray:
        """Interpolated Gamma [Hz], shape (len(m0_eV), len(omega_eV)); see RateSource."""
        m0 = self.check_m0(m0_eV)
        omega = np.ascontiguousarray(np.atleast_1d(omega_eV), dtype=float)
        values = self._spline(hierarchy, nature, omega)(m0)
        # A spline next to a threshold kink can dip below zero; a rate cannot.
        return np.maximum(values, 0.0)

    def describe(self) -> dict:
        """Provenance attributes (the table's, plus the interpolation used)."""
        attrs = super().describe()
        attrs.update({f"table_{k}": v for k, v in self.table.attrs.items()})
        attrs["interpolation"] = (f"spline of degree {self.degree} in m0 over "
                                  f"{self.table.m0_eV.size} knots; linear in omega")
        attrs["phase_index"] = self.table.phase
        return attrs


class _Constant:
    """A one-knot table: the same rates at its single m0."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def __call__(self, m0):
        return np.broadcast_to(self.values, (np.size(m0), self.values.size)).copy()
