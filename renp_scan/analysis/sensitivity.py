"""Asimov sensitivity: how well a measurement plan separates RENP hypotheses.

The true spectrum Gamma(omega; hierarchy, nature, m0) (Yoshimura & Sasao eqs.
18-23) gives Asimov counts mu_true = (efficiency Gamma + b) t at the plan's
frequencies. An alternative hypothesis is rejected at

    Delta chi^2 = min over the alternative's free parameters of D(mu_true; mu_alt),

D the Poisson deviance 2 sum [mu_alt - mu_true + mu_true ln(mu_true / mu_alt)].
Composite alternatives are profiled: over their m0 (and the signal scale with
``normalization="free"``), and over every discrete hypothesis that has the
property tested (e.g. both natures for "NH vs IH").

Exposure: every term of D(mu_true; mu_alt) is proportional to its time t_k, with
or without background (both means scale with t), and the minimiser over the
alternative does not depend on a common factor. So Delta chi^2 of Asimov data is
exactly linear in a common scale of the times, and the total time needed for a
target Delta chi^2 is T * target / Delta chi^2(T) (:func:`exposure_needed`). What is
*not* linear is a change of the signal strength at fixed time and background
(e.g. a larger eta or n^3 V): :func:`signal_scale_needed` solves that numerically.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr
from scipy.optimize import brentq

from ..errors import InputError
from .likelihood import best_normalization, poisson_deviance
from .plan import ResolvedPlan
from .profile import DevianceCurve, ProfileResult
from .source import RateSource

#: Tests :func:`sensitivity_scan` knows: which label differs between truth and alternative.
TESTS = ("hierarchy", "nature")


@dataclass(frozen=True)
class Hypothesis:
    """A point hypothesis: hierarchy, nature and smallest mass m0 [eV]."""

    hierarchy: str
    nature: str
    m0_eV: float


def asimov_counts(source: RateSource, truth: Hypothesis, plan: ResolvedPlan) -> np.ndarray:
    """Return the expected counts (efficiency Gamma + b) t of a spectrum at the plan's points."""
    rates = source.rates_Hz(truth.hierarchy, truth.nature, [truth.m0_eV], plan.omega_eV)[0]
    return plan.expected_counts(rates)


def dchi2_simple(source: RateSource, truth: Hypothesis, alternative: Hypothesis,
                 plan: ResolvedPlan) -> float:
    """Asimov Delta chi^2 between two point hypotheses (no free parameter)."""
    mu_true = asimov_counts(source, truth, plan)
    mu_alt = asimov_counts(source, alternative, plan)
    return float(poisson_deviance(mu_true, mu_alt))


def alternatives_for(source: RateSource, truth: Hypothesis, test: str) -> list[tuple[str, str]]:
    """Discrete hypotheses of ``source`` that differ from the truth in the tested label."""
    if test == "hierarchy":
        return [(h, n) for h, n in source.hypotheses if h != truth.hierarchy]
    if test == "nature":
        return [(h, n) for h, n in source.hypotheses if n != truth.nature]
    raise InputError("test", f"unknown test {test!r}; allowed: {', '.join(TESTS)}")


def dchi2_profiled(source: RateSource, truth: Hypothesis, alternatives, plan: ResolvedPlan,
                   normalization: str = "fixed") -> tuple[float, ProfileResult]:
    """Asimov Delta chi^2 against composite alternatives, profiled over their m0.

    Parameters
    ----------
    source : RateSource
        Rates [Hz].
    truth : Hypothesis
        The true spectrum.
    alternatives : sequence of (hierarchy, nature)
        Discrete alternatives; the minimum over all of them and their m0 is taken.
    plan : ResolvedPlan
        Frequencies [eV], times [s], efficiency, background [Hz].
    normalization : {"fixed", "free"}
        Whether the alternative's signal scale is free too.

    Returns
    -------
    (float, ProfileResult)
        Delta chi^2 (dimensionless) and the best-fitting alternative.
    """
    alternatives = list(alternatives)
    if not alternatives:
        raise InputError("alternatives", "no alternative hypothesis to test against")
    mu_true = asimov_counts(source, truth, plan)
    best = None
    for h, n in alternatives:
        result = DevianceCurve(source, h, n, mu_true, plan, normalization).minimize()
        if best is None or result.deviance < best.deviance:
            best = result
    return best.deviance, best


def exposure_needed(dchi2: float, plan: ResolvedPlan, dchi2_target: float) -> float:
    """Total time [s] for an Asimov Delta chi^2 of ``dchi2_target``, same time split.

    Uses the exact linearity of Asimov Delta chi^2 in a common scale of the times
    (module doc): T_needed = T_plan * target / Delta chi^2(T_plan). Infinite if the
    plan cannot separate the hypotheses at all (Delta chi^2 = 0).
    """
    if dchi2 <= 0.0:
        return float("inf")
    return plan.total_time_s * dchi2_target / dchi2


