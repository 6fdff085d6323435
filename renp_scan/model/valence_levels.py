"""Measured valence levels (``renp_scan/data/valence_levels.toml``), to judge the valence model.

The valence-electron model of :mod:`renp_scan.model.valence` predicts binding
energies; this module reads the measured ones (ARC / NIST ASD, sources in the
data file's header) and forms the fine-structure centroid the model is compared
with (``docs/valence_coulomb.md``). Never used in rates. Energies in eV above
the ground level, polarisabilities in bohr^3.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

import numpy as np

from ..config import Field, Section, Table, check_format_version, load_toml
from ..errors import InputError

__all__ = [
    "ElementLevels",
    "MeasuredLevel",
    "VALENCE_LEVELS_FORMAT_VERSION",
    "load_valence_levels",
    "measured_binding_eV",
]

#: The valence-levels file format this module reads.
VALENCE_LEVELS_FORMAT_VERSION = 1

_LEVEL = Section({
    "label": Field("string"),
    "n": Field("integer", minimum=1),
    "l": Field("integer", minimum=0),
    "j": Field("number", nonnegative=True),
    "energy_eV": Field("number", nonnegative=True, doc="energy above the ground level [eV]"),
}, missing="missing field")
_ELEMENT = Section({
    "Z": Field("integer", minimum=1),
    "ionization_limit_eV": Field("number", positive=True),
    "core_polarizability_bohr3": Field("number", None, nonnegative=True),
    "source": Field("string"),
    "levels": Field("tables", (), section=_LEVEL),
}, missing="missing field")


@dataclass(frozen=True)
class MeasuredLevel:
    """One measured level: label, n, l, j (J for Xe) and energy above ground [eV]."""

    label: str
    n: int
    ell: int
    j: float
    energy_eV: float


@dataclass(frozen=True)
class ElementLevels:
    """Measured valence levels of one element (``renp_scan/data/valence_levels.toml``)."""

    symbol: str
    Z: int
    ionization_limit_eV: float
    core_polarizability_bohr3: float | None
    source: str
    levels: tuple[MeasuredLevel, ...]


def _parse_levels(document, path) -> dict[str, ElementLevels]:
    top = Table(document, "", ("format_version", "elements"))
    check_format_version(document, VALENCE_LEVELS_FORMAT_VERSION, path)
    elements = Table(top.get("elements"), "elements", (), skip=lambda key, value: True)
    parsed = {}
    for symbol, table in elements.data.items():
        values = _ELEMENT.read(table, f"elements.{symbol}")
        levels = tuple(MeasuredLevel(lv["label"], lv["n"], lv["l"], lv["j"], lv["energy_eV"])
                       for lv in values.pop("levels"))
        parsed[symbol] = ElementLevels(symbol=symbol, levels=levels, **values)
    return parsed


@functools.lru_cache(maxsize=1)
def load_valence_levels():
    """Measured valence levels of the package data file, keyed by element symbol.

    Returns
    -------
    mapping of str to ElementLevels
    """
    path = resources.files("renp_scan").joinpath("data", "valence_levels.toml")
    return MappingProxyType(_parse_levels(load_toml(path, "valence_levels", "valence-levels file"),
                                          path))


def measured_binding_eV(symbol, n, ell) -> float:
    """Measured binding energy of the valence orbital n, l [eV] (> 0).

    Fine-structure levels are averaged with weights 2j + 1 (the model has no
    spin-orbit term): ionisation limit minus the centroid.

    Raises
    ------
    InputError
        If the element or the orbital is not in the data file.
    """
    elements = load_valence_levels()
    if symbol not in elements:
        raise InputError(
            "symbol", f"no measured levels for {symbol!r}; known: {', '.join(elements)}"
        )
    element = elements[symbol]
    matching = [lv for lv in element.levels if lv.n == n and lv.ell == ell]
    if not matching:
        raise InputError("n", f"no measured level n={n}, ell={ell} for {symbol}")
    weights = np.array([2.0 * lv.j + 1.0 for lv in matching])
    energies = np.array([lv.energy_eV for lv in matching])
    return element.ionization_limit_eV - float(weights @ energies / weights.sum())
