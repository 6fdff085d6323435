"""Choose laser frequencies and the time split that maximise a plan's Asimov Delta chi^2.

For a fixed total time T the Asimov Delta chi^2 of one alternative spectrum is
linear in the times, sum_k t_k d_k with the per-second Poisson deviance

    d_k = 2 [mu'_k - mu_k + mu_k ln(mu_k / mu'_k)],
    mu = eff Gamma_true + b,  mu' = eff a Gamma_alt + b

(Gamma from Yoshimura & Sasao eqs. 18-23; a = 1 unless the normalisation is free).
The profiled Delta chi^2 is the minimum of these linear functions over the
alternatives (their m0 and scale), hence concave in t, and

    maximise z  subject to  z <= sum_k t_k d_k(alt) for every alternative,  sum t = T,  t >= 0

is a linear program over the candidate frequencies (scipy ``linprog``, HiGHS). The
alternatives form a continuum; the program starts from the source's m0 scan
grid and adds, by cutting planes, the alternative that the exact profile
(:func:`~renp_scan.analysis.sensitivity.dchi2_profiled`) finds for the current
times until the exact value reaches the program's bound. The result is then
compared with the reference plan (every reference frequency is a candidate, so
the reference times are feasible); the best plan met in the iterations is
returned, and the reference itself if none beat it, so an optimised plan is never
worse than the plan it starts from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from ..errors import InputError
from .plan import ResolvedPlan
from .sensitivity import Hypothesis, dchi2_profiled
from .source import RateSource

#: Initial signal scales of the alternative rows when the normalisation is free.
_FREE_SCALES = np.geomspace(0.5, 2.0, 9)
#: Cap on a row entry, in units of the reference plan's Delta chi^2 per second.
_ROW_CAP = 1e3
#: Wall-time cap [s] of one linear program; the best plan so far is kept if hit.
_LP_TIME_LIMIT_S = 60.0
#: Row entries below this (same units) are set to zero: a coefficient range of
#: more than ~1e12 makes HiGHS report numerical difficulties.
_ROW_FLOOR = 1e-9


@dataclass(frozen=True)
class PlanOptimum:
    """Result of :func:`optimize_plan`.

    Attributes
    ----------
    plan : ResolvedPlan
        Optimised plan: the candidate frequencies that get time, and their times [s].
    dchi2 : float
        Exact profiled Asimov Delta chi^2 of ``plan``.
    reference_dchi2 : float
        The same for the reference plan.
    bound : float
        Optimum of the last linear program (on the rows found so far, entries
        capped; inf if none was solved).
    iterations : int
        Linear programs solved.
    converged : bool
        Whether the exact value reached the bound within ``rtol``.
    used_reference : bool
        True if no plan found beat the reference, which is returned instead.
    candidate_omega_eV, candidate_time_s : ndarray
        All candidate frequencies [eV] and the time the returned plan gives each [s].
    """

    plan: ResolvedPlan
    dchi2: float
    reference_dchi2: float
    bound: float
    iterations: int
    converged: bool
    used_reference: bool
    candidate_omega_eV: np.ndarray
    candidate_time_s: np.ndarray

    @property
    def gain(self) -> float:
        """dchi2 / reference_dchi2: the factor by which the exposure needed shrinks."""
        return self.dchi2 / self.reference_dchi2 if self.reference_dchi2 > 0 else float("inf")


def _per_second(mu_true_rate, mu_alt_rate):
    """Per-second deviance d_k of each alternative row (rows, K); see module doc."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(mu_true_rate / mu_alt_rate)
        d = 2.0 * (mu_alt_rate - mu_true_rate + np.where(mu_true_rate > 0,
                                                         mu_true_rate * log_ratio, 0.0))
    return np.where((mu_alt_rate <= 0) & (mu_true_rate > 0), np.inf, d)


