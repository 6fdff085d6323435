"""Rates by direct evaluation of the model, for checks and threshold-dominated plans.

:class:`ModelRates` calls :func:`renp_scan.spectrum` (Yoshimura & Sasao eqs.
18-23) at every requested (m0, omega): exact, no interpolation error, and
slower than :class:`~renp_scan.analysis.interpolate.SplineRates` by the cost of
one spectrum call per m0 (tens of microseconds).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..model.physics import DEFAULT_COULOMB_MODEL, DENSITY_CM3, ETA, VOLUME_CM3, Physics
from ..model.spectrum import rate_line
from ..model.targets import get_target
from .source import RateSource


class ModelRates(RateSource):
    """Rate source evaluating :func:`renp_scan.spectrum` directly.

    Parameters
    ----------
    atom : str
        Target key.
    m0_range_eV : (float, float)
        Range of m0 [eV] profiles may explore.
    m0_scan_points : int
        Points of the linear grid profiles scan before refining (>= 2).
    hierarchies, natures : sequence of str
        Discrete hypotheses offered.
    channel : {"nucleus", "core"}
    majorana_phases_rad : (float, float)
        (alpha21, alpha31) [rad].
    density_cm3, volume_cm3, eta : float
        n [cm^-3], V [cm^3] and eta of eq. 18.
    oscillation_data : OscillationData, optional
    coulomb_model : {"thomas-fermi", "valence"}
        Model of the Coulomb integrals (see :func:`renp_scan.spectrum`).
    level_ratio : {"eq19", "eq23-printed"}, optional
        Form of the level ratio of F(omega) (see :func:`renp_scan.spectrum`); None uses
        the target's own.
    """

    def __init__(self, atom, m0_range_eV=(0.0, 0.3), m0_scan_points=301,
                 hierarchies=("NH", "IH"), natures=("majorana", "dirac"), channel="nucleus",
                 majorana_phases_rad=(0.0, 0.0), density_cm3=DENSITY_CM3,
                 volume_cm3=VOLUME_CM3, eta=ETA, oscillation_data=None,
                 coulomb_model=DEFAULT_COULOMB_MODEL, level_ratio=None):
        lo, hi = (float(v) for v in m0_range_eV)
        if not (0.0 <= lo < hi):
            raise InputError("m0_range_eV", f"must satisfy 0 <= low < high, got {m0_range_eV!r}")
        if int(m0_scan_points) < 2:
            raise InputError("m0_scan_points", f"must be >= 2, got {m0_scan_points!r}")
        self.target = str(atom)
        self._target = get_target(atom)
        self.eps_eg_eV = self._target.eps_eg_eV
        self.channel = channel
        self.coulomb_model = str(coulomb_model)
        self.hierarchies = tuple(hierarchies)
        self.natures = tuple(natures)
        self.m0_scan_eV = np.linspace(lo, hi, int(m0_scan_points))
        self._physics = Physics(channel=channel, majorana_phases_rad=majorana_phases_rad,
                                density_cm3=density_cm3, volume_cm3=volume_cm3, eta=eta,
                                coulomb_model=self.coulomb_model,
                                oscillation_data=oscillation_data, level_ratio=level_ratio)
        # Validate every hypothesis once, so bad input fails here and not mid-fit.
        for h, n in self.hypotheses:
            rate_line(self._target, 0.5 * self.eps_eg_eV, lo, self._point(h, n))

    def _point(self, hierarchy, nature) -> Physics:
        return replace(self._physics, hierarchy=hierarchy, majorana=nature)

    def rates_Hz(self, hierarchy, nature, m0_eV, omega_eV) -> np.ndarray:
        """Exact Gamma [Hz], shape (len(m0_eV), len(omega_eV)); see RateSource."""
        if hierarchy not in self.hierarchies or nature not in self.natures:
            raise InputError("hypothesis", f"({hierarchy}, {nature}) is not offered; the source "
                             f"has {self.hierarchies} x {self.natures}")
        m0 = self.check_m0(m0_eV)
        omega = np.ascontiguousarray(np.atleast_1d(omega_eV), dtype=float)
        out = np.empty((m0.size, omega.size))
        point = self._point(hierarchy, nature)
        for j, m in enumerate(m0):
            rate_line(self._target, omega, float(m), point, out=out[j])
        return out

    def describe(self) -> dict:
        """Provenance attributes (physics settings used)."""
        attrs = super().describe()
        for key in ("density_cm3", "volume_cm3", "eta"):
            attrs[key] = getattr(self._physics, key)
        attrs["majorana_phases_rad"] = np.asarray(self._physics.majorana_phases_rad, float)
        return attrs
