"""Read measured counts (CSV or TOML) and match them to a plan's frequencies.

A counts file lists, per laser frequency omega_k [eV], the number of photons
counted, and optionally the time measured t_k [s] (else the plan's). Formats:

* CSV with a header row naming the columns ``omega_eV``, ``counts`` and optionally
  ``time_s``; lines starting with ``#`` are comments;
* TOML with arrays ``omega_eV``, ``counts`` and optionally ``time_s``.

Every omega must match one plan frequency (to :data:`MATCH_TOL_EV`), and every plan
frequency must have counts.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Table, parse_toml, read_text
from ..errors import InputError
from .plan import ResolvedPlan

#: Largest |omega_counts - omega_plan| [eV] that still names the same frequency.
MATCH_TOL_EV = 1e-8
_COLUMNS = ("omega_eV", "counts", "time_s")


@dataclass(frozen=True)
class CountsData:
    """Counts read from a file (file order).

    Attributes
    ----------
    omega_eV : ndarray
        Frequencies [eV].
    counts : ndarray
        Counts (non-negative integers, as floats).
    time_s : ndarray or None
        Times [s] if the file gives them.
    path : str or None
    """

    omega_eV: np.ndarray
    counts: np.ndarray
    time_s: np.ndarray | None
    path: str | None = None


def _column(values, name, integer=False, positive=False):
    out = []
    for i, v in enumerate(values):
        where = f"counts.{name}[{i}]"
        if isinstance(v, bool):
            raise InputError(where, f"must be a number, got {v!r}")
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InputError(where, f"must be a number, got {v!r}") from None
        if not math.isfinite(x) or x < 0 or (positive and x <= 0):
            bound = "> 0" if positive else ">= 0"
            raise InputError(where, f"must be finite and {bound}, got {v!r}")
        if integer and x != round(x):
            raise InputError(where, f"must be a whole number of counts, got {v!r}")
        out.append(x)
    return np.asarray(out, dtype=float)


def parse_counts(text: str, fmt: str = "csv", path=None) -> CountsData:
    """Parse counts text (``fmt`` "csv" or "toml"); see the module doc."""
    if fmt == "toml":
        table = Table(parse_toml(text, "counts", path), "counts", _COLUMNS)
        columns = {k: table.get(k) for k in _COLUMNS if table.has(k)}
        for k, v in columns.items():
            if not isinstance(v, list):
                raise InputError(f"counts.{k}", "must be an array")
    elif fmt == "csv":
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            raise InputError("counts", f"{path or 'counts text'} has no header and no rows")
        reader = csv.reader(io.StringIO("\n".join(lines)))
        header = [h.strip() for h in next(reader)]
        for h in header:
            if h not in _COLUMNS:
                raise InputError(f"counts.{h}", f"unknown column; allowed: {', '.join(_COLUMNS)}")
        if len(set(header)) != len(header):
            raise InputError("counts", "the header repeats a column")
        rows = list(reader)
        for i, row in enumerate(rows):
            if len(row) != len(header):
                raise InputError(f"counts.row[{i}]", f"has {len(row)} fields, header has "
                                 f"{len(header)}")
        columns = {h: [row[j].strip() for row in rows] for j, h in enumerate(header)}
    else:
        raise InputError("counts", f"unknown format {fmt!r}; use a .csv or .toml file")
    for needed in ("omega_eV", "counts"):
        if needed not in columns:
            raise InputError(f"counts.{needed}", "required column is missing")
    n = len(columns["omega_eV"])
    if n == 0:
        raise InputError("counts.omega_eV", "is empty")
    for k, v in columns.items():
        if len(v) != n:
            raise InputError(f"counts.{k}", f"has {len(v)} entries, omega_eV has {n}")
    omega = _column(columns["omega_eV"], "omega_eV", positive=True)
    counts = _column(columns["counts"], "counts", integer=True)
    times = _column(columns["time_s"], "time_s") if "time_s" in columns else None
    return CountsData(omega, counts, times, str(path) if path is not None else None)


def load_counts(path) -> CountsData:
    """Read a counts file; the format follows the suffix (``.toml``, else CSV)."""
    p = Path(path)
    text = read_text(p, "counts", "counts file")
    return parse_counts(text, "toml" if p.suffix.lower() == ".toml" else "csv", p)


def match_counts(plan: ResolvedPlan, data: CountsData) -> tuple[ResolvedPlan, np.ndarray]:
    """Order counts like the plan's frequencies; take the file's times if it has them.

    Returns
    -------
    (ResolvedPlan, ndarray)
        The plan (times possibly replaced) and the counts at ``plan.omega_eV``.
    """
    idx = np.searchsorted(plan.omega_eV, data.omega_eV)
    matched = np.full(plan.omega_eV.size, -1)
    for i, (w, j) in enumerate(zip(data.omega_eV, idx, strict=True)):
        near = [k for k in (j - 1, j) if 0 <= k < plan.omega_eV.size
                and abs(plan.omega_eV[k] - w) <= MATCH_TOL_EV]
        if not near:
            raise InputError(f"counts.omega_eV[{i}]", f"{w:.10g} eV is not a frequency of the "
                             f"plan (to {MATCH_TOL_EV:g} eV)")
        k = min(near, key=lambda k: abs(plan.omega_eV[k] - w))
        if matched[k] >= 0:
            raise InputError(f"counts.omega_eV[{i}]", f"{w:.10g} eV repeats a frequency")
        matched[k] = i
    if np.any(matched < 0):
        missing = plan.omega_eV[matched < 0]
        raise InputError("counts.omega_eV", f"no counts for {missing.size} plan frequencies, "
                         f"e.g. {missing[0]:.10g} eV")
    counts = data.counts[matched]
    if data.time_s is not None:
        plan = plan.with_times(data.time_s[matched])
    return plan, counts