def _solve_lp(rows: np.ndarray, scale: float):
    """Maximise z s.t. z <= rows @ f, sum f = 1, f >= 0; returns (f, z) or None.

    ``scale`` [1/s] is the size of a typical useful row entry (the reference
    plan's Delta chi^2 per second): rows are divided by it so the program's
    numbers are of order one; entries above :data:`_ROW_CAP` times it
    (including the infinite ones of points where an alternative predicts no
    signal at all) are capped there and entries below :data:`_ROW_FLOOR` times
    it are set to zero, which keeps the program well conditioned and only ever
    lowers a row (the exact profile then corrects the bound).
    """
    scaled = np.minimum(np.nan_to_num(rows / scale, nan=0.0, posinf=_ROW_CAP), _ROW_CAP)
    scaled[scaled < _ROW_FLOOR] = 0.0
    n_rows, k = scaled.shape
    c = np.zeros(k + 1)
    c[-1] = -1.0
    a_ub = np.hstack([-scaled, np.ones((n_rows, 1))])
    a_eq = np.hstack([np.ones((1, k)), np.zeros((1, 1))])
    # Interior point (with crossover to a vertex): HiGHS's dual simplex stalls for
    # minutes on some of these dense programs with near-identical cutting planes.
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(n_rows), A_eq=a_eq, b_eq=[1.0],
                  bounds=[(0, None)] * k + [(None, None)], method="highs-ipm",
                  options={"time_limit": _LP_TIME_LIMIT_S})
    if res.status != 0 or res.x is None:
        return None
    fractions = np.maximum(res.x[:k], 0.0)
    return fractions / fractions.sum(), float(res.x[-1]) * scale


def optimize_plan(source: RateSource, truth: Hypothesis, alternatives,
                  reference: ResolvedPlan, candidates_eV=None, normalization: str = "fixed",
                  max_iterations: int = 50, rtol: float = 1e-3) -> PlanOptimum:
    """Frequencies and times maximising the profiled Asimov Delta chi^2 at fixed total time.

    Parameters
    ----------
    source : RateSource
        Rates [Hz].
    truth : Hypothesis
        The true spectrum the plan is optimised for.
    alternatives : sequence of (hierarchy, nature)
        Composite alternatives (profiled over m0, and the scale if free).
    reference : ResolvedPlan
        Plan to improve on; its total time, efficiency and background are kept and
        its frequencies are candidates.
    candidates_eV : array_like, optional
        Further candidate frequencies [eV].
    normalization : {"fixed", "free"}
    max_iterations : int
        Cap on cutting-plane iterations.
    rtol : float
        Relative gap between the program's bound and the exact value to stop at.

    Returns
    -------
    PlanOptimum
    """
    alternatives = list(alternatives)
    if not alternatives:
        raise InputError("alternatives", "no alternative hypothesis to optimise against")
    extra = np.asarray(candidates_eV, dtype=float) if candidates_eV is not None else np.empty(0)
    omega = np.unique(np.concatenate([reference.omega_eV, extra]))
    total = reference.total_time_s
    if total <= 0:
        raise InputError("time_s", "the reference plan has no measuring time")
    eff, bkg = reference.efficiency, reference.background_Hz
    rate_true = source.rates_Hz(truth.hierarchy, truth.nature, [truth.m0_eV], omega)[0]
    mu_true = eff * rate_true + bkg
    scales = _FREE_SCALES if normalization == "free" else np.ones(1)

    def rows_for(h, n, m0_values, scale_values):
        alt = source.rates_Hz(h, n, m0_values, omega)
        mu_alt = eff * np.asarray(scale_values)[:, None, None] * alt[None] + bkg
        return _per_second(mu_true, mu_alt).reshape(-1, omega.size)

    rows = np.vstack([rows_for(h, n, source.m0_scan_eV, scales) for h, n in alternatives])
    reference_dchi2 = dchi2_profiled(source, truth, alternatives, reference, normalization)[0]
    finite = rows[np.isfinite(rows) & (rows > 0)]
    row_scale = reference_dchi2 / total if reference_dchi2 > 0 else (
        float(np.median(finite)) if finite.size else 1.0)
    best_plan, best_dchi2, best_times = reference, reference_dchi2, None
    converged, bound, iteration = False, np.inf, 0
    while iteration < max_iterations:
        iteration += 1
        solved = _solve_lp(rows, row_scale)
        if solved is None:
            break
        fractions, bound_per_s = solved
        times = fractions * total
        keep = times > 1e-9 * total
        trial = ResolvedPlan(omega[keep], times[keep], eff, bkg)
        new_rows, exact = [], np.inf
        for h, n in alternatives:
            value, best = dchi2_profiled(source, truth, [(h, n)], trial, normalization)
            exact = min(exact, value)
            new_rows.append(rows_for(h, n, [best.m0_eV], [best.normalization]))
        if exact > best_dchi2:
            best_plan, best_dchi2, best_times = trial, exact, times
        bound = bound_per_s * total
        if exact >= bound * (1.0 - rtol):
            converged = True
            break
        rows = np.vstack([rows] + new_rows)
    used_reference = best_times is None
    if used_reference:
        best_times = np.zeros(omega.size)
        best_times[np.searchsorted(omega, reference.omega_eV)] = reference.time_s
    return PlanOptimum(best_plan, best_dchi2, reference_dchi2, bound, iteration, converged,
                       used_reference, omega, best_times)
