"""Measurement plans: which laser frequencies, for how long, with what detector.

With macro-coherence the photon energy omega is fixed by the trigger lasers
(Yoshimura & Sasao, arXiv:1310.6472, sec. III: omega + omega' = eps(n'p) - eps(ns)),
so a RENP experiment measures the rate Gamma(omega_k) (eqs. 18-23) at chosen
frequencies omega_k, each for a time t_k. A plan file (TOML, schema in
``docs/sensitivity.md``) says which omega_k (explicit values and/or rules), the
time per point or in total, the background rate and the detection efficiency.

:func:`load_plan` / :func:`parse_plan` validate a file into a
:class:`MeasurementPlan`; :meth:`MeasurementPlan.resolve` turns its rules into
numbers for one target (:class:`ResolvedPlan`). Every problem raises
:class:`~renp_scan.errors.InputError` whose ``field`` is the dotted key
(``"exposure.efficiency"``, ``"frequencies.uniform[0].count"``, ...).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..config import Field, Section, parse_toml, read_text, require
from ..errors import InputError
from ..model.channels import CHANNELS
from ..model.grids import MERGE_RTOL, merge_grids
from ..model.neutrinos import HIERARCHIES, M0_MAX_EV, normalize_hierarchy, pair_thresholds_eV
from ..model.targets import get_target
from .likelihood import expected_counts

__all__ = [
    "MeasurementPlan",
    "ResolvedPlan",
    "UniformRule",
    "ThresholdRule",
    "load_plan",
    "parse_plan",
    "NORMALIZATIONS",
    "PLAN_FILE",
]

#: Allowed values of ``analysis.normalization``: the signal scale (n^3 V eta of
#: eq. 18, eta above all) is known ("fixed") or profiled as a free factor ("free").
NORMALIZATIONS = ("fixed", "free")
#: Cap on the frequency points of one plan.
MAX_POINTS = 100_000

# ---------------------------------------------------------------- the file's tables

_UNIFORM = Section({
    "count": Field("integer", minimum=1, maximum=MAX_POINTS, doc="number of points"),
    "start_eV": Field("number", None, positive=True, doc="first omega [eV]"),
    "stop_eV": Field("number", None, positive=True, doc="last omega [eV]"),
    "start_fraction": Field("number", None, positive=True, doc="first omega / (eps_eg/2)"),
    "stop_fraction": Field("number", None, positive=True, maximum=2.0,
                           doc="last omega / (eps_eg/2)"),
}, doc="count evenly spaced frequencies, both ends included")
_BELOW_THRESHOLDS = Section({
    "count": Field("integer", minimum=1, maximum=10_000, doc="points below each threshold"),
    "step_eV": Field("number", positive=True, doc="spacing below each threshold [eV]"),
    "hierarchies": Field("any", list(HIERARCHIES), doc="'NH' and/or 'IH'"),
    "m0_eV": Field("numbers", nonnegative=True, maximum=M0_MAX_EV, hint="meV written as eV?",
                   doc="smallest neutrino masses of the reference spectra [eV]"),
}, doc="count frequencies just below each pair threshold omega_ij")
PLAN_FILE = Section({
    "plan": Field("table", section=Section({
        "name": Field("string", doc="name of the plan"),
        "description": Field("string", ""),
        "target": Field("string", None, doc="target the plan is written for"),
        "channel": Field("string", None, choices=CHANNELS),
        "phase": Field("integer", 0, minimum=0, maximum=10**6,
                       doc="Majorana phase row of the cube"),
    })),
    "frequencies": Field("table", section=Section({
        "values_eV": Field("numbers", None, positive=True, doc="explicit omega_k [eV]"),
        "uniform": Field("tables", (), section=_UNIFORM),
        "below_thresholds": Field("tables", (), section=_BELOW_THRESHOLDS),
    })),
    "exposure": Field("table", section=Section({
        "time_per_point_s": Field("number", None, positive=True),
        "total_time_s": Field("number", None, positive=True),
        "times_s": Field("numbers", None, nonnegative=True,
                         doc="one time per values_eV entry [s]"),
        "background_Hz": Field("number", 0.0, nonnegative=True),
        "efficiency": Field("number", 1.0, positive=True, maximum=1.0),
    }, doc="give exactly one of time_per_point_s, total_time_s, times_s")),
    "analysis": Field("table", {}, section=Section({
        "normalization": Field("string", "fixed", choices=NORMALIZATIONS),
        "dchi2_target": Field("number", 9.0, positive=True),
        "m0_true_eV": Field("numbers", None, nonnegative=True),
    })),
}, doc="renp_scan measurement plan (docs/sensitivity.md)")


@dataclass(frozen=True)
class UniformRule:
    """``count`` evenly spaced frequencies over a range (both ends included).

    The range is [start_eV, stop_eV], or [start_fraction, stop_fraction] in units
    of eps_eg/2 (the end point of the photon spectrum for massless neutrinos).
    """

    field: str
    count: int
    start_eV: float | None = None
    stop_eV: float | None = None
    start_fraction: float | None = None
    stop_fraction: float | None = None

    def omega_eV(self, eps_eg_eV: float) -> np.ndarray:
        """Return the rule's frequencies [eV] for a target of level spacing ``eps_eg_eV`` [eV]."""
        if self.start_eV is not None:
            lo, hi = self.start_eV, self.stop_eV
        else:
            lo, hi = 0.5 * eps_eg_eV * self.start_fraction, 0.5 * eps_eg_eV * self.stop_fraction
        return np.linspace(lo, hi, self.count)


