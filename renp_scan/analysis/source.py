"""The interface every rate source of the analysis layer offers.

A rate source answers one question: Gamma(omega) [Hz] (Yoshimura & Sasao eqs.
18-23) for a discrete hypothesis (hierarchy, nature), at many smallest masses m0
and the frequencies of a plan. Two implementations exist:
:class:`~renp_scan.analysis.interpolate.SplineRates` (a cube, interpolated) and
:class:`~renp_scan.analysis.direct.ModelRates` (direct model evaluation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import InputError


class RateSource(ABC):
    """Gamma [Hz] as a function of (hierarchy, nature, m0 [eV], omega [eV]).

    Attributes
    ----------
    target : str
        Target key.
    eps_eg_eV : float
        Level spacing eps_e - eps_g [eV].
    channel : str
        Emission channel.
    coulomb_model : str
        Model of the Coulomb integrals of the rates (``"thomas-fermi"``, the paper's,
        or ``"valence"``).
    hierarchies, natures : tuple of str
        The discrete hypotheses available.
    m0_scan_eV : ndarray
        Increasing grid of m0 [eV] on which profiles are first scanned before
        refinement; its ends are the allowed m0 range.
    """

    target: str
    eps_eg_eV: float
    channel: str
    coulomb_model: str = "thomas-fermi"
    hierarchies: tuple
    natures: tuple
    m0_scan_eV: np.ndarray

    @property
    def m0_range_eV(self) -> tuple[float, float]:
        """(smallest, largest) m0 [eV] the source covers."""
        return float(self.m0_scan_eV[0]), float(self.m0_scan_eV[-1])

    @property
    def hypotheses(self) -> list[tuple[str, str]]:
        """Every (hierarchy, nature) pair."""
        return [(h, n) for h in self.hierarchies for n in self.natures]

    def check_m0(self, m0_eV) -> np.ndarray:
        """m0 as a 1-D float array [eV]; InputError outside :attr:`m0_range_eV`."""
        m0 = np.atleast_1d(np.asarray(m0_eV, dtype=float))
        lo, hi = self.m0_range_eV
        slack = 1e-12 * max(hi, 1e-3)
        if not np.all(np.isfinite(m0)) or np.any(m0 < lo - slack) or np.any(m0 > hi + slack):
            raise InputError("m0_eV", f"must lie in the rate source's range [{lo:g}, {hi:g}] eV, "
                             f"got {m0.min():g}..{m0.max():g}")
        return np.clip(m0, lo, hi)

    @abstractmethod
    def rates_Hz(self, hierarchy: str, nature: str, m0_eV, omega_eV) -> np.ndarray:
        """Gamma(omega_k; m0_j) [Hz] as an array of shape (len(m0_eV), len(omega_eV)).

        Parameters
        ----------
        hierarchy : {"NH", "IH"}
        nature : {"majorana", "dirac"}
        m0_eV : array_like, shape (J,)
            Smallest neutrino masses [eV] inside :attr:`m0_range_eV`.
        omega_eV : array_like, shape (K,)
            Photon energies [eV].
        """

    def describe(self) -> dict:
        """Provenance attributes for result files."""
        lo, hi = self.m0_range_eV
        return {"rate_source": type(self).__name__, "target": self.target,
                "eps_eg_eV": float(self.eps_eg_eV), "channel": self.channel,
                "coulomb_model": self.coulomb_model,
                "m0_range_eV": np.array([lo, hi])}
