"""Toy studies: many pseudo-experiments, fitted, to check interval coverage.

Each pseudo-experiment draws Poisson counts with mean (efficiency Gamma + b) t
at the plan's frequencies (Gamma from Yoshimura & Sasao eqs. 18-23) for a true
(hierarchy, nature, m0), fits m0 within the true hypothesis and records whether
the likelihood-ratio interval Delta chi^2 <= level contains the true m0. By
Wilks' theorem the coverage tends to P(chi^2_1 <= level) (0.6827 for level 1).

The toys run as a graph of chunks (:func:`renp_scan.sweep.tasks.map_tasks`); every
chunk draws from its own child of one ``numpy.random.SeedSequence``, so the
result depends on the seed only, not on scheduling or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from ..errors import InputError
from ..sweep.tasks import map_tasks
from .fit import pseudo_counts
from .plan import ResolvedPlan
from .profile import DevianceCurve
from .sensitivity import Hypothesis
from .source import RateSource


@dataclass(frozen=True)
class ToyStudy:
    """Results of :func:`run_toys` (arrays have one entry per pseudo-experiment).

    Attributes
    ----------
    truth : Hypothesis
        The true hypothesis.
    level : float
        Delta chi^2 of the intervals.
    m0_hat_eV, low_eV, high_eV : ndarray
        Best fit and interval ends [eV].
    lr_at_truth : ndarray
        D(m0_true) - D_min (dimensionless): the interval covers iff it is <= level.
    covered : ndarray of bool
        Whether [low, high] contains the true m0.
    converged : ndarray of bool
        Whether each fit's refinement converged.
    """

    truth: Hypothesis
    level: float
    m0_hat_eV: np.ndarray
    low_eV: np.ndarray
    high_eV: np.ndarray
    lr_at_truth: np.ndarray
    covered: np.ndarray
    converged: np.ndarray

    @property
    def n_toys(self) -> int:
        """Number of pseudo-experiments."""
        return int(self.covered.size)

    @property
    def coverage(self) -> float:
        """Fraction of intervals that contain the true m0."""
        return float(np.mean(self.covered))

    @property
    def nominal_coverage(self) -> float:
        """P(chi^2_1 <= level): the asymptotic coverage (0.6827 for level 1)."""
        return float(chi2.cdf(self.level, 1))

    @property
    def coverage_error(self) -> float:
        """Binomial standard error of :attr:`coverage` at the nominal probability."""
        p = self.nominal_coverage
        return float(np.sqrt(p * (1.0 - p) / self.n_toys))


def _toy_chunk(source, plan, truth, n_toys, seed_sequence, level, normalization):
    """Fit ``n_toys`` pseudo-experiments; returns a (6, n_toys) float array."""
    rng = np.random.default_rng(seed_sequence)
    out = np.empty((6, n_toys))
    for i in range(n_toys):
        counts = pseudo_counts(source, plan, truth.hierarchy, truth.nature, truth.m0_eV, rng)
        curve = DevianceCurve(source, truth.hierarchy, truth.nature, counts, plan, normalization)
        best = curve.minimize()
        interval = curve.interval(level)
        at_truth = float(curve(np.array([truth.m0_eV]))[0]) - best.deviance
        out[:, i] = (best.m0_eV, interval.low_eV, interval.high_eV, at_truth,
                     interval.contains(truth.m0_eV), best.converged)
    return out


def run_toys(source: RateSource, plan: ResolvedPlan, truth: Hypothesis, n_toys: int,
             seed: int = 0, level: float = 1.0, normalization: str = "fixed",
             chunk_size: int = 50, scheduler="threads", workers: int | None = None) -> ToyStudy:
    """Run ``n_toys`` pseudo-experiments as a dask graph and collect their fits.

    Parameters
    ----------
    source : RateSource
        Rates [Hz] (a :class:`~renp_scan.analysis.interpolate.SplineRates` is fastest).
    plan : ResolvedPlan
        The measurement simulated.
    truth : Hypothesis
        True hierarchy, nature and m0 [eV] (inside the source's m0 range).
    n_toys : int
        Number of pseudo-experiments (>= 1).
    seed : int
        Root seed.
    level : float
        Delta chi^2 of the intervals.
    normalization : {"fixed", "free"}
    chunk_size : int
        Pseudo-experiments per dask task.
    scheduler : {"threads", "sync"} or distributed.Client
        Where the chunks run. The fits are NumPy/SciPy code that holds the GIL
        for much of its time, so threads give a modest speed-up only.
    workers : int, optional
        Threads for the ``"threads"`` scheduler.
    """
    if int(n_toys) < 1:
        raise InputError("n_toys", f"must be >= 1, got {n_toys!r}")
    if int(chunk_size) < 1:
        raise InputError("chunk_size", f"must be >= 1, got {chunk_size!r}")
    source.check_m0([truth.m0_eV])
    sizes = [min(chunk_size, n_toys - start) for start in range(0, int(n_toys), int(chunk_size))]
    children = np.random.SeedSequence(int(seed)).spawn(len(sizes))
    chunks = map_tasks(_toy_chunk, [(source, plan, truth, size, child, level, normalization)
                                    for size, child in zip(sizes, children, strict=True)],
                       scheduler, workers)
    res = np.concatenate(chunks, axis=1)
    return ToyStudy(truth=truth, level=float(level), m0_hat_eV=res[0], low_eV=res[1],
                    high_eV=res[2], lr_at_truth=res[3], covered=res[4].astype(bool),
                    converged=res[5].astype(bool))
