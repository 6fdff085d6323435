"""RENP targets: the three atomic levels and the nucleus of one isotope (paper Sec. III).

One description serves both of the paper's schemes. Three levels enter the
spectrum: ``g`` (final, ground), ``e`` (initial, excited, eps_eg = e - g) and
``u`` (the intermediate level whose E1 decay u -> g with Einstein coefficient
A_ug gives the dipole d_ug of eqs. 19 and 23):

* ``"alkali"`` (eq. 19): g = ns, e = np 2P1/2, u = (n+1)p 2P1/2 (Cs: 6s, 6p, 7p).
* ``"electron_hole"`` (eq. 23): g = 5p6, e = 5p5 6s 3P1, u = 5p5 7s 3P1 (Xe).

The level ratio R of F(omega) follows eq. 19's pattern (eps_u - eps_g)/(eps_u - eps_e)
for every target (``level_ratio = "eq19"``, the default); an electron-hole target may
instead use eq. 23 exactly as printed, (eps_u - eps_e)/(eps_u - eps_g)
(``level_ratio = "eq23-printed"``; ``docs/physics.md``).

The numbers live in ``renp_scan/data/targets.toml`` (with the source of each);
a user may add or override targets with a TOML file of the same format
(documented in ``renp_scan/data/README.md``). Energies are in eV relative to
the ground level ``g``, A-coefficients in s^-1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from ..config import Field, Section, Table, check_format_version, load_toml
from ..errors import InputError

__all__ = [
    "LEVEL_RATIOS",
    "SCHEMES",
    "TARGETS_FORMAT_VERSION",
    "Target",
    "available_targets",
    "check_level_ratio",
    "get_target",
    "load_targets",
]

#: Level schemes of the paper: "alkali" (eq. 19) and "electron_hole" (eq. 23).
SCHEMES = ("alkali", "electron_hole")
#: Forms of the level ratio R of F(omega): eq. 19's pattern (every target; the default)
#: and eq. 23 as printed (electron-hole targets only).
LEVEL_RATIOS = ("eq19", "eq23-printed")
DEFAULT_LEVEL_RATIO = "eq19"
#: The targets file format this module reads.
TARGETS_FORMAT_VERSION = 1

_ISOTOPE_PATTERN = re.compile(r"^(\d+)([A-Z][a-z]?)$")

# One [targets.<name>] table, in file order. "number" accepts TOML integers too (g_eV = 0);
# ranges and level order are checked by Target itself.
_TARGET_TABLE = Section({
    "scheme": Field("string", choices=SCHEMES),
    "isotope": Field("string", doc="mass number and symbol, e.g. '133Cs'"),
    "Z": Field("integer"),
    "N": Field("integer"),
    "g_label": Field("string"),
    "g_eV": Field("number"),
    "e_label": Field("string"),
    "e_eV": Field("number"),
    "u_label": Field("string"),
    "u_eV": Field("number"),
    "A_ug_per_s": Field("number"),
    "source": Field("string"),
    "level_ratio": Field("string", DEFAULT_LEVEL_RATIO,
                         doc="electron-hole level ratio: eq. 19 pattern or eq. 23 as printed"),
    "info": Field("any", {}, doc="informational values, never used in rates"),
}, missing="missing field")


@dataclass(frozen=True)
class Target:
    """One RENP target: isotope (Z, N) and the levels g < e < u (paper Sec. III).

    Parameters
    ----------
    name : str
        Key of the target (e.g. ``"Cs"``, ``"Xe136"``).
    scheme : {"alkali", "electron_hole"}
        Which of the paper's formulas applies: eq. 19 or eq. 23.
    isotope : str
        Mass number and element symbol, e.g. ``"133Cs"``; the mass number must be Z + N.
    Z, N : int
        Proton and neutron numbers of the nucleus (enter Q_w, eq. 14, and J_N).
    g_label, e_label, u_label : str
        Spectroscopic labels of the three levels (informational).
    g_eV, e_eV, u_eV : float
        Level energies [eV] (conventionally relative to g, so ``g_eV = 0``);
        must satisfy g < e < u.
    A_ug_per_s : float
        Einstein A-coefficient gamma_ug of the E1 decay u -> g [s^-1] (eq. 19).
    source : str
        Where the numbers come from.
    level_ratio : {"eq19", "eq23-printed"}, optional
        Form of the level ratio R of F(omega): ``"eq19"`` (default) is
        (eps_u - eps_g)/(eps_u - eps_e), eq. 19's pattern; ``"eq23-printed"`` is
        (eps_u - eps_e)/(eps_u - eps_g), eq. 23 as printed (electron-hole targets only;
        it lowers the rate by ((eps_u - eps_g)/(eps_u - eps_e))^4, 582.75 for Xe).
    info : mapping, optional
        Informational values (abundance, library values for comparison); never
        used in rates and ignored by equality.

    Raises
    ------
    InputError
        If a field is out of range; ``field`` names it (e.g. ``"Z"``).
    """

    name: str
    scheme: str
    isotope: str
    Z: int
    N: int
    g_label: str
    g_eV: float
    e_label: str
    e_eV: float
    u_label: str
    u_eV: float
    A_ug_per_s: float
    source: str
    level_ratio: str = DEFAULT_LEVEL_RATIO
    info: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for name in ("name", "source", "g_label", "e_label", "u_label"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InputError(name, f"must be a non-empty string, got {value!r}")
        if self.scheme not in SCHEMES:
            raise InputError(
                "scheme", f"unknown scheme {self.scheme!r}; allowed: {', '.join(SCHEMES)}"
            )
        for name in ("Z", "N"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(name, f"must be a positive integer, got {value!r}")
        match = _ISOTOPE_PATTERN.match(self.isotope) if isinstance(self.isotope, str) else None
        if match is None:
            raise InputError(
                "isotope", f"must look like '133Cs' (mass number, symbol), got {self.isotope!r}"
            )
        if int(match.group(1)) != self.Z + self.N:
            raise InputError(
                "isotope",
                f"mass number {match.group(1)} of {self.isotope!r} is not Z + N = "
                f"{self.Z} + {self.N} = {self.Z + self.N}",
            )
        for name in ("g_eV", "e_eV", "u_eV", "A_ug_per_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(name, f"must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise InputError(name, f"must be finite, got {value!r}")
            # Keep the stored type float so equality and kernels see one type.
            object.__setattr__(self, name, float(value))
        if not self.e_eV > self.g_eV:
            raise InputError("e_eV", f"level e ({self.e_eV} eV) must lie above g ({self.g_eV} eV)")
        if not self.u_eV > self.e_eV:
            raise InputError("u_eV", f"level u ({self.u_eV} eV) must lie above e ({self.e_eV} eV)")
        if not self.A_ug_per_s > 0.0:
            raise InputError("A_ug_per_s", f"must be > 0, got {self.A_ug_per_s!r}")
        # What the levels produce must be finite too: d_ug^2 = 3 pi A_ug / (u - g)^3 (eq. 19).
        spacing = self.u_eV - self.g_eV
        cubed = spacing**3 if math.isfinite(spacing) and abs(spacing) < 1e100 else math.inf
        if not (math.isfinite(cubed) and math.isfinite(self.A_ug_per_s / cubed)
                and self.A_ug_per_s / cubed > 0.0):
            raise InputError("u_eV", f"level spacing u - g = {spacing!r} eV gives (u - g)^3 or "
                             f"A_ug / (u - g)^3 outside float64 (eq. 19); atomic levels are "
                             "eV, not 1e100 eV")
        check_level_ratio(self.level_ratio, self, "level_ratio")
        if not isinstance(self.info, Mapping):
            raise InputError("info", f"must be a table, got {type(self.info).__name__}")
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    def __reduce__(self):
        # The info mapping is read-only (a mappingproxy, which does not pickle): a Target
        # travels to sweep workers as its constructor arguments and is checked again there.
        args = {f: getattr(self, f) for f in self.__dataclass_fields__}
        args["info"] = dict(self.info)
        return _rebuild_target, (args,)

    @property
    def mass_number(self) -> int:
        """Mass number A = Z + N."""
        return self.Z + self.N

    @property
    def eps_eg_eV(self) -> float:
        """Energy available to photon + pair, eps_eg = eps_e - eps_g [eV] (eqs. 18, 20)."""
        return self.e_eV - self.g_eV

    @property
    def eps_ug_eV(self) -> float:
        """eps_u - eps_g [eV]: the E1 transition energy of d_ug (eq. 19)."""
        return self.u_eV - self.g_eV

    @property
    def eps_ue_eV(self) -> float:
        """eps_u - eps_e [eV] (the energy denominators of eqs. 19 and 23)."""
        return self.u_eV - self.e_eV

    def weak_charge(self, sin2_theta_W: float) -> float:
        """Nuclear weak charge Q_w = N - (1 - 4 sin^2 theta_W) Z (eq. 14), dimensionless.

        Parameters
        ----------
        sin2_theta_W : float
            Weak mixing angle sin^2 theta_W; the paper's 1 - 4 sin^2 theta_W = 0.044
            is ``sin2_theta_W = 0.239``.

        Returns
        -------
        float
            Q_w (e.g. 75.58 for 133Cs with sin2_theta_W = 0.239).
        """
        if isinstance(sin2_theta_W, bool) or not isinstance(sin2_theta_W, (int, float)):
            raise InputError("sin2_theta_W", f"must be a real number, got {sin2_theta_W!r}")
        if not (math.isfinite(sin2_theta_W) and 0.0 < sin2_theta_W < 1.0):
            raise InputError("sin2_theta_W", f"must lie in (0, 1), got {sin2_theta_W!r}")
        return self.N - (1.0 - 4.0 * sin2_theta_W) * self.Z


def _rebuild_target(args: dict) -> Target:
    """Unpickle a :class:`Target` (see ``Target.__reduce__``)."""
    return Target(**args)


def check_level_ratio(level_ratio, target: Target | None = None,
                      field_name: str = "level_ratio") -> str:
    """Return ``level_ratio`` if it is allowed for ``target``; InputError naming ``field_name``.

    ``"eq23-printed"`` exists only for the electron-hole scheme (eq. 23); an alkali
    target has eq. 19 alone. Without ``target`` only the name is checked.
    """
    if not isinstance(level_ratio, str) or level_ratio not in LEVEL_RATIOS:
        raise InputError(field_name, f"unknown level ratio {level_ratio!r}; allowed: "
                         f"{', '.join(LEVEL_RATIOS)}")
    if target is not None and level_ratio == "eq23-printed" and target.scheme != "electron_hole":
        raise InputError(field_name, f"'eq23-printed' is eq. 23's form for electron-hole "
                         f"targets; {target.name} uses the {target.scheme} scheme (eq. 19 only)")
    return level_ratio


def _package_targets_file():
    return resources.files("renp_scan").joinpath("data", "targets.toml")


def _check_info(info, where):
    if not isinstance(info, dict):
        raise InputError(where, f"must be a table, got {info!r}")
    for key, value in info.items():
        if not isinstance(value, (str, int, float, bool)):
            raise InputError(f"{where}.{key}", f"must be a string or a number, got {value!r}")


def _parse_targets(document, path) -> dict[str, Target]:
    top = Table(document, "", ("format_version", "targets"), missing="missing field")
    check_format_version(document, TARGETS_FORMAT_VERSION, path)
    tables = top.get("targets", None)
    if not isinstance(tables, dict) or not tables:
        raise InputError("targets", f"{path} must define at least one [targets.<name>] table")

    targets = {}
    for key, table in tables.items():
        where = f"targets.{key}"
        values = _TARGET_TABLE.read(table, where)
        _check_info(values["info"], f"{where}.info")
        try:
            targets[key] = Target(name=key, **values)
        except InputError as exc:
            # Name the file's key, not the constructor's argument.
            raise InputError(f"{where}.{exc.field}", exc.message) from None
    return targets


def _read_targets(path) -> dict[str, Target]:
    return _parse_targets(load_toml(path, "targets_file", "targets file"), path)


@lru_cache(maxsize=1)
def _package_targets() -> Mapping[str, Target]:
    return MappingProxyType(_read_targets(_package_targets_file()))


def load_targets(path=None) -> dict[str, Target]:
    """Targets from the package data file, plus (overriding) those of a user file.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A TOML file in the format of ``renp_scan/data/targets.toml``. Its
        targets are added to the package's; a target with an existing name
        replaces the package's entry as a whole.

    Returns
    -------
    dict of str to Target
        A new dict on every call (package targets first, in file order).

    Raises
    ------
    InputError
        If a file cannot be read or parsed or any field is invalid; ``field``
        names it as ``targets.<name>.<field>`` (or the top-level key).
    """
    targets = dict(_package_targets())
    if path is not None:
        targets.update(_read_targets(path))
    return targets


def available_targets(extra_files: Iterable = ()) -> tuple[str, ...]:
    """Names of the known targets (package file plus ``extra_files``), in file order."""
    return tuple(_load_with(extra_files))


def _load_with(extra_files) -> dict[str, Target]:
    if isinstance(extra_files, (str, Path)):
        extra_files = (extra_files,)
    targets = load_targets()
    for extra in extra_files:
        targets.update(load_targets(extra))
    return targets


def get_target(atom, extra_files: Iterable = ()) -> Target:
    """Resolve a target by name (or pass a :class:`Target` through).

    Parameters
    ----------
    atom : str or Target
        Target name (e.g. ``"Cs"``, ``"Xe"``, ``"Rb87"``) or a Target.
    extra_files : iterable of path, optional
        User TOML files whose targets are added to (and override) the package's,
        in order.

    Returns
    -------
    Target

    Raises
    ------
    InputError
        ``field="atom"`` for an unknown name or a value that is neither a name
        nor a Target; file errors as in :func:`load_targets`.
    """
    if isinstance(atom, Target):
        return atom
    if not isinstance(atom, str):
        raise InputError("atom", f"must be a target name or a Target, got {atom!r}")
    targets = _load_with(extra_files)
    try:
        return targets[atom]
    except KeyError:
        raise InputError("atom", f"unknown target {atom!r}; known: {', '.join(targets)}") from None
