"""Profile likelihood in the smallest neutrino mass m0 for one discrete hypothesis.

For counts n_k measured with a plan (omega_k, t_k, efficiency, background) and a
hypothesis (hierarchy, nature), :class:`DevianceCurve` is the Poisson deviance
D(m0) = D(n; mu(m0)) with mu_k(m0) = (efficiency Gamma(omega_k; m0) + b) t_k
(Gamma from Yoshimura & Sasao eqs. 18-23), optionally minimised over a free signal
normalisation at each m0. :meth:`DevianceCurve.minimize` finds its global minimum
(grid scan, then bounded Brent refinement); :meth:`DevianceCurve.interval` the
likelihood-ratio interval {m0 : D(m0) - D_min <= level} around it (level 1 is the
68.27 % interval for one parameter, Wilks' theorem).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from ..errors import InputError
from .likelihood import best_normalization, poisson_deviance
from .plan import NORMALIZATIONS, ResolvedPlan
from .source import RateSource

#: Stand-in for D = inf inside the 1-D optimisers (still far above any real D).
_FINITE_CAP = 1e200


@dataclass(frozen=True)
class ProfileResult:
    """Minimum of the deviance over m0 for one hypothesis, and how it was found.

    Attributes
    ----------
    hierarchy, nature : str
        The hypothesis.
    m0_eV : float
        Best-fit smallest mass [eV].
    deviance : float
        D at the minimum (dimensionless).
    normalization : float
        Signal scale at the minimum (1 when it is fixed).
    n_evaluations : int
        m0 values at which the deviance was evaluated.
    converged : bool
        Whether the refinement met its tolerance.
    at_boundary : bool
        Whether the minimum is at an end of the source's m0 range.
    """

    hierarchy: str
    nature: str
    m0_eV: float
    deviance: float
    normalization: float
    n_evaluations: int
    converged: bool
    at_boundary: bool


@dataclass(frozen=True)
class Interval:
    """Likelihood-ratio interval {m0 : D(m0) - D_min <= level} around the best fit.

    Attributes
    ----------
    low_eV, high_eV : float
        Ends [eV]; an end that reached the source's m0 range is that range end.
    low_at_limit, high_at_limit : bool
        The end is a range end (a one-sided limit on that side), not a crossing.
    level : float
        Delta chi^2 that defines the interval (1: 68.27 % for one parameter).
    disjoint : bool
        Another region of the scan grid also lies below the level (the connected
        interval around the best fit is reported).
    """

    low_eV: float
    high_eV: float
    low_at_limit: bool
    high_at_limit: bool
    level: float
    disjoint: bool

    def contains(self, m0_eV: float) -> bool:
        """Whether ``m0_eV`` [eV] lies inside (ends included)."""
        return self.low_eV <= m0_eV <= self.high_eV

    @property
    def half_width_eV(self) -> float:
        """(high - low) / 2 [eV]."""
        return 0.5 * (self.high_eV - self.low_eV)


class DevianceCurve:
    """D(m0) for fixed counts, plan and (hierarchy, nature); see the module doc.

    Parameters
    ----------
    source : RateSource
        Where Gamma [Hz] comes from.
    hierarchy, nature : str
        The hypothesis.
    counts : array_like, shape (K,)
        Observed or Asimov counts at the plan's frequencies.
    plan : ResolvedPlan
        Frequencies [eV], times [s], efficiency, background [Hz].
    normalization : {"fixed", "free"}
        Whether a free signal scale is profiled at every m0.
    """

    def __init__(self, source: RateSource, hierarchy: str, nature: str, counts,
                 plan: ResolvedPlan, normalization: str = "fixed"):
        if normalization not in NORMALIZATIONS:
            raise InputError("normalization", f"{normalization!r}; allowed: {NORMALIZATIONS}")
        counts = np.asarray(counts, dtype=float)
        if counts.shape != plan.omega_eV.shape:
            raise InputError("counts", f"has {counts.size} entries for {plan.omega_eV.size} "
                             "plan frequencies")
        if np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise InputError("counts", "must be finite and >= 0")
        self.source, self.hierarchy, self.nature = source, hierarchy, nature
        self.counts, self.plan, self.normalization = counts, plan, normalization
        self.n_evaluations = 0

    def evaluate(self, m0_eV):
        """(deviance, normalisation) at each m0 [eV], arrays of shape (J,)."""
        m0 = np.atleast_1d(np.asarray(m0_eV, dtype=float))
        rates = self.source.rates_Hz(self.hierarchy, self.nature, m0, self.plan.omega_eV)
        self.n_evaluations += m0.size
        signal = self.plan.signal_counts(rates)
        background = self.plan.background_counts
        if self.normalization == "free":
            scale = best_normalization(self.counts, signal, background)
        else:
            scale = np.ones(m0.size)
        mu = scale[:, None] * signal + background
        return poisson_deviance(self.counts, mu), scale

    def __call__(self, m0_eV):
        """Deviance at each m0 [eV] (array of shape (J,))."""
        return self.evaluate(m0_eV)[0]

    def _scalar(self, m0: float) -> float:
        # An alternative that forbids an observed count has D = inf; Brent's
        # parabolic steps need finite numbers, and any huge value ranks the same.
        return min(float(self(np.array([m0]))[0]), _FINITE_CAP)

    def minimize(self, xatol_eV: float = 1e-10) -> ProfileResult:
        """Global minimum over the source's m0 range: grid scan, then bounded Brent.

        Parameters
        ----------
        xatol_eV : float
            Absolute tolerance on m0 [eV] of the refinement.
        """
        grid = self.source.m0_scan_eV
        dev = self(grid)
        self._grid, self._grid_dev = grid, dev
        self.scan_deviance = dev
        i = int(np.argmin(dev))
        best_m0, best_dev, converged = float(grid[i]), float(dev[i]), True
        if grid.size > 1 and np.isfinite(best_dev):
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
            res = minimize_scalar(self._scalar, bounds=(lo, hi), method="bounded",
                                  options={"xatol": xatol_eV, "maxiter": 200})
            converged = bool(res.success)
            if res.fun < best_dev:
                best_m0, best_dev = float(res.x), float(res.fun)
        dev_best, scale_best = self.evaluate(np.array([best_m0]))
        lo_range, hi_range = self.source.m0_range_eV
        edge = max(xatol_eV * 10, 1e-9 * (hi_range - lo_range))
        self.best = ProfileResult(
            hierarchy=self.hierarchy, nature=self.nature, m0_eV=best_m0,
            deviance=float(dev_best[0]), normalization=float(scale_best[0]),
            n_evaluations=self.n_evaluations, converged=converged,
            at_boundary=bool(best_m0 - lo_range <= edge or hi_range - best_m0 <= edge))
        return self.best

    def interval(self, level: float = 1.0, profile: ProfileResult | None = None) -> Interval:
        """Likelihood-ratio interval around the minimum (call :meth:`minimize` first).

        Parameters
        ----------
        level : float
            Delta chi^2 above the minimum that bounds the interval (1, 4, 9 ...).
        profile : ProfileResult, optional
            The minimum to use (default: the last :meth:`minimize` result).
        """
        if not level > 0:
            raise InputError("level", f"must be > 0, got {level!r}")
        best = profile if profile is not None else getattr(self, "best", None)
        if best is None:
            best = self.minimize()
        grid, dev = self._grid, self._grid_dev
        threshold = best.deviance + level

        def f(m0):
            return self._scalar(m0) - threshold

        left = np.flatnonzero(grid < best.m0_eV)[::-1]
        right = np.flatnonzero(grid > best.m0_eV)
        low, low_limit = self._crossing(f, grid, dev, left, best.m0_eV, threshold)
        high, high_limit = self._crossing(f, grid, dev, right, best.m0_eV, threshold)
        outside = (grid < low) | (grid > high)
        disjoint = bool(np.any(outside & (dev <= threshold)))
        return Interval(low, high, low_limit, high_limit, float(level), disjoint)

    def _crossing(self, f, grid, dev, order, start, threshold):
        """Walk grid points ``order`` away from ``start`` to the first above the level."""
        inner = start
        for j in order:
            if dev[j] > threshold:
                root = brentq(f, min(grid[j], inner), max(grid[j], inner), xtol=1e-14, rtol=1e-12)
                return float(root), False
            inner = grid[j]
        if order.size == 0:
            return float(start), True
        return float(grid[order[-1]]), True
