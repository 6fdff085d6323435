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

import hashlib
import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import (
    Field,
    Section,
    Table,
    as_integer,
    as_number,
    parse_toml,
    read_text,
    reject_unknown,
    require,
)
from ..cube.layout import COMPRESSIONS, DEFAULT_LEVELS, DTYPES, LEVEL_RANGES, TargetLayout
from ..errors import InputError
from ..model.channels import CHANNELS, NATURES
from ..model.grids import MERGE_RTOL, linear_grid, log_grid, merge_grids
from ..model.neutrinos import HIERARCHIES, M0_MAX_EV, pair_thresholds_eV
from ..model.oscillations import load_oscillation_data
from ..model.physics import (
    COULOMB_MODELS,
    DEFAULT_COULOMB_MODEL,
    DENSITY_CM3,
    ETA,
    VOLUME_CM3,
    Physics,
)
from ..model.targets import (
    LEVEL_RATIOS,
    Target,
    available_targets,
    check_level_ratio,
    get_target,
    load_targets,
)

__all__ = [
    "SCAN_FILE",
    "SCHEMA_VERSION",
    "MAX_AXIS_POINTS",
    "MAX_ENTRIES",
    "ScanSpec",
    "load_scan",
    "parse_scan",
    "threshold_window_eV",
]

#: The only schema version this parser understands (``scan.schema_version``).
SCHEMA_VERSION = 1
#: ``scan.coulomb_models`` when the key is absent: the paper's Thomas-Fermi integrals.
DEFAULT_COULOMB_MODELS = (DEFAULT_COULOMB_MODEL,)
#: Absolute cap on the total number of cube entries (8 TB at float64). The
#: engine separately checks free disk; this cap catches typos such as an extra
#: zero in a count before anything is allocated.
MAX_ENTRIES = 10**12
#: Cap on the points of one axis (m0 or omega): 10^8 float64 = 800 MB.
MAX_AXIS_POINTS = 10**8

_SPACINGS = ("linear", "log")
_MEV = "values are in eV, not meV"
_PHASE_MAX_RAD = 2.0 * math.pi
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# ------------------------------------------------------------------ the file's tables
# Each table's keys, types, defaults and bounds; the rules that tie keys together
# (ranges, grids, sizes, files) are in the functions below. docs/scan_schema.md
# documents the same keys for people.

