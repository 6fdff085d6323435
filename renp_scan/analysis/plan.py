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

import difflib
import hashlib
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib; pyproject pulls in tomli there
    import tomli as tomllib

__all__ = [
    "MeasurementPlan",
    "ResolvedPlan",
    "UniformRule",
    "ThresholdRule",
    "load_plan",
    "parse_plan",
    "NORMALIZATIONS",
]

#: Allowed values of ``analysis.normalization``: the signal scale (n^3 V eta of
#: eq. 18, eta above all) is known ("fixed") or profiled as a free factor ("free").
NORMALIZATIONS = ("fixed", "free")
#: Cap on the frequency points of one plan.
MAX_POINTS = 100_000
#: Points closer than this fraction of eps_eg are one point (as for scan grids).
MERGE_RTOL = 1e-12

_TOP_KEYS = ("plan", "frequencies", "exposure", "analysis")
_PLAN_KEYS = ("name", "description", "target", "channel", "phase")
_FREQ_KEYS = ("values_eV", "uniform", "below_thresholds")
_UNIFORM_KEYS = ("start_eV", "stop_eV", "start_fraction", "stop_fraction", "count")
_THRESH_KEYS = ("count", "step_eV", "hierarchies", "m0_eV")
_EXPOSURE_KEYS = ("time_per_point_s", "total_time_s", "times_s", "background_Hz", "efficiency")
_ANALYSIS_KEYS = ("normalization", "dchi2_target", "m0_true_eV")
_MISSING = object()


def _type_name(value) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), type(value).__name__)


class _Fields:
    """Typed, strict access to one TOML table, reporting dotted field names."""

    def __init__(self, data, prefix: str, allowed):
        if not isinstance(data, dict):
            raise InputError(prefix or "plan", f"must be a table, got {_type_name(data)}")
        self.data, self.prefix = data, prefix
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise InputError(self.field(key),
                                 f"unknown key{hint}; allowed keys: {', '.join(allowed)}")

    def field(self, key) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def has(self, key) -> bool:
        return key in self.data

    def get(self, key, default=_MISSING):
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise InputError(self.field(key), "required key is missing")
        return default

    def string(self, key, default=_MISSING, choices=None):
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(self.field(key), f"must be a string, got {_type_name(value)}")
        if choices is not None and value not in choices:
            raise InputError(self.field(key),
                             f"{value!r} is not allowed; allowed values: {', '.join(choices)}")
        return value

    def integer(self, key, default=_MISSING, minimum=None, maximum=None):
        value = self.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.field(key), f"must be an integer (write 10, not 10.0 or 1e1), "
                             f"got {_type_name(value)} {value!r}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise InputError(self.field(key), f"must be in [{minimum}, {maximum}], got {value}")
        return value

    def number(self, key, default=_MISSING, *, positive=False, nonnegative=False, maximum=None):
        value = self.get(key, default)
        if value is None:
            return None
        return _check_number(self.field(key), value, positive, nonnegative, maximum)

    def numbers(self, key, default=_MISSING, *, positive=False, nonnegative=False):
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, list):
            raise InputError(self.field(key),
                             f"must be an array of numbers, got {_type_name(value)}")
        if not value:
            raise InputError(self.field(key), "must not be empty")
        return tuple(_check_number(f"{self.field(key)}[{i}]", v, positive, nonnegative, None)
                     for i, v in enumerate(value))

    def tables(self, key):
        value = self.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InputError(self.field(key),
                             f"must be an array of tables ([[{self.field(key)}]]), "
                             f"got {_type_name(value)}")
        return value


