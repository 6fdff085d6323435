"""The physics choices of one rate Gamma(omega): one frozen, picklable description.

:class:`Physics` holds everything a rate depends on besides the target, m0 and the
omega grid: the neutrino hypothesis (hierarchy, nature, Majorana phases), the pair
channel, the model of the Coulomb integrals, the set-up of eq. 18 (n, V, eta), the
form of the level ratio R of F(omega) and the oscillation data. It is what
:func:`renp_scan.spectrum` builds from its keywords, what a sweep's block task
carries to its worker and what rate tables are computed with; it validates itself
on construction (:class:`~renp_scan.errors.InputError` naming the field) and
describes itself as cube attributes (:meth:`Physics.attributes`).

A new physics option is one field here, its check in ``__post_init__``, its entry
in :meth:`Physics.attributes` (or a cube axis), and its use in the model
(:mod:`renp_scan.model.spectrum`); a scan-wide option is also a key of the scan
file's ``[physics]`` table (:mod:`renp_scan.sweep.scanfile`), which passes that
table here as it is.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import constants
from .channels import normalize_channel, normalize_majorana
from .neutrinos import check_phases, normalize_hierarchy
from .oscillations import OscillationData, load_oscillation_data
from .targets import Target, check_level_ratio

__all__ = [
    "CHANNEL_LABELS",
    "COULOMB_MODELS",
    "DEFAULT_COULOMB_MODEL",
    "DENSITY_CM3",
    "ETA",
    "HIERARCHY_LABELS",
    "NATURE_LABELS",
    "VOLUME_CM3",
    "Physics",
    "check_rate_scale",
    "flatten_attributes",
]

COULOMB_MODELS = ("thomas-fermi", "valence")
#: The paper's Coulomb integrals (Thomas-Fermi, eqs. 10 and 15): the default model.
DEFAULT_COULOMB_MODEL = "thomas-fermi"
#: The paper's set-up (Sec. III), the default of every rate: number density n
#: [cm^-3], volume V [cm^3] and extractable fraction eta of eq. 18.
DENSITY_CM3 = 1e21
VOLUME_CM3 = 100.0
ETA = 1e-6
#: Exact labels of the API, as in scan files (``docs/reliability.md``: the API is as strict).
HIERARCHY_LABELS = ("NH", "IH")
CHANNEL_LABELS = ("nucleus", "core")
NATURE_LABELS = ("majorana", "dirac")
#: Sets a field of a frozen dataclass (what its generated __init__ does).
_set = object.__setattr__
#: Largest log10 of a float64 (1.797e308).
_LOG10_MAX = math.log10(np.finfo(np.float64).max)


def _label(name, value, allowed):
    """``value`` if it is exactly one of ``allowed``; else InputError with a did-you-mean."""
    if isinstance(value, str) and value in allowed:
        return value
    near = [a for a in allowed if isinstance(value, str) and a.lower() == value.strip().lower()]
    near = near or difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise InputError(name, f"{value!r} is not allowed{hint}; allowed values: "
                     f"{', '.join(allowed)}")


def real_number(name, value) -> float:
    """Return a real scalar as float; bools, complex numbers and strings are refused."""
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)) \
            or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(name, f"must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def _positive(name, value, upper=None):
    if isinstance(value, (bool, np.bool_, complex, np.complexfloating)):
        raise InputError(name, f"must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(name, f"must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0.0 or (upper is not None and v > upper):
        allowed = f"in (0, {upper}]" if upper is not None else "finite and > 0"
        raise InputError(name, f"must be {allowed}, got {value!r}")
    return v


def check_rate_scale(density_cm3, volume_cm3, eta, prefix=""):
    """Refuse a rate scale n^3 V eta of eq. 18 that does not fit a float64.

    Gamma_0 = (3/4) G_F^2 n^3 V eps_eg, in eV^3, must be a finite float64 (and so its
    factor n^3 V eta [cm^-6]): a density of 1e300 cm^-3 makes n^3 overflow. Checked in
    log10 so that nothing overflows here. ``prefix`` is put before the field names.
    """
    # log10 of Gamma_0 / (n^3 V) in eV^3 per (cm^-9 cm^3): the unit conversions and G_F^2.
    offset = (math.log10(0.75 * constants.G_F_EV2**2)
              + 3.0 * math.log10(constants.density_cm3_to_eV3(1.0))
              + math.log10(constants.volume_cm3_to_eV3(1.0)))
    log_n3 = 3.0 * math.log10(density_cm3)
    log_scale = log_n3 + math.log10(volume_cm3) + math.log10(eta)
    log_gamma0 = offset + log_n3 + math.log10(volume_cm3)
    # A margin of 1e8 for eps_eg, C^2 R^2 A_ug / d_ug^3 and the phase-space integral.
    limit = _LOG10_MAX - 8.0
    if max(log_scale, log_gamma0) <= limit:
        return
    field = "density_cm3" if log_n3 + max(0.0, offset) > limit else "volume_cm3"
    bound = limit - max(0.0, offset - math.log10(eta))
    raise InputError(prefix + field, f"the rate scale n^3 V eta = 10^{log_scale:.1f} cm^-6 "
                     f"(n = {density_cm3!r} cm^-3, V = {volume_cm3!r} cm^3, eta = {eta!r}) "
                     f"overflows float64 in Gamma_0 of eq. 18; keep n^3 V eta below "
                     f"10^{bound:.0f} cm^-6")


def flatten_attributes(prefix: str, value, out: dict) -> None:
    """Add ``value`` to ``out`` as CF attributes ``<prefix>_<field>`` (dataclasses, dicts).

    Numbers and strings are kept, numeric sequences become arrays, anything else its
    ``str``; nested names are joined by ``_`` (CF names have no dots).
    """
    if hasattr(value, "__dataclass_fields__"):
        value = {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        for key, item in value.items():
            flatten_attributes(f"{prefix}_{key}", item, out)
    elif isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        out[prefix] = value
    elif isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            out[prefix] = arr
        else:
            out[prefix] = str(value)


@dataclass(frozen=True)
class Physics:
    """The physics of one rate Gamma(omega), validated and normalised on construction.

    Every field has :func:`renp_scan.spectrum`'s default. Equal settings compare and
    hash equal (the model cache is keyed on them); the object pickles, so a sweep's
    block task carries it to its worker unchanged.

    Attributes
    ----------
    hierarchy : {"NH", "IH"}
        Neutrino mass ordering.
    majorana : bool
        True for Majorana neutrinos (delta_M = 1); the strings ``"majorana"`` and
        ``"dirac"`` are accepted and stored as bool.
    channel : {"nucleus", "core"}
        Pair emitted by the nucleus (Q_w J_N, eqs. 14-16) or the core electrons (b_ij J_C,
        eq. 10).
    coulomb_model : {"thomas-fermi", "valence"}
        Model of the Coulomb integrals (paper's TF estimate, eqs. 10 and 15, or valence
        matrix elements, ``docs/valence_coulomb.md``).
    majorana_phases_rad : (float, float)
        (alpha21, alpha31) [rad].
    density_cm3 : float
        Number density n [cm^-3] of eq. 18 (> 0).
    volume_cm3 : float
        Volume V [cm^3] of eq. 18 (> 0).
    eta : float
        Extractable fraction eta of eq. 18, in (0, 1].
    level_ratio : {"eq19", "eq23-printed"} or None
        Form of the level ratio R of F(omega); None uses each target's own
        (:meth:`level_ratio_for`).
    oscillation_data : OscillationData
        Mass splittings, mixing angles and sin^2 theta_W; None on construction means the
        package's NuFIT table, which is then stored.

    Raises
    ------
    InputError
        On the first invalid field; ``field`` is its name (n^3 V eta that overflows
        float64 names ``density_cm3`` or ``volume_cm3``).
    """

    hierarchy: str = "NH"
    majorana: bool = True
    channel: str = "nucleus"
    coulomb_model: str = DEFAULT_COULOMB_MODEL
    majorana_phases_rad: tuple = (0.0, 0.0)
    density_cm3: float = DENSITY_CM3
    volume_cm3: float = VOLUME_CM3
    eta: float = ETA
    level_ratio: str | None = None
    oscillation_data: OscillationData | None = None

    def __post_init__(self):
        # Every rate call builds one: plain checks, the fields set in place (frozen).
        _set(self, "hierarchy", normalize_hierarchy(_label("hierarchy", self.hierarchy,
                                                           HIERARCHY_LABELS)))
        majorana = self.majorana
        if majorana is not True and majorana is not False:
            if not isinstance(majorana, np.bool_):
                _label("majorana", majorana, NATURE_LABELS)
            _set(self, "majorana", normalize_majorana(majorana))
        _set(self, "channel", normalize_channel(_label("channel", self.channel, CHANNEL_LABELS)))
        _set(self, "density_cm3", _positive("density_cm3", self.density_cm3))
        _set(self, "volume_cm3", _positive("volume_cm3", self.volume_cm3))
        _set(self, "eta", _positive("eta", self.eta, upper=1.0))
        check_rate_scale(self.density_cm3, self.volume_cm3, self.eta)
        data = self.oscillation_data
        if data is None:
            _set(self, "oscillation_data", load_oscillation_data())
        elif not isinstance(data, OscillationData):
            raise InputError("oscillation_data", f"must be an OscillationData, got "
                             f"{type(data).__name__}")
        _set(self, "majorana_phases_rad", check_phases(self.majorana_phases_rad))
        if self.level_ratio is not None:
            check_level_ratio(self.level_ratio)
        if self.coulomb_model not in COULOMB_MODELS or not isinstance(self.coulomb_model, str):
            raise InputError("coulomb_model", f"unknown model {self.coulomb_model!r}; allowed: "
                             f"{', '.join(COULOMB_MODELS)}")

    @classmethod
    def from_table(cls, table: dict, prefix: str) -> Physics:
        """Build from a file's table of settings, naming a bad one ``<prefix><field>``."""
        try:
            return cls(**table)
        except InputError as exc:
            raise InputError(prefix + exc.field, exc.message) from None

    def level_ratio_for(self, target: Target) -> str:
        """Return the form of R for ``target``: :attr:`level_ratio`, or the target's own."""
        if self.level_ratio is None:
            return target.level_ratio
        return check_level_ratio(self.level_ratio, target)

    def attributes(self) -> dict:
        """Cube root attributes of the settings shared by a whole scan.

        The per-point choices (hierarchy, nature, channel, Coulomb model, phases) are the
        cube's dimensions, not attributes; the level ratio is a target attribute
        (:meth:`target_attributes`).
        """
        attrs = {"density_cm3": self.density_cm3, "volume_cm3": self.volume_cm3,
                 "eta": self.eta}
        flatten_attributes("oscillation", self.oscillation_data, attrs)
        return attrs

    def target_attributes(self, target: Target) -> dict:
        """Attributes of a target's cube group that these settings decide."""
        return {"level_ratio": self.level_ratio_for(target)}