_SCAN = Section({
    "name": Field("string", doc="1-64 characters from letters, digits, '_', '.', '-'"),
    "description": Field("string", ""),
    "schema_version": Field("integer", SCHEMA_VERSION),
    "targets": Field("strings", doc="target keys (package targets plus targets_file)"),
    "hierarchies": Field("strings", choices=HIERARCHIES),
    "natures": Field("strings", choices=NATURES),
    "channels": Field("strings", choices=CHANNELS),
    "coulomb_models": Field("strings", DEFAULT_COULOMB_MODELS, choices=COULOMB_MODELS),
    "targets_file": Field("string", None, doc="TOML targets file, relative to the scan file"),
})
_M0 = Section({
    "spacing": Field("string", "linear", choices=_SPACINGS),
    "start_eV": Field("number", None),
    "stop_eV": Field("number", None, maximum=M0_MAX_EV, hint=_MEV),
    "count": Field("integer", None, minimum=1, maximum=MAX_AXIS_POINTS),
    "values_eV": Field("numbers", None, nonnegative=True, maximum=M0_MAX_EV, hint=_MEV,
                       doc="explicit, strictly increasing m0 values [eV]"),
}, doc="smallest neutrino mass grid: values_eV, or start_eV/stop_eV/count/spacing")
_PHASES = Section({
    "unit": Field("string", choices=("rad", "deg")),
    "values": Field("any", doc="array of [alpha21, alpha31] pairs"),
}, doc="Majorana phase rows")
_OMEGA = Section({
    "count": Field("integer", None, minimum=1, maximum=MAX_AXIS_POINTS),
    "spacing": Field("string", None, choices=_SPACINGS, doc="default: linear"),
    "start_eV": Field("number", None),
    "stop_eV": Field("number", None),
    "start_fraction": Field("number", None, doc="omega / (eps_eg/2)"),
    "stop_fraction": Field("number", None, doc="omega / (eps_eg/2)"),
    "threshold_points": Field("integer", None, minimum=0, maximum=MAX_AXIS_POINTS,
                              doc="extra points over the pair thresholds (default 0)"),
})
_OMEGA_RANGE_KEYS = ("start_eV", "stop_eV", "start_fraction", "stop_fraction")
_PHYSICS = Section({
    "density_cm3": Field("number", DENSITY_CM3, positive=True, doc="target density n [cm^-3]"),
    "volume_cm3": Field("number", VOLUME_CM3, positive=True, doc="target volume V [cm^3]"),
    "eta": Field("number", ETA, positive=True, maximum=1.0, doc="extractable fraction"),
    "oscillation_file": Field("string", None, doc="TOML oscillation data, relative to the "
                              "scan file"),
    "level_ratio": Field("string", None, choices=LEVEL_RATIOS),
})
_OUTPUT = Section({
    "dtype": Field("string", "float64", choices=DTYPES),
    "compression": Field("string", "gzip", choices=COMPRESSIONS),
    "compression_level": Field("integer", None, doc="gzip 0-9, zstd 1-22"),
    "shuffle": Field("boolean", True),
})
_ENGINE = Section({
    "block_target_seconds": Field("number", 0.3, minimum=0.01, maximum=60.0),
})
#: The whole scan file, for validation of each table and as a JSON Schema.
SCAN_FILE = Section({
    "scan": Field("table", section=_SCAN),
    "m0": Field("table", section=_M0),
    "phases": Field("table", None, section=_PHASES),
    "omega": Field("table", section=Section(_OMEGA.fields, subtables=_OMEGA,
                                            doc="default omega grid; [omega.<target>] "
                                            "overrides it per target")),
    "physics": Field("table", {}, section=_PHYSICS),
    "output": Field("table", {}, section=_OUTPUT),
    "engine": Field("table", {}, section=_ENGINE),
}, doc="renp_scan scan file (docs/scan_schema.md)")


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
    physics : Physics
        The ``[physics]`` settings shared by every point (n, V, eta, level ratio,
        oscillation data); each block's own (hierarchy, nature, channel, Coulomb model,
        phase row) replaces the axis fields (:func:`renp_scan.sweep.blocks.block_task`).
    atoms : dict of str to Target
        Each target's data, resolved once (package targets, overridden by
        ``targets_file``).
    dtype : str
        ``"float64"`` or ``"float32"``: storage type of the rate.
    compression : str
        ``"gzip"``, ``"lzf"``, ``"none"`` or ``"zstd"``.
    compression_level : int or None
        gzip 0-9, zstd 1-22 (defaults: :data:`renp_scan.cube.layout.DEFAULT_LEVELS`),
        None otherwise.
    shuffle : bool
        HDF5 byte-shuffle filter.
    block_target_seconds : float
        Wall time [s] the engine aims for per block.
    targets_file : str or None
        Absolute path of the user targets file named by ``scan.targets_file``
        (added to, and overriding, the package's targets), or None.
    oscillation_file : str or None
        Absolute path of the user oscillation-data file named by
        ``physics.oscillation_file`` (read once, into ``physics.oscillation_data``), or
        None for the package's NuFIT table.
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
    physics: Physics
    atoms: dict[str, Target]
    dtype: str
    compression: str
    compression_level: int | None
    shuffle: bool
    block_target_seconds: float
    targets_file: str | None = None
    oscillation_file: str | None = None

    def layout(self, target: str, chunk_rows: int | None = None,
               chunk_cols: int | None = None) -> TargetLayout:
        """Return the cube layout of ``target``: this scan's axes, chunked as given.

        The default chunk is one spectrum line (a whole m0 by omega plane per block);
        the same axes are what a resumed partial's are compared with (every dim of
        :data:`~renp_scan.cube.layout.DIMS`, the Coulomb models included).
        """
        self.shape(target)  # InputError for a target not in the scan
        omega = self.omega_eV[target]
        return TargetLayout(
            name=target, hierarchies=self.hierarchies, natures=self.natures,
            channels=self.channels, coulomb_models=self.coulomb_models,
            phases_rad=np.asarray(self.majorana_phases_rad, float),
            m0_eV=np.asarray(self.m0_eV, float), omega_eV=np.asarray(omega, float),
            chunk_rows=len(self.m0_eV) if chunk_rows is None else chunk_rows,
            chunk_cols=len(omega) if chunk_cols is None else chunk_cols)

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
        :func:`renp_scan.model.neutrinos.pair_thresholds_eV`) that lie inside the
        domain omega > 0, over every m0 and hierarchy; None if every
        threshold is <= 0 (the spectrum is closed everywhere).
    """
    omega_ij = pair_thresholds_eV(eps_eg_eV, m0_eV, hierarchies, oscillation_data)
    open_ij = omega_ij[omega_ij > 0.0]
    if not open_ij.size:
        return None
    return float(open_ij.min()), float(open_ij.max())


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


# ------------------------------------------------------------------ tables


def _user_file(where: str, name, base_dir: Path, load):
    """Resolve a file named in the scan (relative to its directory) and load it.

    Returns (absolute path, loaded data), or (None, None) when ``name`` is None.
    """
    if name is None:
        return None, None
    if not name.strip():
        raise InputError(where, "must name a TOML file, got ''")
    path = Path(name)
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        raise InputError(where, f"{name!r} is a directory, not a TOML file (looked at "
                         f"{str(path)!r})")
    if not path.is_file():
        raise InputError(where, f"{name!r}: no such file (looked for {path}; relative paths "
                         "start at the scan file's directory)")
    try:
        data = load(path)
    except InputError as exc:
        raise InputError(where, f"{name}: {exc.field}: {exc.message}") from None
    return str(path.resolve()), data


def _parse_scan_table(data, base_dir: Path) -> dict:
    targets_file, _ = _user_file("scan.targets_file",
                                 _SCAN.table(data, "scan").string("targets_file", None),
                                 base_dir, load_targets)
    known = available_targets(extra_files=(targets_file,) if targets_file else ())
    scan = _SCAN.read(data, "scan", choices={"targets": known})
    if not _NAME_RE.match(scan["name"]):
        raise InputError("scan.name", f"{scan['name']!r} must be 1-64 characters from "
                         "letters, digits, '_', '.', '-', starting with a letter or digit")
    if scan.pop("schema_version") != SCHEMA_VERSION:
        raise InputError("scan.schema_version", f"this renp_scan reads schema version "
                         f"{SCHEMA_VERSION}, the file says {data['schema_version']}")
    scan["targets_file"] = targets_file
    return scan


def _m0_count(data) -> int:
    """Count the m0 points without building any array."""
    table = _M0.table(data, "m0")
    if table.has("values_eV"):
        value = table.data["values_eV"]
        return len(value) if isinstance(value, list) else 0
    return table.integer("count", minimum=1, maximum=MAX_AXIS_POINTS)


def _parse_m0(data) -> np.ndarray:
    m0 = _M0.read(data, "m0")
    if m0["values_eV"] is not None:
        others = [k for k in ("spacing", "start_eV", "stop_eV", "count") if k in data]
        if others:
            raise InputError(f"m0.{others[0]}", "give either values_eV or "
                             "spacing/start_eV/stop_eV/count, not both")
        values = m0["values_eV"]
        for i in range(1, len(values)):
            if values[i] <= values[i - 1]:
                raise InputError(f"m0.values_eV[{i}]", "values must be strictly increasing: "
                                 f"{values[i - 1]!r} then {values[i]!r}")
        return np.array(values, dtype=np.float64)
    require(m0, "m0", "start_eV", "stop_eV", "count")
    start, stop, count, spacing = m0["start_eV"], m0["stop_eV"], m0["count"], m0["spacing"]
    _check_range("m0.start_eV", "m0.stop_eV", start, stop, count, spacing, open_zero=False)
    # m0 = 0 is a valid mass, so the linear m0 grid keeps its zero end.
    grid = log_grid(start, stop, count) if spacing == "log" \
        else np.linspace(start, stop, count, dtype=np.float64)
    if grid.size > 1 and not np.all(np.diff(grid) > 0.0):
        raise InputError("m0.count", f"{count} points do not fit strictly increasing "
                         f"between {start!r} and {stop!r} eV in float64")
    return grid


def _parse_phases(data, natures, channels) -> np.ndarray:
    if data is None:
        return np.zeros((1, 2))
    table = _PHASES.read(data, "phases")
    unit, rows = table["unit"], table["values"]
    if not isinstance(rows, list) or not rows:
        raise InputError("phases.values", "must be a non-empty array of [alpha21, alpha31] "
                         "pairs")
    phases = []
    for i, row in enumerate(rows):
        where = f"phases.values[{i}]"
        if not isinstance(row, list) or len(row) != 2:
            raise InputError(where, f"must be a pair [alpha21, alpha31], got {row!r}")
        pair = [as_number(where, x) for x in row]
        pair_rad = [math.radians(x) for x in pair] if unit == "deg" else pair
        if any(abs(a) > _PHASE_MAX_RAD for a in pair_rad):
            raise InputError(where, f"{pair!r} {unit} is outside [-2 pi, 2 pi] "
                             "(check phases.unit)")
        if pair_rad in phases:
            raise InputError(where, f"duplicate of phases.values[{phases.index(pair_rad)}]")
        phases.append(pair_rad)
    if len(phases) > 1 and not ("core" in channels and "majorana" in natures):
        raise InputError("phases.values", "Majorana phases only change the core channel "
                         "with nature 'majorana'; this scan has no such combination, so "
                         "several phase rows would repeat identical spectra (give one row "
                         "or drop [phases])")
    return np.array(phases, dtype=np.float64).reshape(-1, 2)


def _omega_tables(data, targets) -> dict[str, Table]:
    """Per target: one Table of its omega settings, each key keeping its own field name.

    An ``[omega.<target>]`` key replaces the default's; a range given there
    replaces the default's whole range, so eV and fraction forms never mix.
    """
    default = SCAN_FILE.fields["omega"].section.table(data, "omega")
    overrides = {}
    for key, value in default.data.items():
        if key in _OMEGA.fields:
            continue
        if key not in targets:
            raise InputError(f"omega.{key}", f"override for {key!r}, which is not in "
                             f"scan.targets ({', '.join(targets)})")
        overrides[key] = _OMEGA.table(value, f"omega.{key}")
    tables = {}
    for target in targets:
        override = overrides.get(target)
        own_range = override is not None and any(override.has(k) for k in _OMEGA_RANGE_KEYS)
        values, fields = {}, {}
        for key in _OMEGA.fields:
            if override is not None and override.has(key):
                values[key], fields[key] = override.data[key], override.field(key)
            elif default.has(key) and not (key in _OMEGA_RANGE_KEYS and own_range):
                values[key], fields[key] = default.data[key], default.field(key)
        home = override.prefix if override is not None else "omega"
        tables[target] = Table(values, home, tuple(_OMEGA.fields), fields=fields)
    return tables


def _omega_count_bound(table: Table) -> int:
    """Upper bound on the resolved omega points, without building arrays."""
    return table.integer("count", minimum=1, maximum=MAX_AXIS_POINTS) + table.integer(
        "threshold_points", 0, minimum=0, maximum=MAX_AXIS_POINTS)


def _parse_omega(table: Table, target, eps_eg_eV, m0_eV, hierarchies,
                 oscillation_data=None) -> np.ndarray:
    values = {key: spec.read(table, key) for key, spec in _OMEGA.fields.items()}
    has_eV = values["start_eV"] is not None or values["stop_eV"] is not None
    has_fraction = values["start_fraction"] is not None or values["stop_fraction"] is not None
    if has_eV and has_fraction:
        key = "start_fraction" if table.has("start_fraction") else "stop_fraction"
        raise InputError(table.field(key), "give the omega range either in eV (start_eV, "
                         "stop_eV) or as fractions of eps_eg/2 (start_fraction, "
                         "stop_fraction), not both")
    if not (has_eV or has_fraction):
        raise InputError(table.field("start_eV"), f"no omega range for target {target}: give "
                         "start_eV and stop_eV, or start_fraction and stop_fraction")
    count = table.integer("count", minimum=1, maximum=MAX_AXIS_POINTS)
    spacing = values["spacing"] or "linear"
    threshold_points = values["threshold_points"] or 0
    half = 0.5 * eps_eg_eV
    if has_eV:
        start_key, stop_key, scale, unit = "start_eV", "stop_eV", 1.0, "eV"
    else:
        start_key, stop_key, scale, unit = "start_fraction", "stop_fraction", half, "of eps_eg/2"
    start = table.number(start_key)
    stop = table.number(stop_key)
    _check_range(table.field(start_key), table.field(stop_key), start, stop, count, spacing,
                 open_zero=True)
    if stop * scale >= eps_eg_eV:
        limit = f"{eps_eg_eV!r} eV" if has_eV else "2 (omega = eps_eg)"
        raise InputError(table.field(stop_key), f"{stop!r} {unit} puts omega at "
                         f"{stop * scale!r} eV >= eps_eg = {eps_eg_eV!r} eV of target "
                         f"{target}; must be < {limit}")
    start_eV, stop_eV = start * scale, stop * scale
    grid = log_grid(start_eV, stop_eV, count) if spacing == "log" \
        else linear_grid(start_eV, stop_eV, count)
    grids = [grid]
    if threshold_points:
        window = threshold_window_eV(eps_eg_eV, m0_eV, hierarchies, oscillation_data)
        if window is None:
            raise InputError(table.field("threshold_points"), f"every pair threshold of "
                             f"target {target} is <= 0 over this m0 grid (the spectrum is "
                             "closed); drop threshold_points")
        grids.append(np.linspace(window[0], window[1], threshold_points, dtype=np.float64))
    resolved = merge_grids(grids, atol=MERGE_RTOL * eps_eg_eV)
    if resolved[0] <= 0.0 or resolved[-1] >= eps_eg_eV:
        raise InputError(table.prefix, f"resolved omega grid of {target} leaves "
                         f"(0, {eps_eg_eV!r}) eV")
    if resolved.size < grid.size:
        raise InputError(table.field("count"), f"{count} points do not fit strictly "
                         f"increasing between {start_eV!r} and {stop_eV!r} eV")
    return resolved


def _parse_output(data) -> dict:
    output = _OUTPUT.read(data, "output")
    compression, level = output["compression"], output["compression_level"]
    if compression in DEFAULT_LEVELS:
        level = as_integer("output.compression_level",
                           DEFAULT_LEVELS[compression] if level is None else level,
                           *LEVEL_RANGES[compression])
    elif level is not None:
        raise InputError("output.compression_level", f"compression {compression!r} takes no "
                         "level; remove the key or use gzip (0-9) / zstd (1-22)")
    if compression == "zstd" and importlib.util.find_spec("hdf5plugin") is None:
        raise InputError("output.compression", "zstd needs the hdf5plugin package "
                         "(pip install hdf5plugin)")
    output["compression_level"] = level
    return output


def _check_size(scan, n_phase, n_m0, omega_counts) -> None:
    per_omega = (len(scan["hierarchies"]) * len(scan["natures"]) * len(scan["channels"])
                 * len(scan["coulomb_models"]))
    entries = sum(per_omega * n_phase * n_m0 * n for n in omega_counts.values())
    if entries > MAX_ENTRIES:
        sizes = ", ".join(f"{t}: {n_m0} m0 x {n} omega" for t, n in omega_counts.items())
        raise InputError("scan", f"{entries:.3g} cube entries exceed the cap of "
                         f"{MAX_ENTRIES:.0e} ({per_omega * n_phase} spectra per (m0, omega); "
                         f"{sizes}); check the counts")


# ------------------------------------------------------------------ entry points


#: Strings where a newline is allowed (free text); every other string is one line.
_MULTILINE = ("scan.description",)


def _check_strings(value, field: str) -> None:
    """Refuse control characters in every key and string of the document.

    NUL cannot be stored in HDF5 attributes, and a newline or escape sequence in a
    name or path would reach messages and terminals raw. Tabs are allowed, and
    newlines in ``scan.description``.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{field}.{key}" if field else key
            _check_strings(key, sub)
            _check_strings(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{field}[{i}]")
    elif isinstance(value, str):
        allowed = "\t\n" if field in _MULTILINE else "\t"
        bad = [ch for ch in value if not ch.isprintable() and ch not in allowed and ch != " "
               and ord(ch) < 0xA0]
        if bad:
            raise InputError(field or "toml", f"contains the control character {bad[0]!r}; "
                             "scan-file strings must be printable text")


def parse_scan(text: str, path=None) -> ScanSpec:
    """Parse and validate scan-file text.

    Parameters
    ----------
    text : str
        TOML text of a scan file (schema: ``docs/scan_schema.md``; :data:`SCAN_FILE`).
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
    root = parse_toml(text, "toml", path)
    _check_strings(root, "")
    reject_unknown(root, "", tuple(SCAN_FILE.fields), what="unknown table or key")
    for key in ("scan", "m0", "omega"):
        if key not in root:
            raise InputError(key, f"required table [{key}] is missing")
    base_dir = Path(path).parent if path is not None else Path(".")

    scan = _parse_scan_table(root["scan"], base_dir)
    # Sizes are checked from the counts before any grid array is allocated.
    omega = _omega_tables(root["omega"], scan["targets"])
    phase_rows = root["phases"].get("values") if isinstance(root.get("phases"), dict) else None
    n_phase = len(phase_rows) if isinstance(phase_rows, list) else 1
    _check_size(scan, max(n_phase, 1), _m0_count(root["m0"]),
                {t: _omega_count_bound(table) for t, table in omega.items()})

    m0_eV = _parse_m0(root["m0"])
    phases_rad = _parse_phases(root.get("phases"), scan["natures"], scan["channels"])
    settings = _PHYSICS.read(root.get("physics", {}), "physics")
    oscillation_file, settings["oscillation_data"] = _user_file(
        "physics.oscillation_file", settings.pop("oscillation_file"), base_dir,
        load_oscillation_data)
    physics = Physics.from_table(settings, "physics.")
    extra = (scan["targets_file"],) if scan["targets_file"] else ()
    targets = {t: get_target(t, extra_files=extra) for t in scan["targets"]}
    if physics.level_ratio is not None:
        for target in targets.values():
            check_level_ratio(physics.level_ratio, target, "physics.level_ratio")
    omega_eV = {t: _parse_omega(table, t, float(targets[t].eps_eg_eV), m0_eV,
                                scan["hierarchies"], physics.oscillation_data)
                for t, table in omega.items()}
    output = _parse_output(root.get("output", {}))
    engine = _ENGINE.read(root.get("engine", {}), "engine")

    for array in (m0_eV, phases_rad, *omega_eV.values()):
        array.flags.writeable = False
    return ScanSpec(
        path=None if path is None else str(path),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        m0_eV=m0_eV,
        majorana_phases_rad=phases_rad,
        omega_eV=omega_eV,
        physics=physics,
        atoms=targets,
        oscillation_file=oscillation_file,
        **scan,
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
    return parse_scan(read_text(path, "path", "scan file"), path=str(path))