def solve_monotone(function, target: float, low: float, high: float, max_doublings: int = 200):
    """Solve ``function(x) = target`` for an increasing function on (0, inf).

    Brackets by doubling/halving from [low, high], then Brent in log x.

    Returns
    -------
    (float, int, bool)
        Root x, number of function evaluations, and whether it converged.
    """
    calls = 0

    def g(log_x):
        nonlocal calls
        calls += 1
        return function(np.exp(log_x)) - target

    lo, hi = np.log(low), np.log(high)
    g_lo, g_hi = g(lo), g(hi)
    steps = 0
    while g_lo > 0.0 and steps < max_doublings:
        lo -= np.log(2.0)
        g_lo = g(lo)
        steps += 1
    while g_hi < 0.0 and steps < max_doublings:
        hi += np.log(2.0)
        g_hi = g(hi)
        steps += 1
    if g_lo > 0.0 or g_hi < 0.0:
        return float("nan"), calls, False
    root, info = brentq(g, lo, hi, xtol=1e-12, rtol=1e-12, full_output=True)
    return float(np.exp(root)), calls, bool(info.converged)


def signal_scale_needed(source: RateSource, truth: Hypothesis, alternatives, plan: ResolvedPlan,
                        dchi2_target: float, normalization: str = "fixed"):
    """Factor on the signal rate (eta n^3 V efficiency) needed for a target Delta chi^2.

    Times and background stay as in the plan, so with background the answer is
    not the linear one; it is found by root finding on the profiled Delta chi^2.

    Returns
    -------
    (float, int, bool)
        Scale factor (dimensionless; 1 = the plan as it is), evaluations, converged.
    """

    def dchi2_at(scale):
        scaled = replace(plan, efficiency=plan.efficiency * scale)
        return dchi2_profiled(source, truth, alternatives, scaled, normalization)[0]

    return solve_monotone(dchi2_at, dchi2_target, 0.5, 2.0)


def m0_separation_map(source: RateSource, hierarchy: str, nature: str, m0_eV,
                      plan: ResolvedPlan, normalization: str = "fixed") -> np.ndarray:
    """Asimov Delta chi^2 between point hypotheses m0 (true, rows) and m0' (columns).

    Returns
    -------
    ndarray, shape (J, J)
        D(mu(m0_i); mu(m0'_j)) for the same hierarchy and nature (dimensionless).
    """
    m0 = np.asarray(m0_eV, dtype=float)
    rates = source.rates_Hz(hierarchy, nature, m0, plan.omega_eV)
    signal = plan.signal_counts(rates)
    background = plan.background_counts
    mu = signal + background
    out = np.empty((m0.size, m0.size))
    for i in range(m0.size):
        if normalization == "free":
            scale = best_normalization(mu[i], signal, background)
            out[i] = poisson_deviance(mu[i], scale[:, None] * signal + background)
        else:
            out[i] = poisson_deviance(mu[i], mu)
    return out


