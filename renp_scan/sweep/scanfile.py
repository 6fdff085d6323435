"""Scan files: read a TOML scan description, validate it, resolve its grids.

A scan file says which RENP spectra to compute (Yoshimura & Sasao,
arXiv:1310.6472, Eqs. (18)-(23)): targets, neutrino mass hierarchies,
Majorana/Dirac nature, emission channel, model of the Coulomb integrals,
Majorana phases, a grid of the smallest neutrino mass m0 and a grid of photon
energies omega per target.
The schema is documented key by key in ``docs/scan_schema.md``.

:func:`load_scan` / :func:`parse_scan` return a frozen :class:`ScanSpec` whose
grids are fully resolved (plain float64 arrays in eV); every problem in the
file raises one :class:`~renp_scan.errors.InputError` whose ``field`` is the
dotted key (``"m0.count"``, ``"omega.Cs.stop_eV"``, ...).

Target data (epsilon_eg) and the thresholds
omega_ij = epsilon_eg/2 - (m_i + m_j)^2 / (2 epsilon_eg)  (Eq. (18))
come from :mod:`renp_scan.model`; this module adds no physics of its own.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from renp_scan.errors import InputError
from renp_scan.model.spectrum import COULOMB_MODELS  # allowed scan.coulomb_models
from renp_scan.model.targets import LEVEL_RATIOS  # allowed physics.level_ratio

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib; pyproject pulls in tomli there
    import tomli as tomllib

__all__ = [
    "ScanSpec",
    "load_scan",
    "parse_scan",
    "linear_grid",
    "log_grid",
    "merge_grids",
    "threshold_window_eV",
    "SCHEMA_VERSION",
    "HIERARCHIES",
    "NATURES",
    "CHANNELS",
    "COULOMB_MODELS",
    "DTYPES",
    "COMPRESSIONS",
    "MAX_ENTRIES",
    "MAX_AXIS_POINTS",
    "M0_MAX_EV",
]

#: The only schema version this parser understands (``scan.schema_version``).
SCHEMA_VERSION = 1
#: Allowed values of ``scan.hierarchies`` (normal / inverted mass ordering).
HIERARCHIES = ("NH", "IH")
#: Allowed values of ``scan.natures``.
NATURES = ("majorana", "dirac")
#: Allowed values of ``scan.channels``.
CHANNELS = ("nucleus", "core")
#: ``scan.coulomb_models`` when the key is absent: the paper's Thomas-Fermi integrals.
DEFAULT_COULOMB_MODELS = ("thomas-fermi",)
#: Allowed values of ``output.dtype``.
DTYPES = ("float64", "float32")
#: Allowed values of ``output.compression``.
COMPRESSIONS = ("gzip", "lzf", "none", "zstd")
#: Absolute cap on the total number of cube entries (8 TB at float64). The
#: engine separately checks free disk; this cap catches typos such as an extra
#: zero in a count before anything is allocated.
MAX_ENTRIES = 10**12
#: Cap on the points of one axis (m0 or omega): 10^8 float64 = 800 MB.
MAX_AXIS_POINTS = 10**8
#: Largest accepted m0 [eV]. Laboratory and cosmological bounds put m0 below
#: ~1 eV; larger values are almost always meV written as eV.
M0_MAX_EV = 10.0
#: Grid points closer than this fraction of epsilon_eg are merged, so a
#: threshold point landing next to a regular point does not create a
#: near-zero step.
MERGE_RTOL = 1e-12

_GZIP_LEVELS = (0, 9)
_ZSTD_LEVELS = (1, 22)
# gzip level 1: 1.8x faster than level 4 for 1.8 % more bytes on scans/benchmark.toml
# (benchmarks/README.md, "Sweep"); gzip stays the default because every HDF5 reader has it.
_DEFAULT_LEVEL = {"gzip": 1, "zstd": 3}
_BLOCK_SECONDS = (0.01, 60.0)
_PHASE_MAX_RAD = 2.0 * math.pi
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

_TOP_KEYS = ("scan", "m0", "phases", "omega", "physics", "output", "engine")
_SCAN_KEYS = (
    "name",
    "description",
    "schema_version",
    "targets",
    "hierarchies",
    "natures",
    "channels",
    "coulomb_models",
    "targets_file",
)
_M0_KEYS = ("spacing", "start_eV", "stop_eV", "count", "values_eV")
_PHASE_KEYS = ("unit", "values")
_OMEGA_KEYS = (
    "count",
    "spacing",
    "start_eV",
    "stop_eV",
    "start_fraction",
    "stop_fraction",
    "threshold_points",
)
_OMEGA_RANGE_KEYS = ("start_eV", "stop_eV", "start_fraction", "stop_fraction")
_PHYSICS_KEYS = ("density_cm3", "volume_cm3", "eta", "oscillation_file", "level_ratio")
_OUTPUT_KEYS = ("dtype", "compression", "compression_level", "shuffle")
_ENGINE_KEYS = ("block_target_seconds",)
_REQUIRED = object()


@dataclass(frozen=True, eq=False)
class ScanSpec:
    """A validated scan with resolved grids.

    Arrays are read-only. Cube dimension order for each target is
    (hierarchy, nature, channel, coulomb_model, phase, m0, omega)
    (``renp_scan.cube.layout.DIMS``).

    Attributes
    ----------
    path : str or None
        File the scan was read from (None for :func:`parse_scan` without path).
    text : str
        The scan file's exact text.
    sha256 : str
        Hex sha256 digest of ``text`` encoded as UTF-8 (the file's bytes).
    name, description : str
        ``scan.name`` and ``scan.description``.
    targets : tuple of str
        Target keys, e.g. ``("Cs",)``.
    hierarchies : tuple of str
        Subset of ``("NH", "IH")``, in file order.
    natures : tuple of str
        Subset of ``("majorana", "dirac")``, in file order.
    channels : tuple of str
        Subset of ``("nucleus", "core")``, in file order.
    coulomb_models : tuple of str
        Subset of ``("thomas-fermi", "valence")``, in file order; default
        ``("thomas-fermi",)`` (the paper's Thomas-Fermi Coulomb integrals).
    m0_eV : numpy.ndarray
        Smallest neutrino mass grid [eV], 1-D float64, strictly increasing, >= 0.
    majorana_phases_rad : numpy.ndarray
        Shape (P, 2): rows (alpha21, alpha31) [rad]; default ``[[0, 0]]``.
    omega_eV : dict of str to numpy.ndarray
        Photon energy grid [eV] per target, strictly increasing,
        0 < omega < epsilon_eg.
    density_cm3 : float
        Target number density n [cm^-3].
    volume_cm3 : float
        Target volume V [cm^3].
    eta : float
        Extractable fraction eta_omega (dimensionless).
    dtype : str
        ``"float64"`` or ``"float32"``: storage type of the rate.
    compression : str
        ``"gzip"``, ``"lzf"``, ``"none"`` or ``"zstd"``.
    compression_level : int or None
        gzip 0-9 (default 4), zstd 1-22 (default 3), None otherwise.
    shuffle : bool
        HDF5 byte-shuffle filter.
    block_target_seconds : float
        Wall time [s] the engine aims for per block.
    targets_file : str or None
        Absolute path of the user targets file named by ``scan.targets_file``
        (added to, and overriding, the package's targets), or None.
    oscillation_file : str or None
        Absolute path of the user oscillation-data file named by
        ``physics.oscillation_file`` (replacing the package's NuFIT table), or None.
    level_ratio : str or None
        ``physics.level_ratio``: form of the level ratio R of F(omega) for every target
        (``"eq19"`` or ``"eq23-printed"``, see :func:`renp_scan.spectrum`); None uses
        each target's own (``"eq19"`` unless its targets file says otherwise).
    """

    path: str | None
    text: str
    sha256: str
    name: str
    description: str
    targets: tuple[str, ...]
    hierarchies: tuple[str, ...]
    natures: tuple[str, ...]
    channels: tuple[str, ...]
    coulomb_models: tuple[str, ...]
    m0_eV: np.ndarray
    majorana_phases_rad: np.ndarray
    omega_eV: dict[str, np.ndarray]
    density_cm3: float
    volume_cm3: float
    eta: float
    dtype: str
    compression: str
    compression_level: int | None
    shuffle: bool
    block_target_seconds: float
    targets_file: str | None = None
    oscillation_file: str | None = None
    level_ratio: str | None = None

    def oscillation_data(self):
        """Return the oscillation data of this scan (user file or the package's table)."""
        from renp_scan.model.oscillations import load_oscillation_data

        return load_oscillation_data(self.oscillation_file)

    def extra_target_files(self) -> tuple[str, ...]:
        """Return the user targets files to pass as ``extra_files`` to the target lookup."""
        return (self.targets_file,) if self.targets_file else ()

    def shape(self, target: str) -> tuple[int, ...]:
        """Cube shape of one target.

        Parameters
        ----------
        target : str
            One of :attr:`targets`.

        Returns
        -------
        tuple of int
            (n_hierarchy, n_nature, n_channel, n_coulomb_model, n_phase, n_m0,
            n_omega), the order of the cube's dims.
        """
        if target not in self.omega_eV:
            raise InputError("target", f"{target!r} is not in this scan; scan targets: "
                             f"{', '.join(self.targets)}")
        return (
            len(self.hierarchies),
            len(self.natures),
            len(self.channels),
            len(self.coulomb_models),
            int(self.majorana_phases_rad.shape[0]),
            int(self.m0_eV.size),
            int(self.omega_eV[target].size),
        )

    def n_entries(self) -> int:
        """Total number of rate entries over all targets."""
        return sum(math.prod(self.shape(t)) for t in self.targets)

    def n_bytes(self) -> int:
        """Uncompressed size [bytes] of all rate entries at :attr:`dtype`."""
        return self.n_entries() * np.dtype(self.dtype).itemsize


# --------------------------------------------------------------------------
# Grid helpers: pure functions of floats, unit-agnostic.


def linear_grid(start: float, stop: float, count: int) -> np.ndarray:
    """Evenly spaced grid with both ends, except an open end at zero.

    Parameters
    ----------
    start, stop : float
        Range ends, ``0 <= start``; ``stop > start`` unless ``count == 1`` and
        ``start == stop > 0``.
    count : int
        Number of points, >= 1.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 points. If ``start == 0`` the zero end is left out
        (omega = 0 is outside the domain): the points are
        ``stop * k / count`` for ``k = 1 .. count``. Otherwise
        ``numpy.linspace(start, stop, count)``.
    """
    if start == 0.0:
        return stop * np.arange(1, count + 1, dtype=np.float64) / count
    return np.linspace(start, stop, count, dtype=np.float64)


def log_grid(start: float, stop: float, count: int) -> np.ndarray:
    """Logarithmically spaced grid with both ends (``start > 0``).

    Parameters
    ----------
    start, stop : float
        Range ends, ``0 < start <= stop``.
    count : int
        Number of points, >= 1.

    Returns
    -------
    numpy.ndarray
        ``count`` float64 points; the ends are exactly ``start`` and ``stop``.
    """
    grid = np.geomspace(start, stop, count, dtype=np.float64)
    # geomspace goes through exp/log; pin the ends so they are the user's values.
    grid[0] = start
    grid[-1] = stop
    return grid


def merge_grids(grids, atol: float) -> np.ndarray:
    """Sorted union of 1-D grids with points closer than ``atol`` merged.

    Parameters
    ----------
    grids : sequence of numpy.ndarray
        Grids to merge (any order).
    atol : float
        Points within ``atol`` of the previous kept point are dropped (same
        unit as the grids), so the result is strictly increasing with steps
        larger than ``atol``.

    Returns
    -------
    numpy.ndarray
        1-D float64, strictly increasing.
    """
    merged = np.unique(np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grids]))
    if merged.size < 2:
        return merged
    close_pairs = np.flatnonzero(np.diff(merged) <= atol)
    if close_pairs.size == 0:
        return merged
    keep = np.ones(merged.size, dtype=bool)
    # Greedy against the last *kept* point, so a run of close points collapses
    # to one point per atol. Only the right member of a close pair can be
    # dropped, so the Python loop runs over close pairs only (usually few).
    last = merged[0]
    for i in close_pairs:
        if keep[i]:
            last = merged[i]
        if merged[i + 1] - last <= atol:
            keep[i + 1] = False
    return merged[keep]


def threshold_window_eV(eps_eg_eV: float, m0_eV, hierarchies,
                        oscillation_data=None) -> tuple[float, float] | None:
    """Range of the open pair thresholds omega_ij over an m0 grid.

    Parameters
    ----------
    eps_eg_eV : float
        Level spacing epsilon_eg [eV].
    m0_eV : array_like
        Smallest neutrino masses [eV].
    hierarchies : sequence of str
        ``"NH"`` and/or ``"IH"``.
    oscillation_data : OscillationData, optional
        Mass splittings to use (default: the package's table).

    Returns
    -------
    tuple of float or None
        (min, max) [eV] of the thresholds omega_ij (Eq. (18), from
        :func:`renp_scan.model.spectrum.thresholds_eV`) that lie inside the
        domain omega > 0, over every m0 and hierarchy; None if every
        threshold is <= 0 (the spectrum is closed everywhere).
    """
    from renp_scan.model.neutrinos import neutrino_masses
    from renp_scan.model.spectrum import thresholds_eV

    lowest = math.inf
    highest = -math.inf
    for hierarchy in hierarchies:
        for m0 in np.asarray(m0_eV, dtype=np.float64).ravel():
            masses = np.asarray(neutrino_masses(float(m0), hierarchy, oscillation_data),
                                dtype=np.float64)
            omega_ij = np.asarray(thresholds_eV(eps_eg_eV, masses), dtype=np.float64)
            open_ij = omega_ij[omega_ij > 0.0]
            if open_ij.size:
                lowest = min(lowest, float(open_ij.min()))
                highest = max(highest, float(open_ij.max()))
    if highest == -math.inf:
        return None
    return lowest, highest


# --------------------------------------------------------------------------
# Typed access to one TOML table, reporting dotted field names.


def _type_name(value) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string",
             list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


class _Table:
    """One TOML table: rejects unknown keys up front, hands out typed values."""

    def __init__(self, data, prefix: str, allowed, extra_tables: bool = False):
        if not isinstance(data, dict):
            raise InputError(prefix, f"must be a table, got {_type_name(data)}")
        self.data = data
        self.prefix = prefix
        for key, value in data.items():
            if key in allowed:
                continue
            # [omega.<target>] sub-tables are the one place unknown names are allowed.
            if extra_tables and isinstance(value, dict):
                continue
            hint = difflib.get_close_matches(key, allowed, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(self.field(key), f"unknown key{did_you_mean}; allowed keys: "
                             f"{', '.join(allowed)}")

    def field(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key, default):
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise InputError(self.field(key), "required key is missing")
        return default

    def string(self, key, default=_REQUIRED, choices=None):
        value = self._get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(self.field(key), f"must be a string, got {_type_name(value)}")
        if choices is not None and value not in choices:
            raise InputError(self.field(key), f"{value!r} is not allowed; allowed values: "
                             f"{', '.join(choices)}")
        return value

    def boolean(self, key, default=_REQUIRED):
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise InputError(self.field(key), f"must be true or false, got {_type_name(value)}")
        return value

    def integer(self, key, default=_REQUIRED, minimum=None, maximum=None):
        value = self._get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.field(key), f"must be an integer (write 100_000, not 1e5), "
                             f"got {_type_name(value)} {value!r}")
        _check_bounds(self.field(key), value, minimum, maximum)
        return value

    def number(self, key, default=_REQUIRED):
        value = self._get(key, default)
        if value is None:
            return None
        return _as_float(self.field(key), value)

    def string_list(self, key, choices, default=_REQUIRED) -> tuple[str, ...]:
        field = self.field(key)
        value = self._get(key, default)
        if not isinstance(value, list):
            raise InputError(field, f"must be an array of strings, got {_type_name(value)}")
        if not value:
            raise InputError(field, f"must not be empty; allowed values: {', '.join(choices)}")
        seen = []
        for item in value:
            if not isinstance(item, str):
                raise InputError(field, f"must be an array of strings, found {_type_name(item)}"
                                 f" {item!r}")
            if item not in choices:
                raise InputError(field, f"{item!r} is not allowed; allowed values: "
                                 f"{', '.join(choices)}")
            if item in seen:
                raise InputError(field, f"duplicate entry {item!r}")
            seen.append(item)
        return tuple(seen)

    def number_list(self, key) -> list[float]:
        field = self.field(key)
        value = self._get(key, _REQUIRED)
        if not isinstance(value, list):
            raise InputError(field, f"must be an array of numbers, got {_type_name(value)}")
        return [_as_float(f"{field}[{i}]", item) for i, item in enumerate(value)]


def _as_float(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, f"must be a number, got {_type_name(value)} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(field, f"must be finite, got {value!r}")
    return value


def _check_bounds(field, value, minimum, maximum):
    if minimum is not None and value < minimum:
        raise InputError(field, f"must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise InputError(field, f"must be <= {maximum:_}, got {value!r}")


def _check_range(start_field, stop_field, start, stop, count, spacing, open_zero):
    """Shared rules for a (start, stop, count, spacing) range; units as given.

    ``open_zero`` marks a grid whose zero end is left out (omega), so
    ``start == 0`` with ``count == 1`` means the single point ``stop``.
    """
    if start < 0.0:
        raise InputError(start_field, f"must be >= 0, got {start!r}")
    if spacing == "log" and start <= 0.0:
        raise InputError(start_field, f"log spacing needs start > 0, got {start!r}")
    if stop < start:
        raise InputError(stop_field, f"reversed range: stop {stop!r} < start {start!r}")
    if open_zero and start == 0.0:
        if stop == 0.0:
            raise InputError(stop_field, "empty range: start == stop == 0, and omega = 0 is "
                             "outside the domain")
    elif count == 1 and stop != start:
        raise InputError(stop_field, f"count = 1 needs stop == start, got start {start!r} and "
                         f"stop {stop!r}")
    elif count > 1 and stop == start:
        raise InputError(stop_field, f"empty range: stop == start == {start!r} with count "
                         f"{count} > 1 (for one point use count = 1)")


# --------------------------------------------------------------------------
# Sections.


def _oscillation_file(root, base_dir):
    """Resolve and load ``physics.oscillation_file``: (absolute path, data) or (None, None)."""
    physics = root.get("physics", {})
    if not isinstance(physics, dict) or "oscillation_file" not in physics:
        return None, None
    name = physics["oscillation_file"]
    if not isinstance(name, str) or not name.strip():
        raise InputError("physics.oscillation_file", f"must name a TOML oscillation-data file, "
                         f"got {_type_name(name)} {name!r}")
    path = Path(name)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise InputError("physics.oscillation_file", f"{name!r}: no such file (looked for "
                         f"{path}; relative paths start at the scan file's directory)")
    from renp_scan.model.oscillations import load_oscillation_data

    try:
        data = load_oscillation_data(path)
    except InputError as exc:
        raise InputError("physics.oscillation_file",
                         f"{name}: {exc.field}: {exc.message}") from None
    return str(path.resolve()), data


def _targets_file(table, base_dir) -> str | None:
    """Resolve and check ``scan.targets_file`` (relative to the scan file's directory)."""
    name = table.string("targets_file", default=None)
    if name is None:
        return None
    if not name.strip():
        raise InputError("scan.targets_file", "must name a TOML targets file, got ''")
    path = Path(name)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise InputError("scan.targets_file", f"{name!r}: no such file (looked for {path}; "
                         "relative paths start at the scan file's directory)")
    from renp_scan.model.targets import load_targets

    try:
        load_targets(path)
    except InputError as exc:
        raise InputError("scan.targets_file", f"{name}: {exc.field}: {exc.message}") from None
    return str(path.resolve())


def _parse_scan_table(root, base_dir=".") -> dict:
    table = _Table(root["scan"], "scan", _SCAN_KEYS)
    name = table.string("name")
    if not _NAME_RE.match(name):
        raise InputError("scan.name", f"{name!r} must be 1-64 characters from letters, "
                         "digits, '_', '.', '-', starting with a letter or digit")
    version = table.integer("schema_version", default=SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InputError("scan.schema_version", f"this renp_scan reads schema version "
                         f"{SCHEMA_VERSION}, the file says {version}")
    from renp_scan.model.targets import available_targets

    targets_file = _targets_file(table, base_dir)
    known = tuple(available_targets(extra_files=(targets_file,) if targets_file else ()))
    return {
        "name": name,
        "description": table.string("description", default=""),
        "targets_file": targets_file,
        "targets": table.string_list("targets", known),
        "hierarchies": table.string_list("hierarchies", HIERARCHIES),
        "natures": table.string_list("natures", NATURES),
        "channels": table.string_list("channels", CHANNELS),
        "coulomb_models": table.string_list("coulomb_models", COULOMB_MODELS,
                                            default=list(DEFAULT_COULOMB_MODELS)),
    }


def _m0_count(root) -> int:
    """Count the m0 points without building any array."""
    table = _Table(root["m0"], "m0", _M0_KEYS)
    if table.has("values_eV"):
        value = table.data["values_eV"]
        return len(value) if isinstance(value, list) else 0
    return table.integer("count", minimum=1, maximum=MAX_AXIS_POINTS)


def _parse_m0(root) -> np.ndarray:
    table = _Table(root["m0"], "m0", _M0_KEYS)
    if table.has("values_eV"):
        others = [k for k in ("spacing", "start_eV", "stop_eV", "count") if table.has(k)]
        if others:
            raise InputError(table.field(others[0]), "give either values_eV or "
                             "spacing/start_eV/stop_eV/count, not both")
        values = table.number_list("values_eV")
        if not values:
            raise InputError("m0.values_eV", "must not be empty")
        for i, m0 in enumerate(values):
            if m0 < 0.0:
                raise InputError(f"m0.values_eV[{i}]", f"mass must be >= 0 eV, got {m0!r}")
            if m0 > M0_MAX_EV:
                raise InputError(f"m0.values_eV[{i}]", f"{m0!r} eV exceeds {M0_MAX_EV} eV "
                                 "(values are in eV, not meV)")
            if i and m0 == values[i - 1]:
                raise InputError(f"m0.values_eV[{i}]", f"duplicate value {m0!r}")
            if i and m0 < values[i - 1]:
                raise InputError(f"m0.values_eV[{i}]", "values must be strictly increasing: "
                                 f"{values[i - 1]!r} then {m0!r}")
        grid = np.array(values, dtype=np.float64)
    else:
        spacing = table.string("spacing", default="linear", choices=("linear", "log"))
        start = table.number("start_eV")
        stop = table.number("stop_eV")
        count = table.integer("count", minimum=1, maximum=MAX_AXIS_POINTS)
        if stop > M0_MAX_EV:
            raise InputError("m0.stop_eV", f"{stop!r} eV exceeds {M0_MAX_EV} eV (values are "
                             "in eV, not meV)")
        _check_range("m0.start_eV", "m0.stop_eV", start, stop, count, spacing,
                     open_zero=False)
        if spacing == "log":
            grid = log_grid(start, stop, count)
        else:
            # m0 = 0 is a valid mass, so the linear m0 grid keeps its zero end.
            grid = np.linspace(start, stop, count, dtype=np.float64)
        if grid.size > 1 and not np.all(np.diff(grid) > 0.0):
            raise InputError("m0.count", f"{count} points do not fit strictly increasing "
                             f"between {start!r} and {stop!r} eV in float64")
    return grid


def _parse_phases(root, natures, channels) -> np.ndarray:
    if "phases" not in root:
        return np.zeros((1, 2))
    table = _Table(root["phases"], "phases", _PHASE_KEYS)
    unit = table.string("unit", choices=("rad", "deg"))
    rows = table._get("values", _REQUIRED)
    if not isinstance(rows, list) or not rows:
        raise InputError("phases.values", "must be a non-empty array of [alpha21, alpha31] "
                         "pairs")
    phases = []
    for i, row in enumerate(rows):
        field = f"phases.values[{i}]"
        if not isinstance(row, list) or len(row) != 2:
            raise InputError(field, f"must be a pair [alpha21, alpha31], got {row!r}")
        pair = [_as_float(field, x) for x in row]
        pair_rad = [math.radians(x) for x in pair] if unit == "deg" else pair
        if any(abs(a) > _PHASE_MAX_RAD for a in pair_rad):
            raise InputError(field, f"{pair!r} {unit} is outside [-2 pi, 2 pi] "
                             "(check phases.unit)")
        if pair_rad in phases:
            raise InputError(field, f"duplicate of phases.values[{phases.index(pair_rad)}]")
        phases.append(pair_rad)
    if len(phases) > 1 and not ("core" in channels and "majorana" in natures):
        raise InputError("phases.values", "Majorana phases only change the core channel "
                         "with nature 'majorana'; this scan has no such combination, so "
                         "several phase rows would repeat identical spectra (give one row "
                         "or drop [phases])")
    return np.array(phases, dtype=np.float64).reshape(-1, 2)


def _omega_settings(root, targets):
    """Per target: {key: (value, dotted field)} after applying overrides."""
    if "omega" not in root:
        raise InputError("omega", "required table is missing")
    default = _Table(root["omega"], "omega", _OMEGA_KEYS, extra_tables=True)
    overrides = {}
    for key, value in default.data.items():
        if key in _OMEGA_KEYS:
            continue
        if key not in targets:
            raise InputError(f"omega.{key}", f"override for {key!r}, which is not in "
                             f"scan.targets ({', '.join(targets)})")
        overrides[key] = _Table(value, f"omega.{key}", _OMEGA_KEYS)
    settings = {}
    for target in targets:
        override = overrides.get(target)
        override_has_range = override is not None and any(
            override.has(k) for k in _OMEGA_RANGE_KEYS)
        merged = {}
        for key in _OMEGA_KEYS:
            if override is not None and override.has(key):
                merged[key] = (override.data[key], override.field(key))
            elif default.has(key) and not (key in _OMEGA_RANGE_KEYS and override_has_range):
                # A range given in the override replaces the default's whole range,
                # so eV and fraction forms never mix across tables.
                merged[key] = (default.data[key], default.field(key))
        home = override.prefix if override is not None else "omega"
        settings[target] = (merged, home)
    return settings


def _omega_count_bound(merged, home) -> int:
    """Upper bound on the resolved omega points, without building arrays."""
    view = _Merged(merged, home)
    return view.integer("count", minimum=1, maximum=MAX_AXIS_POINTS) + view.integer(
        "threshold_points", default=0, minimum=0, maximum=MAX_AXIS_POINTS)


class _Merged(_Table):
    """Typed access to merged omega settings, each key keeping its own field name."""

    def __init__(self, merged, home):
        self.data = {k: v for k, (v, _) in merged.items()}
        self.fields = {k: f for k, (_, f) in merged.items()}
        self.prefix = home

    def field(self, key):
        return self.fields.get(key, f"{self.prefix}.{key}")


def _parse_omega(merged, home, target, eps_eg_eV, m0_eV, hierarchies,
                 oscillation_data=None) -> np.ndarray:
    view = _Merged(merged, home)
    has_eV = view.has("start_eV") or view.has("stop_eV")
    has_fraction = view.has("start_fraction") or view.has("stop_fraction")
    if has_eV and has_fraction:
        key = "start_fraction" if view.has("start_fraction") else "stop_fraction"
        raise InputError(view.field(key), "give the omega range either in eV (start_eV, "
                         "stop_eV) or as fractions of eps_eg/2 (start_fraction, "
                         "stop_fraction), not both")
    if not (has_eV or has_fraction):
        raise InputError(view.field("start_eV"), f"no omega range for target {target}: give "
                         "start_eV and stop_eV, or start_fraction and stop_fraction")
    count = view.integer("count", minimum=1, maximum=MAX_AXIS_POINTS)
    spacing = view.string("spacing", default="linear", choices=("linear", "log"))
    threshold_points = view.integer("threshold_points", default=0, minimum=0,
                                    maximum=MAX_AXIS_POINTS)
    half = 0.5 * eps_eg_eV
    if has_eV:
        start_key, stop_key, scale, unit = "start_eV", "stop_eV", 1.0, "eV"
    else:
        start_key, stop_key, scale, unit = "start_fraction", "stop_fraction", half, "of eps_eg/2"
    start = view.number(start_key)
    stop = view.number(stop_key)
    _check_range(view.field(start_key), view.field(stop_key), start, stop, count, spacing,
                 open_zero=True)
    if stop * scale >= eps_eg_eV:
        limit = f"{eps_eg_eV!r} eV" if has_eV else "2 (omega = eps_eg)"
        raise InputError(view.field(stop_key), f"{stop!r} {unit} puts omega at "
                         f"{stop * scale!r} eV >= eps_eg = {eps_eg_eV!r} eV of target "
                         f"{target}; must be < {limit}")
    start_eV, stop_eV = start * scale, stop * scale
    if spacing == "log":
        grid = log_grid(start_eV, stop_eV, count)
    else:
        grid = linear_grid(start_eV, stop_eV, count)
    grids = [grid]
    if threshold_points:
        window = threshold_window_eV(eps_eg_eV, m0_eV, hierarchies, oscillation_data)
        if window is None:
            raise InputError(view.field("threshold_points"), f"every pair threshold of "
                             f"target {target} is <= 0 over this m0 grid (the spectrum is "
                             "closed); drop threshold_points")
        grids.append(np.linspace(window[0], window[1], threshold_points, dtype=np.float64))
    resolved = merge_grids(grids, atol=MERGE_RTOL * eps_eg_eV)
    if resolved[0] <= 0.0 or resolved[-1] >= eps_eg_eV:
        raise InputError(home, f"resolved omega grid of {target} leaves (0, {eps_eg_eV!r}) eV")
    if resolved.size < grid.size:
        raise InputError(view.field("count"), f"{count} points do not fit strictly "
                         f"increasing between {start_eV!r} and {stop_eV!r} eV")
    return resolved


def _parse_physics(root) -> dict:
    table = _Table(root.get("physics", {}), "physics", _PHYSICS_KEYS)
    density = table.number("density_cm3", default=1e21)
    volume = table.number("volume_cm3", default=100.0)
    eta = table.number("eta", default=1e-6)
    if density <= 0.0:
        raise InputError("physics.density_cm3", f"must be > 0 cm^-3, got {density!r}")
    if volume <= 0.0:
        raise InputError("physics.volume_cm3", f"must be > 0 cm^3, got {volume!r}")
    if not 0.0 < eta <= 1.0:
        raise InputError("physics.eta", f"must be in (0, 1] (a fraction), got {eta!r}")
    return {"density_cm3": density, "volume_cm3": volume, "eta": eta}


def _level_ratio(root, scan) -> str | None:
    """``physics.level_ratio`` checked against every target of the scan (None if absent)."""
    table = _Table(root.get("physics", {}), "physics", _PHYSICS_KEYS)
    value = table.string("level_ratio", default=None, choices=LEVEL_RATIOS)
    if value is not None:
        from renp_scan.model.targets import check_level_ratio, get_target

        extra = (scan["targets_file"],) if scan["targets_file"] else ()
        for target in scan["targets"]:
            check_level_ratio(value, get_target(target, extra_files=extra), "physics.level_ratio")
    return value


def _parse_output(root) -> dict:
    table = _Table(root.get("output", {}), "output", _OUTPUT_KEYS)
    dtype = table.string("dtype", default="float64", choices=DTYPES)
    compression = table.string("compression", default="gzip", choices=COMPRESSIONS)
    if compression in _DEFAULT_LEVEL:
        lo, hi = _GZIP_LEVELS if compression == "gzip" else _ZSTD_LEVELS
        level = table.integer("compression_level", default=_DEFAULT_LEVEL[compression],
                              minimum=lo, maximum=hi)
    elif table.has("compression_level"):
        raise InputError("output.compression_level", f"compression {compression!r} takes no "
                         "level; remove the key or use gzip (0-9) / zstd (1-22)")
    else:
        level = None
    if compression == "zstd" and importlib.util.find_spec("hdf5plugin") is None:
        raise InputError("output.compression", "zstd needs the hdf5plugin package "
                         "(pip install hdf5plugin)")
    return {"dtype": dtype, "compression": compression, "compression_level": level,
            "shuffle": table.boolean("shuffle", default=True)}


def _parse_engine(root) -> dict:
    table = _Table(root.get("engine", {}), "engine", _ENGINE_KEYS)
    seconds = table.number("block_target_seconds", default=0.3)
    _check_bounds("engine.block_target_seconds", seconds, *_BLOCK_SECONDS)
    return {"block_target_seconds": seconds}


def _check_size(scan, n_phase, n_m0, omega_counts) -> None:
    per_omega = (len(scan["hierarchies"]) * len(scan["natures"]) * len(scan["channels"])
                 * len(scan["coulomb_models"]))
    entries = sum(per_omega * n_phase * n_m0 * n for n in omega_counts.values())
    if entries > MAX_ENTRIES:
        sizes = ", ".join(f"{t}: {n_m0} m0 x {n} omega" for t, n in omega_counts.items())
        raise InputError("scan", f"{entries:.3g} cube entries exceed the cap of "
                         f"{MAX_ENTRIES:.0e} ({per_omega * n_phase} spectra per (m0, omega); "
                         f"{sizes}); check the counts")


# --------------------------------------------------------------------------
# Entry points.


def _decode_toml(text: str, path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"{path}: " if path is not None else ""
        raise InputError("toml", f"{where}malformed TOML: {exc}") from None


def parse_scan(text: str, path=None) -> ScanSpec:
    """Parse and validate scan-file text.

    Parameters
    ----------
    text : str
        TOML text of a scan file (schema: ``docs/scan_schema.md``).
    path : str or os.PathLike, optional
        Where the text came from; only recorded and quoted in messages.

    Returns
    -------
    ScanSpec
        Validated scan with resolved m0 [eV], phase [rad] and omega [eV] grids.

    Raises
    ------
    renp_scan.errors.InputError
        On the first problem found; ``field`` is the dotted key (``"toml"`` for
        a syntax error, whose message gives the line and column; ``"scan"``
        when the total size exceeds :data:`MAX_ENTRIES`).
    """
    if not isinstance(text, str):
        raise InputError("text", f"scan text must be a str, got {type(text).__name__}")
    root = _decode_toml(text, path)
    for key in root:
        if key not in _TOP_KEYS:
            hint = difflib.get_close_matches(key, _TOP_KEYS, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(key, f"unknown table or key{did_you_mean}; allowed: "
                             f"{', '.join(_TOP_KEYS)}")
    for key in ("scan", "m0", "omega"):
        if key not in root:
            raise InputError(key, f"required table [{key}] is missing")

    scan = _parse_scan_table(root, Path(path).parent if path is not None else Path("."))
    # Sizes are checked from the counts before any grid array is allocated.
    n_m0 = _m0_count(root)
    omega = _omega_settings(root, scan["targets"])
    phase_rows = root.get("phases", {}).get("values") if isinstance(root.get("phases"), dict) \
        else None
    n_phase = len(phase_rows) if isinstance(phase_rows, list) else 1
    _check_size(scan, max(n_phase, 1), n_m0,
                {t: _omega_count_bound(m, h) for t, (m, h) in omega.items()})

    m0_eV = _parse_m0(root)
    phases_rad = _parse_phases(root, scan["natures"], scan["channels"])
    oscillation_file, oscillation_data = _oscillation_file(
        root, Path(path).parent if path is not None else Path("."))
    from renp_scan.model.targets import get_target

    omega_eV = {}
    for target, (merged, home) in omega.items():
        extra = (scan["targets_file"],) if scan["targets_file"] else ()
        eps_eg_eV = float(get_target(target, extra_files=extra).eps_eg_eV)
        omega_eV[target] = _parse_omega(merged, home, target, eps_eg_eV, m0_eV,
                                        scan["hierarchies"], oscillation_data)
    physics = _parse_physics(root)
    physics["oscillation_file"] = oscillation_file
    physics["level_ratio"] = _level_ratio(root, scan)
    output = _parse_output(root)
    engine = _parse_engine(root)

    for array in (m0_eV, phases_rad, *omega_eV.values()):
        array.flags.writeable = False
    return ScanSpec(
        path=None if path is None else str(path),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        m0_eV=m0_eV,
        majorana_phases_rad=phases_rad,
        omega_eV=omega_eV,
        **scan,
        **physics,
        **output,
        **engine,
    )


def load_scan(path) -> ScanSpec:
    """Read, parse and validate a scan file.

    Parameters
    ----------
    path : str or os.PathLike
        TOML scan file (UTF-8).

    Returns
    -------
    ScanSpec
        As :func:`parse_scan`; ``sha256`` is the digest of the file's bytes.

    Raises
    ------
    renp_scan.errors.InputError
        ``field="path"`` if the file cannot be read or is not UTF-8, otherwise
        as :func:`parse_scan`.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError("path", f"cannot read scan file {str(path)!r}: {exc.strerror}") \
            from None
    try:
        # Decoding the bytes ourselves (no newline translation) keeps ``text``
        # byte-identical to the file, so sha256(text) is the file's digest.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("path", f"scan file {str(path)!r} is not UTF-8 (byte "
                         f"{exc.start})") from None
    return parse_scan(text, path=str(path))
