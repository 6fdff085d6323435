"""Fit the smallest neutrino mass m0 to RENP counts, scanning the discrete hypotheses.

The counts n_k at the plan's laser frequencies omega_k are Poisson with mean
(efficiency Gamma(omega_k) + b) t_k, Gamma from Yoshimura & Sasao eqs. 18-23. For
every (hierarchy, nature) the deviance is profiled over m0 (and a free signal
scale if asked); the best hypothesis is the one with the smallest minimum. The
uncertainty on m0 is the likelihood-ratio interval Delta chi^2 <= level within
the best hypothesis (level 1: 68.27 %); the other hypotheses are reported with
their Delta chi^2 to the best, which is the likelihood-ratio statistic for the
discrete choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.stats import chi2

from ..errors import InputError
from .likelihood import expected_counts
from .plan import ResolvedPlan
from .profile import DevianceCurve, Interval, ProfileResult
from .source import RateSource


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_counts`.

    Attributes
    ----------
    best : ProfileResult
        The best hypothesis and its best-fit m0 [eV].
    interval : Interval
        Likelihood-ratio interval on m0 [eV] within the best hypothesis.
    profiles : tuple of ProfileResult
        Minimum for every hypothesis tried, in source order.
    intervals : tuple of Interval
        The interval for every hypothesis tried (same order).
    dchi2_to_best : tuple of float
        D_min(hypothesis) - D_min(best), same order (dimensionless).
    deviance : float
        D at the best fit: a goodness-of-fit statistic against the saturated model.
    dof : int
        Points minus fitted continuous parameters (m0, and the scale if free).
    p_value : float
        chi^2(dof) survival probability of ``deviance`` (asymptotic; needs counts
        of more than a few per point to mean much).
    normalization : str
        ``"fixed"`` or ``"free"``.
    scan_m0_eV : ndarray, shape (J,)
        The m0 grid [eV] every profile was first scanned on.
    scan_deviance : ndarray, shape (H, J)
        D on that grid for every hypothesis tried (the profile curves).
    """

    best: ProfileResult
    interval: Interval
    profiles: tuple
    intervals: tuple
    dchi2_to_best: tuple
    deviance: float
    dof: int
    p_value: float
    normalization: str
    scan_m0_eV: np.ndarray
    scan_deviance: np.ndarray

    def summary(self) -> str:
        """Describe the fit in a few human-readable lines."""
        iv, m0 = self.interval, self.best.m0_eV
        low = "range end" if iv.low_at_limit else f"-{m0 - iv.low_eV:.3g}"
        high = "range end" if iv.high_at_limit else f"+{iv.high_eV - m0:.3g}"
        lines = [f"best: {self.best.hierarchy}/{self.best.nature}, m0 = {m0:.8g} eV "
                 f"({low} / {high} eV); Delta chi^2 = {iv.level:g} interval "
                 f"[{iv.low_eV:.8g}, {iv.high_eV:.8g}] eV"
                 + (" (disjoint regions also allowed)" if iv.disjoint else ""),
                 f"deviance {self.deviance:.6g} for {self.dof} degrees of freedom "
                 f"(p = {self.p_value:.3g})"]
        if self.normalization == "free":
            lines.append(f"signal scale at best fit: {self.best.normalization:.6g}")
        for prof, d in zip(self.profiles, self.dchi2_to_best, strict=True):
            lines.append(f"  {prof.hierarchy}/{prof.nature}: m0 = {prof.m0_eV:.6g} eV, "
                         f"Delta chi^2 to best = {d:.6g}")
        return "\n".join(lines)


def fit_counts(source: RateSource, plan: ResolvedPlan, counts, hypotheses=None,
               normalization: str = "fixed", level: float = 1.0) -> FitResult:
    """Fit m0 and the discrete hypotheses to counts.

    Parameters
    ----------
    source : RateSource
        Rates [Hz].
    plan : ResolvedPlan
        Frequencies [eV], times [s], efficiency, background [Hz] of the measurement.
    counts : array_like, shape (K,)
        Counts at ``plan.omega_eV`` (>= 0; integers for real data).
    hypotheses : sequence of (hierarchy, nature), optional
        Default: every hypothesis of the source.
    normalization : {"fixed", "free"}
    level : float
        Delta chi^2 defining the interval (1: 68.27 %, 4: 95.45 %).

    Returns
    -------
    FitResult
    """
    hypotheses = list(hypotheses) if hypotheses is not None else source.hypotheses
    if not hypotheses:
        raise InputError("hypotheses", "nothing to fit")
    curves, profiles = [], []
    for h, n in hypotheses:
        curve = DevianceCurve(source, h, n, counts, plan, normalization)
        profiles.append(curve.minimize())
        curves.append(curve)
    intervals = [c.interval(level) for c in curves]
    i_best = int(np.argmin([p.deviance for p in profiles]))
    best = profiles[i_best]
    n_free = 1 + (normalization == "free")
    dof = max(plan.omega_eV.size - n_free, 1)
    return FitResult(
        best=best, interval=intervals[i_best], profiles=tuple(profiles),
        intervals=tuple(intervals),
        dchi2_to_best=tuple(p.deviance - best.deviance for p in profiles),
        deviance=best.deviance, dof=dof, p_value=float(chi2.sf(best.deviance, dof)),
        normalization=normalization, scan_m0_eV=np.asarray(source.m0_scan_eV, dtype=float),
        scan_deviance=np.array([c.scan_deviance for c in curves]))


