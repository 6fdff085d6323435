"""Neutrino oscillation data and the weak mixing angle (inputs to eqs. 6, 14, 20-21).

The numbers live in ``renp_scan/data/oscillations.toml`` (NuFIT 6.0 best fit per
mass ordering, and ``sin2_theta_W = 0.239`` so that 1 - 4 sin^2 theta_W = 0.044 as
in the paper). A user file of the same format replaces the package file.

Conventions are NuFIT's: ``dm3l_sq_eV2`` is Delta m^2_31 > 0 for the normal
ordering and Delta m^2_32 < 0 for the inverted ordering; ``delta_cp_deg`` is in
degrees; all mass-squared splittings are in eV^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources

from ..config import Table, check_format_version, load_toml
from ..errors import InputError

__all__ = [
    "OSCILLATIONS_FORMAT_VERSION",
    "MixingParams",
    "OscillationData",
    "load_oscillation_data",
]

#: The oscillations file format this module reads.
OSCILLATIONS_FORMAT_VERSION = 1

# Accepted spellings of the two orderings (the paper's NH/IH and NuFIT's NO/IO).
_NORMAL_NAMES = ("NH", "NO", "NORMAL")
_INVERTED_NAMES = ("IH", "IO", "INVERTED")


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(name, f"must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise InputError(name, f"must be finite, got {value!r}")
    return float(value)


def _open_unit(name, value):
    value = _real(name, value)
    if not 0.0 < value < 1.0:
        raise InputError(name, f"must lie in (0, 1), got {value!r}")
    return value


@dataclass(frozen=True)
class MixingParams:
    """Oscillation parameters of one mass ordering (NuFIT conventions).

    Parameters
    ----------
    sin2_theta12, sin2_theta13, sin2_theta23 : float
        sin^2 of the PMNS mixing angles, each in (0, 1).
    delta_cp_deg : float
        Dirac CP phase delta_CP [degrees].
    dm21_sq_eV2 : float
        Delta m^2_21 = m_2^2 - m_1^2 [eV^2], > 0.
    dm3l_sq_eV2 : float
        Delta m^2_3l [eV^2]: Delta m^2_31 > 0 (normal ordering) or
        Delta m^2_32 < 0 (inverted ordering); the sign is the ordering.

    Raises
    ------
    InputError
        If a value is not finite or out of range; ``field`` names it.
    """

    sin2_theta12: float
    sin2_theta13: float
    sin2_theta23: float
    delta_cp_deg: float
    dm21_sq_eV2: float
    dm3l_sq_eV2: float

    def __post_init__(self):
        for name in ("sin2_theta12", "sin2_theta13", "sin2_theta23"):
            object.__setattr__(self, name, _open_unit(name, getattr(self, name)))
        object.__setattr__(self, "delta_cp_deg", _real("delta_cp_deg", self.delta_cp_deg))
        dm21 = _real("dm21_sq_eV2", self.dm21_sq_eV2)
        if not dm21 > 0.0:
            raise InputError("dm21_sq_eV2", f"must be > 0, got {self.dm21_sq_eV2!r}")
        object.__setattr__(self, "dm21_sq_eV2", dm21)
        dm3l = _real("dm3l_sq_eV2", self.dm3l_sq_eV2)
        if dm3l == 0.0:
            raise InputError("dm3l_sq_eV2", "must be nonzero (> 0 normal, < 0 inverted ordering)")
        if abs(dm3l) <= dm21:
            # Otherwise m_3 would not be the heaviest (NO) or the lightest (IO) state.
            raise InputError(
                "dm3l_sq_eV2",
                f"|Delta m^2_3l| = {abs(dm3l)!r} must exceed Delta m^2_21 = {dm21!r}",
            )
        object.__setattr__(self, "dm3l_sq_eV2", dm3l)

    @property
    def is_normal(self) -> bool:
        """True for the normal ordering (Delta m^2_3l > 0)."""
        return self.dm3l_sq_eV2 > 0.0

    @property
    def dm31_sq_eV2(self) -> float:
        """Delta m^2_31 = m_3^2 - m_1^2 [eV^2] (negative in the inverted ordering)."""
        return self.dm3l_sq_eV2 if self.is_normal else self.dm3l_sq_eV2 + self.dm21_sq_eV2

    @property
    def dm32_sq_eV2(self) -> float:
        """Delta m^2_32 = m_3^2 - m_2^2 [eV^2] (negative in the inverted ordering)."""
        return self.dm3l_sq_eV2 - self.dm21_sq_eV2 if self.is_normal else self.dm3l_sq_eV2


@dataclass(frozen=True)
class OscillationData:
    """Oscillation parameters for both orderings plus the weak mixing angle.

    Parameters
    ----------
    normal, inverted : MixingParams
        Best fits for the normal (Delta m^2_31 > 0) and inverted
        (Delta m^2_32 < 0) orderings.
    sin2_theta_W : float
        sin^2 theta_W used in b_ij (eq. 6) and Q_w (eq. 14), in (0, 1).
    source : str
        Citation of the numbers.
    data_set : str, optional
        Which variant of the fit (e.g. with or without SK atmospheric data).

    Raises
    ------
    InputError
        If an ordering has the wrong sign of Delta m^2_3l or sin2_theta_W is out of range.
    """

    normal: MixingParams
    inverted: MixingParams
    sin2_theta_W: float
    source: str
    data_set: str = ""

    def __post_init__(self):
        for name in ("normal", "inverted"):
            if not isinstance(getattr(self, name), MixingParams):
                raise InputError(name, f"must be a MixingParams, got {getattr(self, name)!r}")
        if not self.normal.is_normal:
            raise InputError(
                "normal.dm3l_sq_eV2",
                "must be Delta m^2_31 > 0 for the normal ordering, got "
                f"{self.normal.dm3l_sq_eV2!r}",
            )
        if self.inverted.is_normal:
            raise InputError(
                "inverted.dm3l_sq_eV2",
                "must be Delta m^2_32 < 0 for the inverted ordering, got "
                f"{self.inverted.dm3l_sq_eV2!r}",
            )
        object.__setattr__(self, "sin2_theta_W", _open_unit("sin2_theta_W", self.sin2_theta_W))
        for name in ("source", "data_set"):
            if not isinstance(getattr(self, name), str):
                raise InputError(name, f"must be a string, got {getattr(self, name)!r}")
        if not self.source.strip():
            raise InputError("source", "must be a non-empty string")

    def ordering(self, hierarchy: str) -> MixingParams:
        """Parameters of one mass ordering.

        Parameters
        ----------
        hierarchy : str
            ``"NH"`` or ``"IH"`` (case-insensitive; NuFIT's ``"NO"``/``"IO"`` and
            ``"normal"``/``"inverted"`` are accepted too).

        Returns
        -------
        MixingParams

        Raises
        ------
        InputError
            ``field="hierarchy"`` for anything else.
        """
        key = hierarchy.strip().upper() if isinstance(hierarchy, str) else None
        if key in _NORMAL_NAMES:
            return self.normal
        if key in _INVERTED_NAMES:
            return self.inverted
        raise InputError("hierarchy", f"must be 'NH' or 'IH', got {hierarchy!r}")


def _package_oscillations_file():
    return resources.files("renp_scan").joinpath("data", "oscillations.toml")


_TOP_LEVEL = ("format_version", "source", "data_set", "sin2_theta_W", "normal", "inverted")
_MIXING_FIELDS = tuple(f.name for f in fields(MixingParams))


def _parse_mixing(table, where) -> MixingParams:
    table = Table(table, where, _MIXING_FIELDS, missing="missing field")
    values = {name: table.get(name) for name in _MIXING_FIELDS}
    try:
        return MixingParams(**values)
    except InputError as exc:
        raise InputError(f"{where}.{exc.field}", exc.message) from None


def _parse_oscillations(document, path) -> OscillationData:
    top = Table(document, "", _TOP_LEVEL, missing="missing field")
    check_format_version(document, OSCILLATIONS_FORMAT_VERSION, path)
    return OscillationData(
        normal=_parse_mixing(top.get("normal"), "normal"),
        inverted=_parse_mixing(top.get("inverted"), "inverted"),
        sin2_theta_W=top.get("sin2_theta_W"),
        source=top.get("source"),
        data_set=top.get("data_set", ""),
    )


def _read(path) -> OscillationData:
    return _parse_oscillations(load_toml(path, "oscillations_file", "oscillation-data file"),
                               path)


@lru_cache(maxsize=1)
def _package_oscillation_data() -> OscillationData:
    return _read(_package_oscillations_file())


def load_oscillation_data(path=None) -> OscillationData:
    """Oscillation parameters and sin^2 theta_W from the package file or a user file.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A TOML file in the format of ``renp_scan/data/oscillations.toml``; it
        replaces the package file entirely. Default: the package file (NuFIT 6.0),
        parsed once and cached.

    Returns
    -------
    OscillationData

    Raises
    ------
    InputError
        If the file cannot be read or parsed or a value is invalid; ``field``
        names it (e.g. ``"normal.dm21_sq_eV2"``, ``"sin2_theta_W"``).
    """
    if path is None:
        return _package_oscillation_data()
    return _read(path)