def _check_number(where, value, positive, nonnegative, maximum) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(where, f"must be a number, got {_type_name(value)} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise InputError(where, f"must be finite, got {value!r}")
    if positive and v <= 0.0:
        raise InputError(where, f"must be > 0, got {value!r}")
    if nonnegative and v < 0.0:
        raise InputError(where, f"must be >= 0, got {value!r}")
    if maximum is not None and v > maximum:
        raise InputError(where, f"must be <= {maximum}, got {value!r}")
    return v


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
        from ..model.neutrinos import neutrino_masses
        from ..model.spectrum import thresholds_eV

        points = []
        for hierarchy in self.hierarchies:
            for m0 in self.m0_eV:
                masses = neutrino_masses(m0, hierarchy, oscillation_data)
                omega_ij = np.unique(thresholds_eV(eps_eg_eV, masses))
                for w in omega_ij[omega_ij > 0.0]:
                    points.append(w - self.step_eV * np.arange(1, self.count + 1))
        if not points:
            raise InputError(f"{self.field}.m0_eV", "every pair threshold is closed "
                             "(2 m0 >~ eps_eg); no frequency can be placed below one")
        return np.concatenate(points)


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
        from .likelihood import expected_counts

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
            from ..model.targets import get_target

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
        if self.values_eV and _merge(sources[0][1], MERGE_RTOL * eps).size < len(self.values_eV):
            raise InputError("frequencies.values_eV", f"has values closer than {MERGE_RTOL:g} "
                             "eps_eg (the same laser frequency twice)")
        if self.times_s is not None:
            order = np.argsort(sources[0][1])
            omega = sources[0][1][order]
            times = np.asarray(self.times_s, dtype=float)[order]
            return ResolvedPlan(omega, times, self.efficiency, self.background_Hz)
        omega = _merge(np.concatenate([s[1] for s in sources]), MERGE_RTOL * eps)
        if omega.size > MAX_POINTS:
            raise InputError("frequencies", f"{omega.size} points; at most {MAX_POINTS} allowed")
        if self.time_per_point_s is not None:
            times = np.full(omega.size, self.time_per_point_s)
        else:
            times = np.full(omega.size, self.total_time_s / omega.size)
        return ResolvedPlan(omega, times, self.efficiency, self.background_Hz)


def _merge(values: np.ndarray, atol: float) -> np.ndarray:
    merged = np.unique(values)
    keep = np.ones(merged.size, dtype=bool)
    last = merged[0] if merged.size else 0.0
    for i in range(1, merged.size):
        if merged[i] - last <= atol:
            keep[i] = False
        else:
            last = merged[i]
    return merged[keep]


def _parse_uniform(data, where) -> UniformRule:
    t = _Fields(data, where, _UNIFORM_KEYS)
    count = t.integer("count", minimum=1, maximum=MAX_POINTS)
    ev = t.has("start_eV") or t.has("stop_eV")
    frac = t.has("start_fraction") or t.has("stop_fraction")
    if ev and frac:
        raise InputError(where, "give the range as start_eV + stop_eV or as start_fraction + "
                         "stop_fraction, not both")
    if not ev and not frac:
        raise InputError(f"{where}.start_eV", "required: a range start_eV + stop_eV (or "
                         "start_fraction + stop_fraction of eps_eg/2)")
    lo_key, hi_key = ("start_eV", "stop_eV") if ev else ("start_fraction", "stop_fraction")
    lo = t.number(lo_key, positive=True)
    hi = t.number(hi_key, positive=True, maximum=None if ev else 2.0)
    if hi < lo or (hi == lo and count > 1):
        raise InputError(t.field(hi_key), f"must be > {lo_key} (= {lo:g}) for count > 1, "
                         f"got {hi:g}")
    if count == 1 and hi != lo:
        raise InputError(t.field("count"), "count = 1 needs start == stop")
    if ev:
        return UniformRule(where, count, start_eV=lo, stop_eV=hi)
    return UniformRule(where, count, start_fraction=lo, stop_fraction=hi)


def _parse_threshold(data, where) -> ThresholdRule:
    from ..model.neutrinos import normalize_hierarchy

    t = _Fields(data, where, _THRESH_KEYS)
    count = t.integer("count", minimum=1, maximum=10_000)
    step = t.number("step_eV", positive=True)
    raw = t.get("hierarchies", ["NH", "IH"])
    if not isinstance(raw, list) or not raw:
        raise InputError(t.field("hierarchies"), "must be a non-empty array of 'NH'/'IH'")
    hierarchies = []
    for i, h in enumerate(raw):
        try:
            hierarchies.append(normalize_hierarchy(h))
        except InputError as exc:
            raise InputError(f"{t.field('hierarchies')}[{i}]", exc.message) from None
    m0 = t.numbers("m0_eV", nonnegative=True)
    for i, v in enumerate(m0):
        if v > 10.0:
            raise InputError(f"{t.field('m0_eV')}[{i}]",
                             f"{v:g} eV is above 10 eV (meV written as eV?)")
    return ThresholdRule(where, count, step, tuple(dict.fromkeys(hierarchies)), m0)


def parse_plan(text: str, path=None) -> MeasurementPlan:
    """Parse and validate plan-file text.

    Parameters
    ----------
    text : str
        TOML text (schema: ``docs/sensitivity.md``).
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
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"{path}: " if path is not None else ""
        raise InputError("toml", f"{where}malformed TOML: {exc}") from None
    top = _Fields(doc, "", _TOP_KEYS)
    plan = _Fields(top.get("plan"), "plan", _PLAN_KEYS)
    name = plan.string("name")
    if not name.strip():
        raise InputError("plan.name", "must not be empty")
    description = plan.string("description", "")
    target = plan.string("target", None)
    if target is not None:
        from ..model.targets import get_target

        try:
            get_target(target)
        except InputError as exc:
            raise InputError("plan.target", exc.message) from None
    channel = plan.string("channel", None, choices=("nucleus", "core"))
    phase = plan.integer("phase", 0, minimum=0, maximum=10**6)

    freq = _Fields(top.get("frequencies"), "frequencies", _FREQ_KEYS)
    values = freq.numbers("values_eV", None, positive=True) or ()
    if len(set(values)) != len(values):
        raise InputError("frequencies.values_eV", "repeats a value")
    uniform = tuple(_parse_uniform(d, f"frequencies.uniform[{i}]")
                    for i, d in enumerate(freq.tables("uniform")))
    below = tuple(_parse_threshold(d, f"frequencies.below_thresholds[{i}]")
                  for i, d in enumerate(freq.tables("below_thresholds")))
    if not values and not uniform and not below:
        raise InputError("frequencies", "gives no frequency: add values_eV, "
                         "[[frequencies.uniform]] or [[frequencies.below_thresholds]]")

    exp = _Fields(top.get("exposure"), "exposure", _EXPOSURE_KEYS)
    given = [k for k in ("time_per_point_s", "total_time_s", "times_s") if exp.has(k)]
    if len(given) != 1:
        raise InputError("exposure.time_per_point_s" if not given else f"exposure.{given[1]}",
                         "give exactly one of time_per_point_s, total_time_s, times_s"
                         + (f" (got {', '.join(given)})" if given else ""))
    per_point = exp.number("time_per_point_s", None, positive=True)
    total = exp.number("total_time_s", None, positive=True)
    times = exp.numbers("times_s", None, nonnegative=True)
    if times is not None:
        if uniform or below:
            raise InputError("exposure.times_s", "per-point times need the frequencies as an "
                             "explicit values_eV list only (no rules)")
        if len(times) != len(values):
            raise InputError("exposure.times_s", f"has {len(times)} entries for "
                             f"{len(values)} values in frequencies.values_eV")
        if sum(times) <= 0.0:
            raise InputError("exposure.times_s", "the total time must be > 0 s")
    background = exp.number("background_Hz", 0.0, nonnegative=True)
    efficiency = exp.number("efficiency", 1.0, positive=True, maximum=1.0)

    ana = _Fields(top.get("analysis", {}), "analysis", _ANALYSIS_KEYS)
    normalization = ana.string("normalization", "fixed", choices=NORMALIZATIONS)
    dchi2_target = ana.number("dchi2_target", 9.0, positive=True)
    m0_true = ana.numbers("m0_true_eV", None, nonnegative=True)
    if m0_true is not None and any(b <= a for a, b in zip(m0_true, m0_true[1:], strict=False)):
        raise InputError("analysis.m0_true_eV", "must be strictly increasing")

    return MeasurementPlan(
        path=str(path) if path is not None else None, text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), name=name,
        description=description, target=target, channel=channel, phase=phase,
        values_eV=values, uniform=uniform, below_thresholds=below, time_per_point_s=per_point,
        total_time_s=total, times_s=times, background_Hz=background, efficiency=efficiency,
        normalization=normalization, dchi2_target=dchi2_target, m0_true_eV=m0_true)


def load_plan(path) -> MeasurementPlan:
    """Read and validate a plan file (TOML, UTF-8); see :func:`parse_plan`."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError("plan", f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("plan", f"cannot read {p}: {exc}") from None
    return parse_plan(text, path=p)