def sensitivity_scan(source: RateSource, plan: ResolvedPlan, m0_true_eV=None,
                     normalization: str = "fixed", dchi2_target: float = 9.0, tests=TESTS,
                     m0_map: bool = True, attrs=None):
    """Asimov sensitivities of a plan as functions of the true m0, as an xarray.Dataset.

    For every true (hierarchy, nature) of the source and true m0, and every test in
    ``tests`` that the source can answer (two hierarchies for "hierarchy", two
    natures for "nature"): the profiled Delta chi^2 at the plan's exposure, the best
    alternative, and the total time needed for ``dchi2_target``. Also the Asimov
    Delta chi^2 = 1 half-width on m0 at the plan's exposure, and (``m0_map``) the
    point-vs-point map Delta chi^2(m0, m0').

    Parameters
    ----------
    source : RateSource
    plan : ResolvedPlan
    m0_true_eV : array_like, optional
        True m0 values [eV] (default: the source's m0 knots / scan grid).
    normalization : {"fixed", "free"}
    dchi2_target : float
        Delta chi^2 for the exposure needed (9: "3 sigma" for one degree of freedom).
    tests : sequence of str
        Subset of :data:`TESTS`.
    m0_map : bool
        Include ``dchi2_m0`` on (truth_hierarchy, truth_nature, m0_true, m0_alt).
    attrs : dict, optional
        Extra provenance for the dataset.

    Returns
    -------
    xarray.Dataset
        Variables with ``units`` and ``long_name`` attributes (see
        ``docs/sensitivity.md``).
    """
    if m0_true_eV is None:
        table = getattr(source, "table", None)
        m0_true_eV = table.m0_eV if table is not None else source.m0_scan_eV
    m0_true = source.check_m0(m0_true_eV)
    hs, ns = source.hierarchies, source.natures
    shape = (len(hs), len(ns), m0_true.size)
    data = {}
    active = [t for t in tests if len(hs if t == "hierarchy" else ns) > 1]
    for test in tests:
        if test not in TESTS:
            raise InputError("tests", f"unknown test {test!r}; allowed: {', '.join(TESTS)}")
    for test in active:
        dchi2 = np.empty(shape)
        alt_m0 = np.empty(shape)
        alt_label = np.empty(shape, dtype=object)
        for ih, h in enumerate(hs):
            for inat, n in enumerate(ns):
                for im, m in enumerate(m0_true):
                    truth = Hypothesis(h, n, float(m))
                    alts = alternatives_for(source, truth, test)
                    value, best = dchi2_profiled(source, truth, alts, plan, normalization)
                    dchi2[ih, inat, im] = value
                    alt_m0[ih, inat, im] = best.m0_eV
                    alt_label[ih, inat, im] = f"{best.hierarchy}/{best.nature}"
        what = "NH vs IH" if test == "hierarchy" else "Majorana vs Dirac"
        data[f"dchi2_{test}"] = (("truth_hierarchy", "truth_nature", "m0_true"), dchi2, {
            "units": "1", "long_name": f"Asimov Delta chi^2 ({what}) at the plan's exposure, "
                                       "alternative profiled over m0 (and the other label)"})
        with np.errstate(divide="ignore"):
            exposure = np.where(dchi2 > 0, plan.total_time_s * dchi2_target / dchi2, np.inf)
        data[f"exposure_{test}"] = (("truth_hierarchy", "truth_nature", "m0_true"), exposure, {
            "units": "s", "long_name": f"total measuring time for Delta chi^2 = {dchi2_target:g} "
                                       f"({what}), same time split as the plan"})
        data[f"alt_m0_{test}"] = (("truth_hierarchy", "truth_nature", "m0_true"), alt_m0, {
            "units": "eV", "long_name": f"m0 of the best-fitting alternative ({what})"})
        data[f"alt_hypothesis_{test}"] = (("truth_hierarchy", "truth_nature", "m0_true"),
                                          alt_label.astype(str), {
            "units": "1", "long_name": f"best-fitting alternative hierarchy/nature ({what})"})

    half_width = np.empty(shape)
    for ih, h in enumerate(hs):
        for inat, n in enumerate(ns):
            for im, m in enumerate(m0_true):
                mu = asimov_counts(source, Hypothesis(h, n, float(m)), plan)
                curve = DevianceCurve(source, h, n, mu, plan, normalization)
                curve.minimize()
                half_width[ih, inat, im] = curve.interval(1.0).half_width_eV
    data["sigma_m0"] = (("truth_hierarchy", "truth_nature", "m0_true"), half_width, {
        "units": "eV", "long_name": "half-width of the Asimov Delta chi^2 = 1 interval on m0 at "
                                    "the plan's exposure (true hierarchy and nature known)"})
    if m0_map:
        grid = np.empty(shape + (m0_true.size,))
        for ih, h in enumerate(hs):
            for inat, n in enumerate(ns):
                grid[ih, inat] = m0_separation_map(source, h, n, m0_true, plan, normalization)
        data["dchi2_m0"] = (("truth_hierarchy", "truth_nature", "m0_true", "m0_alt"), grid, {
            "units": "1", "long_name": "Asimov Delta chi^2 between point hypotheses m0 (true) "
                                       "and m0' (alternative), same hierarchy and nature"})
    data["plan_omega"] = (("point",), plan.omega_eV.copy(), {
        "units": "eV", "long_name": "laser-fixed photon energy omega_k of the plan"})
    data["plan_time"] = (("point",), plan.time_s.copy(), {
        "units": "s", "long_name": "measuring time t_k at omega_k"})
    coords = {
        "truth_hierarchy": ("truth_hierarchy", list(hs), {"units": "1",
                            "long_name": "true neutrino mass ordering"}),
        "truth_nature": ("truth_nature", list(ns), {"units": "1",
                         "long_name": "true neutrino nature"}),
        "m0_true": ("m0_true", m0_true, {"units": "eV", "long_name": "true smallest mass m0"}),
    }
    if m0_map:
        coords["m0_alt"] = ("m0_alt", m0_true.copy(), {
            "units": "eV", "long_name": "alternative smallest mass m0'"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({
        "title": "RENP Asimov sensitivity (Yoshimura & Sasao, arXiv:1310.6472)",
        "normalization": normalization, "dchi2_target": float(dchi2_target),
        "total_time_s": plan.total_time_s, "efficiency": float(plan.efficiency),
        "background_Hz": float(plan.background_Hz), "tests": ",".join(active),
    })
    ds.attrs.update(source.describe())
    ds.attrs.update(attrs or {})
    return ds