def fit_dataset(result: FitResult, plan: ResolvedPlan, counts, attrs=None):
    """Convert a fit result to an xarray.Dataset (units and long_name on every variable).

    Parameters
    ----------
    result : FitResult
    plan : ResolvedPlan
        The plan the counts belong to.
    counts : array_like, shape (K,)
        The counts fitted.
    attrs : dict, optional
        Extra provenance.
    """
    labels = [f"{p.hierarchy}/{p.nature}" for p in result.profiles]
    dims = ("hypothesis",)
    data = {
        "m0_best": (dims, [p.m0_eV for p in result.profiles],
                    {"units": "eV", "long_name": "best-fit smallest mass m0 per hypothesis"}),
        "deviance_min": (dims, [p.deviance for p in result.profiles],
                         {"units": "1", "long_name": "minimum Poisson deviance per hypothesis"}),
        "dchi2_to_best": (dims, list(result.dchi2_to_best),
                          {"units": "1", "long_name": "deviance minimum minus the best one"}),
        "normalization_best": (dims, [p.normalization for p in result.profiles],
                               {"units": "1", "long_name": "signal scale at the best fit"}),
        "interval_low": (dims, [iv.low_eV for iv in result.intervals],
                         {"units": "eV", "long_name": "lower end of the likelihood-ratio "
                                                      "interval on m0"}),
        "interval_high": (dims, [iv.high_eV for iv in result.intervals],
                          {"units": "eV", "long_name": "upper end of the likelihood-ratio "
                                                       "interval on m0"}),
        "deviance_scan": (("hypothesis", "m0_scan"), result.scan_deviance,
                          {"units": "1", "long_name": "Poisson deviance D(m0) on the scan grid"}),
        "counts": (("point",), np.asarray(counts, dtype=float),
                   {"units": "1", "long_name": "counts fitted at omega_k"}),
        "plan_omega": (("point",), plan.omega_eV.copy(),
                       {"units": "eV", "long_name": "laser-fixed photon energy omega_k"}),
        "plan_time": (("point",), plan.time_s.copy(),
                      {"units": "s", "long_name": "measuring time t_k at omega_k"}),
    }
    coords = {
        "hypothesis": ("hypothesis", labels, {"units": "1",
                       "long_name": "neutrino mass ordering / nature"}),
        "m0_scan": ("m0_scan", result.scan_m0_eV, {"units": "eV",
                    "long_name": "smallest mass grid of the profile scan"}),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "title": "RENP fit of m0 (Yoshimura & Sasao, arXiv:1310.6472)",
        "best_hypothesis": f"{result.best.hierarchy}/{result.best.nature}",
        "best_m0_eV": result.best.m0_eV, "interval_level_dchi2": result.interval.level,
        "deviance": result.deviance, "dof": np.int64(result.dof), "p_value": result.p_value,
        "normalization": result.normalization, "efficiency": float(plan.efficiency),
        "background_Hz": float(plan.background_Hz)})
    ds.attrs.update(attrs or {})
    return ds


def pseudo_counts(source: RateSource, plan: ResolvedPlan, hierarchy: str, nature: str,
                  m0_eV: float, rng=None, asimov: bool = False) -> np.ndarray:
    """Simulate an experiment: Poisson counts (or their means, ``asimov=True``).

    Parameters
    ----------
    source : RateSource
    plan : ResolvedPlan
    hierarchy, nature : str
        True hypothesis.
    m0_eV : float
        True smallest mass [eV].
    rng : numpy.random.Generator or int, optional
        Random generator or seed (ignored for Asimov data).
    asimov : bool
        Return the expected counts instead of a draw.
    """
    rates = source.rates_Hz(hierarchy, nature, [m0_eV], plan.omega_eV)[0]
    mu = expected_counts(rates, plan.time_s, plan.efficiency, plan.background_Hz)
    if asimov:
        return mu
    return np.random.default_rng(rng).poisson(mu).astype(float)