@dataclass(frozen=True)
class ThresholdRule:
    """``count`` frequencies just below each pair threshold of reference spectra.

    For every hierarchy h and smallest mass m0 listed, and every distinct open
    threshold omega_ij = eps_eg/2 - (m_i + m_j)^2 / (2 eps_eg) (paper sec. I), the
    points omega_ij - k * step_eV for k = 1 .. count.
    """

    field: str
    count: int
    step_eV: float
    hierarchies: tuple
    m0_eV: tuple

    def omega_eV(self, eps_eg_eV: float, oscillation_data=None) -> np.ndarray:
        """Return the rule's frequencies [eV] for a target of level spacing ``eps_eg_eV`` [eV]."""
        omega_ij = pair_thresholds_eV(eps_eg_eV, self.m0_eV, self.hierarchies, oscillation_data)
        omega_ij = np.unique(omega_ij[omega_ij > 0.0])
        if not omega_ij.size:
            raise InputError(f"{self.field}.m0_eV", "every pair threshold is closed "
                             "(2 m0 >~ eps_eg); no frequency can be placed below one")
        steps = self.step_eV * np.arange(1, self.count + 1)
        return (omega_ij[:, None] - steps[None, :]).ravel()


@dataclass(frozen=True)
class ResolvedPlan:
    """A plan turned into numbers for one target.

    Attributes
    ----------
    omega_eV : ndarray, shape (K,)
        Laser-fixed photon energies omega_k [eV], strictly increasing.
    time_s : ndarray, shape (K,)
        Measuring time t_k at each omega_k [s].
    efficiency : float
        Detection efficiency (dimensionless).
    background_Hz : float
        Background rate [Hz], the same at every point.
    """

    omega_eV: np.ndarray
    time_s: np.ndarray
    efficiency: float
    background_Hz: float

    def __post_init__(self):
        for name in ("omega_eV", "time_s"):
            arr = np.array(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.omega_eV.shape != self.time_s.shape or self.omega_eV.ndim != 1:
            raise InputError("time_s", f"needs one time per frequency: {self.time_s.shape} "
                             f"times for {self.omega_eV.shape} frequencies")
        if np.any(self.time_s < 0.0) or not np.all(np.isfinite(self.time_s)):
            raise InputError("time_s", "times must be finite and >= 0 s")

    @property
    def total_time_s(self) -> float:
        """Sum of the times [s]."""
        return float(self.time_s.sum())

    def expected_counts(self, rate_Hz) -> np.ndarray:
        """Mean counts (efficiency Gamma + background) t for rates [Hz] on the last axis."""
        return expected_counts(rate_Hz, self.time_s, self.efficiency, self.background_Hz)

    def signal_counts(self, rate_Hz) -> np.ndarray:
        """Mean signal counts efficiency Gamma t (no background) for rates [Hz]."""
        return self.efficiency * np.asarray(rate_Hz, dtype=float) * self.time_s

    @property
    def background_counts(self) -> np.ndarray:
        """Mean background counts b t at each point."""
        return self.background_Hz * self.time_s

    def scaled(self, factor: float) -> ResolvedPlan:
        """Return the same plan with every time multiplied by ``factor``."""
        return replace(self, time_s=self.time_s * float(factor))

    def with_times(self, time_s) -> ResolvedPlan:
        """Return the same frequencies and detector with other times [s]."""
        return replace(self, time_s=np.asarray(time_s, dtype=float))


@dataclass(frozen=True, eq=False)
class MeasurementPlan:
    """A validated plan file (rules not yet evaluated; see :meth:`resolve`).

    Attributes
    ----------
    path, text, sha256 : str
        Source file (None for text), its exact text and the sha256 of its UTF-8 bytes.
    name, description : str
        ``plan.name`` and ``plan.description``.
    target : str or None
        ``plan.target``: the target the plan is written for (None: any).
    channel : str or None
        ``plan.channel`` (None: the cube's only channel, else ``"nucleus"``).
    phase : int
        ``plan.phase``: Majorana phase row index of the cube.
    values_eV : tuple of float
        Explicit frequencies [eV] (file order).
    uniform, below_thresholds : tuple
        :class:`UniformRule` and :class:`ThresholdRule` entries.
    time_per_point_s, total_time_s : float or None
        Exactly one of these or ``times_s`` is set [s].
    times_s : tuple of float or None
        One time per explicit value [s] (only with ``values_eV`` alone).
    background_Hz : float
        Background rate [Hz].
    efficiency : float
        Detection efficiency in (0, 1].
    normalization : {"fixed", "free"}
        Whether the signal scale is profiled in fits and sensitivities.
    dchi2_target : float
        Delta chi^2 a sensitivity aims for (exposure needed).
    m0_true_eV : tuple of float or None
        True m0 values [eV] for sensitivity curves (None: the rate source's grid).
    """

    path: str | None
    text: str
    sha256: str
    name: str
    description: str
    target: str | None
    channel: str | None
    phase: int
    values_eV: tuple
    uniform: tuple
    below_thresholds: tuple
    time_per_point_s: float | None
    total_time_s: float | None
    times_s: tuple | None
    background_Hz: float
    efficiency: float
    normalization: str
    dchi2_target: float
    m0_true_eV: tuple | None = field(default=None)

    def resolve(self, target=None, eps_eg_eV=None, oscillation_data=None) -> ResolvedPlan:
        """Evaluate the frequency rules and times for one target.

        Parameters
        ----------
        target : str, optional
            Target key (default: ``plan.target``); must equal ``plan.target`` when
            both are given.
        eps_eg_eV : float, optional
            Level spacing eps_e - eps_g of the target [eV] (default: from the
            package's target data); a cube states its own.
        oscillation_data : OscillationData, optional
            For threshold rules (default: the package's NuFIT data).

        Returns
        -------
        ResolvedPlan
            Sorted, merged frequencies [eV] and their times [s].
        """
        key = target if target is not None else self.target
        if key is None:
            raise InputError("plan.target", "the plan names no target; give one "
                             "(plan.target) or resolve it for a cube's target")
        if self.target is not None and key != self.target:
            raise InputError("plan.target", f"the plan is written for {self.target!r}, "
                             f"not for {key!r}")
        if eps_eg_eV is None:
            eps_eg_eV = get_target(key).eps_eg_eV
        eps = float(eps_eg_eV)
        sources = []
        if self.values_eV:
            sources.append(("frequencies.values_eV", np.asarray(self.values_eV, dtype=float)))
        for rule in self.uniform:
            sources.append((rule.field, rule.omega_eV(eps)))
        for rule in self.below_thresholds:
            sources.append((rule.field, rule.omega_eV(eps, oscillation_data)))
        for where, omega in sources:
            bad = (omega <= 0.0) | (omega >= eps)
            if np.any(bad):
                raise InputError(where, f"gives omega = {omega[bad][0]:.9g} eV outside "
                                 f"(0, eps_eg) = (0, {eps:g}) eV of target {key}")
        merged_values = merge_grids([sources[0][1]], MERGE_RTOL * eps) if self.values_eV else ()
        if len(merged_values) < len(self.values_eV):
            raise InputError("frequencies.values_eV", f"has values closer than {MERGE_RTOL:g} "
                             "eps_eg (the same laser frequency twice)")
        if self.times_s is not None:
            order = np.argsort(sources[0][1])
            omega = sources[0][1][order]
            times = np.asarray(self.times_s, dtype=float)[order]
            return ResolvedPlan(omega, times, self.efficiency, self.background_Hz)
        omega = merge_grids([s[1] for s in sources], MERGE_RTOL * eps)
        if omega.size > MAX_POINTS:
            raise InputError("frequencies", f"{omega.size} points; at most {MAX_POINTS} allowed")
        if self.time_per_point_s is not None:
            times = np.full(omega.size, self.time_per_point_s)
        else:
            times = np.full(omega.size, self.total_time_s / omega.size)
        return ResolvedPlan(omega, times, self.efficiency, self.background_Hz)


def _uniform_rule(v: dict, where: str) -> UniformRule:
    ev = v["start_eV"] is not None or v["stop_eV"] is not None
    frac = v["start_fraction"] is not None or v["stop_fraction"] is not None
    if ev and frac:
        raise InputError(where, "give the range as start_eV + stop_eV or as start_fraction + "
                         "stop_fraction, not both")
    if not ev and not frac:
        raise InputError(f"{where}.start_eV", "required: a range start_eV + stop_eV (or "
                         "start_fraction + stop_fraction of eps_eg/2)")
    lo_key, hi_key = ("start_eV", "stop_eV") if ev else ("start_fraction", "stop_fraction")
    require(v, where, lo_key, hi_key)
    lo, hi, count = v[lo_key], v[hi_key], v["count"]
    if hi < lo or (hi == lo and count > 1):
        raise InputError(f"{where}.{hi_key}", f"must be > {lo_key} (= {lo:g}) for count > 1, "
                         f"got {hi:g}")
    if count == 1 and hi != lo:
        raise InputError(f"{where}.count", "count = 1 needs start == stop")
    return UniformRule(where, count, **{lo_key: lo, hi_key: hi})


def _threshold_rule(v: dict, where: str) -> ThresholdRule:
    raw = v["hierarchies"]
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}.hierarchies", "must be a non-empty array of 'NH'/'IH'")
    hierarchies = []
    for i, h in enumerate(raw):
        try:
            hierarchies.append(normalize_hierarchy(h))
        except InputError as exc:
            raise InputError(f"{where}.hierarchies[{i}]", exc.message) from None
    return ThresholdRule(where, v["count"], v["step_eV"], tuple(dict.fromkeys(hierarchies)),
                         v["m0_eV"])


