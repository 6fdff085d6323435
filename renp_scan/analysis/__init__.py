"""Sensitivity studies and fits on RENP cubes (Yoshimura & Sasao, arXiv:1310.6472).

Layer above :mod:`renp_scan.cube` and :mod:`renp_scan.model`: reads cubes through
xarray, never writes them. Modules, one job each:

* :mod:`.plan` -- measurement plans (TOML): laser frequencies, times, background, efficiency;
* :mod:`.table`, :mod:`.interpolate`, :mod:`.direct` -- rate sources: a cube slice
  interpolated in m0 (:class:`SplineRates`) or the model evaluated directly
  (:class:`ModelRates`);
* :mod:`.likelihood` -- Poisson deviance and expected counts;
* :mod:`.profile` -- profile likelihood in m0 and likelihood-ratio intervals;
* :mod:`.sensitivity` -- Asimov Delta chi^2 (NH vs IH, Majorana vs Dirac, m0 vs m0'),
  exposure needed;
* :mod:`.fit` -- fits of m0 and the discrete hypotheses to counts;
* :mod:`.toys` -- pseudo-experiment studies (dask) and interval coverage;
* :mod:`.optimize_plan` -- frequencies and time split maximising Delta chi^2;
* :mod:`.counts`, :mod:`.io`, :mod:`.plots` -- counts files, HDF5 results, figures.
"""

from __future__ import annotations

from .direct import ModelRates
from .fit import FitResult, fit_counts, pseudo_counts
from .interpolate import SplineRates
from .likelihood import expected_counts, poisson_deviance
from .optimize_plan import PlanOptimum, optimize_plan
from .plan import MeasurementPlan, ResolvedPlan, load_plan, parse_plan
from .profile import DevianceCurve, Interval, ProfileResult
from .sensitivity import (
    Hypothesis,
    alternatives_for,
    dchi2_profiled,
    dchi2_simple,
    exposure_needed,
    sensitivity_scan,
    signal_scale_needed,
)
from .table import RateTable
from .toys import ToyStudy, run_toys

__all__ = [
    "DevianceCurve",
    "FitResult",
    "Hypothesis",
    "Interval",
    "MeasurementPlan",
    "ModelRates",
    "PlanOptimum",
    "ProfileResult",
    "RateTable",
    "ResolvedPlan",
    "SplineRates",
    "ToyStudy",
    "alternatives_for",
    "dchi2_profiled",
    "dchi2_simple",
    "expected_counts",
    "exposure_needed",
    "fit_counts",
    "load_plan",
    "optimize_plan",
    "parse_plan",
    "poisson_deviance",
    "pseudo_counts",
    "run_toys",
    "sensitivity_scan",
    "signal_scale_needed",
]