def _check_exposure(exp: dict, values, rules: bool) -> None:
    given = [k for k in ("time_per_point_s", "total_time_s", "times_s") if exp[k] is not None]
    if len(given) != 1:
        raise InputError("exposure.time_per_point_s" if not given else f"exposure.{given[1]}",
                         "give exactly one of time_per_point_s, total_time_s, times_s"
                         + (f" (got {', '.join(given)})" if given else ""))
    times = exp["times_s"]
    if times is not None:
        if rules:
            raise InputError("exposure.times_s", "per-point times need the frequencies as an "
                             "explicit values_eV list only (no rules)")
        if len(times) != len(values):
            raise InputError("exposure.times_s", f"has {len(times)} entries for "
                             f"{len(values)} values in frequencies.values_eV")
        if sum(times) <= 0.0:
            raise InputError("exposure.times_s", "the total time must be > 0 s")


def parse_plan(text: str, path=None) -> MeasurementPlan:
    """Parse and validate plan-file text.

    Parameters
    ----------
    text : str
        TOML text (schema: ``docs/sensitivity.md``; :data:`PLAN_FILE`).
    path : str or os.PathLike, optional
        Where the text came from; recorded and quoted in messages.

    Returns
    -------
    MeasurementPlan

    Raises
    ------
    InputError
        The first problem found; ``field`` is the dotted key.
    """
    doc = PLAN_FILE.read(parse_toml(text, "toml", path), "")
    plan, freq, exp, ana = doc["plan"], doc["frequencies"], doc["exposure"], doc["analysis"]
    if not plan["name"].strip():
        raise InputError("plan.name", "must not be empty")
    if plan["target"] is not None:
        try:
            get_target(plan["target"])
        except InputError as exc:
            raise InputError("plan.target", exc.message) from None
    values = freq["values_eV"] or ()
    if len(set(values)) != len(values):
        raise InputError("frequencies.values_eV", "repeats a value")
    uniform = tuple(_uniform_rule(v, f"frequencies.uniform[{i}]")
                    for i, v in enumerate(freq["uniform"]))
    below = tuple(_threshold_rule(v, f"frequencies.below_thresholds[{i}]")
                  for i, v in enumerate(freq["below_thresholds"]))
    if not values and not uniform and not below:
        raise InputError("frequencies", "gives no frequency: add values_eV, "
                         "[[frequencies.uniform]] or [[frequencies.below_thresholds]]")
    _check_exposure(exp, values, bool(uniform or below))
    m0_true = ana["m0_true_eV"]
    if m0_true is not None and any(b <= a for a, b in zip(m0_true, m0_true[1:], strict=False)):
        raise InputError("analysis.m0_true_eV", "must be strictly increasing")
    return MeasurementPlan(
        path=str(path) if path is not None else None, text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), **plan,
        values_eV=values, uniform=uniform, below_thresholds=below,
        time_per_point_s=exp["time_per_point_s"], total_time_s=exp["total_time_s"],
        times_s=exp["times_s"], background_Hz=exp["background_Hz"],
        efficiency=exp["efficiency"], normalization=ana["normalization"],
        dchi2_target=ana["dchi2_target"], m0_true_eV=m0_true)


def load_plan(path) -> MeasurementPlan:
    """Read and validate a plan file (TOML, UTF-8); see :func:`parse_plan`."""
    return parse_plan(read_text(path, "plan", "plan file"), path=path)
