"""Check an existing partial or finished cube against the scan before using it.

:func:`open_partial` reopens ``OUT.partial`` to resume it, :func:`check_finished`
checks that a finished cube was computed from the same inputs. Both refuse, with an
:class:`~renp_scan.errors.InputError` naming field ``"output"``, a file from another
scan, with other axes, physics data, storage type or filters, or a damaged one.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from .hdf5 import DAMAGE, filter_pipeline, memory_file, one_line, open_locked, open_read_only
from .layout import FORMAT_NAME, FORMAT_VERSION, RATE, TargetLayout, register_filter_plugins
from .probe import probe
from .schema import read_layout, utc_now
from .writer import CubeWriter

_HINT = "pass --overwrite to start again"


def _same_value(stored, expected) -> bool:
    if isinstance(expected, str) or isinstance(stored, (str, bytes)):
        stored = stored.decode("utf-8") if isinstance(stored, bytes) else stored
        return isinstance(stored, str) and stored == expected
    stored, expected = np.asarray(stored), np.asarray(expected)
    return (stored.shape == expected.shape and stored.dtype.kind in "biuf"
            and bool(np.array_equal(stored, expected)))


def _check_attrs(where: str, attrs, expected: dict, path: Path, hint: str) -> None:
    for key, value in expected.items():
        if key not in attrs or not _same_value(attrs[key], value):
            stored = attrs.get(key, "(missing)")
            raise InputError("output", f"the partial cube {path} was started with other data: "
                             f"{where} attribute {key!r} is {_short(stored)} in the file but "
                             f"{_short(value)} now (damaged, or renp_scan or its data files "
                             f"changed since); {hint}")


def _short(value) -> str:
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _check_layout(stored: TargetLayout, expected: TargetLayout, path: Path, hint: str) -> None:
    for axis in ("hierarchies", "natures", "channels", "coulomb_models"):
        if tuple(getattr(stored, axis)) != tuple(getattr(expected, axis)):
            raise InputError("output", f"the partial cube {path} is damaged: its {axis} of "
                             f"target {stored.name} differ from the scan's; {hint}")
    for axis in ("phases_rad", "m0_eV", "omega_eV"):
        a, b = np.asarray(getattr(stored, axis)), np.asarray(getattr(expected, axis))
        if a.shape != b.shape or not np.array_equal(a, b):
            raise InputError("output", f"the partial cube {path} is damaged: its {axis} axis "
                             f"of target {stored.name} differs from the scan's; {hint}")


def _pipeline(dset) -> tuple:
    """Return the filter pipeline of ``dset``: (filter id, flags, client values) per filter."""
    return tuple(flt[:3] for flt in filter_pipeline(dset))


def _expected_pipeline(dset, filters: dict) -> tuple:
    """Return the pipeline HDF5 sets up for ``filters`` on ``dset``'s type and chunks."""
    with memory_file("filters", dset) as f:
        return _pipeline(f.create_dataset("probe", shape=dset.shape, dtype=dset.dtype,
                                          chunks=dset.chunks, **filters))


def _check_format(attrs, path: Path, scan_sha256: str, hint: str) -> None:
    if attrs.get("format") != FORMAT_NAME:
        raise InputError("output", f"{path} is not a renp_scan cube of format version "
                         f"{FORMAT_VERSION}; {hint}")
    if attrs.get("format_version") != FORMAT_VERSION:
        raise InputError("output", f"{path} is a partial cube of format version "
                         f"{_short(attrs.get('format_version'))}; this renp_scan writes version "
                         f"{FORMAT_VERSION} and cannot resume it; {hint}")
    if attrs.get("scan_sha256") != scan_sha256:
        raise InputError(
            "output",
            f"{path} is the partial of a different scan (sha256 "
            f"{attrs.get('scan_sha256')!s:.12}... vs {scan_sha256:.12}...); {hint}")


def _check_rate(rate, name: str, lay: TargetLayout, path: Path, dtype, filters,
                hint: str) -> None:
    if dtype is not None and rate.dtype != np.dtype(dtype):
        raise InputError("output", f"the partial cube {path} is damaged: rate of "
                         f"{name} is {rate.dtype}, the scan says {dtype}; {hint}")
    if rate.shape != lay.shape or rate.chunks != lay.chunks:
        raise InputError("output", f"the partial cube {path} is damaged: rate of {name} "
                         f"has shape {rate.shape} and chunks {rate.chunks}, its axes say "
                         f"{lay.shape} and {lay.chunks}; {hint}")
    if filters is not None and _pipeline(rate) != _expected_pipeline(rate, filters):
        raise InputError("output", f"the partial cube {path} is damaged: the filters of "
                         f"rate of {name} differ from the scan's [output] settings; {hint}")


def _check_partial(f, path: Path, scan_sha256: str, layouts, root_attrs, target_attrs, dtype,
                   filters, hint: str) -> dict:
    """Read-only checks of an open partial; return its layouts by target."""
    _check_format(f.attrs, path, scan_sha256, hint)
    names = [str(t) for t in f.attrs["targets"]]
    stored = {name: read_layout(f[name]) for name in names}
    if layouts is not None:
        expected = {lay.name: lay for lay in layouts}
        if names != list(expected):
            raise InputError("output", f"the partial cube {path} is damaged: it holds targets "
                             f"{names}, the scan {list(expected)}; {hint}")
        for name in names:
            _check_layout(stored[name], expected[name], path, hint)
    for name in names:
        _check_rate(f[name][RATE], name, stored[name], path, dtype, filters, hint)
    _check_attrs("file", f.attrs, root_attrs or {}, path, hint)
    for name, expected_attrs in (target_attrs or {}).items():
        _check_attrs(f"target {name}", f[name].attrs, expected_attrs, path, hint)
    return stored


def _reopen(path: Path, mode: str, why: str):
    """Open the partial with its HDF5 lock, or raise the one line saying it cannot be (``why``)."""
    try:
        return open_locked(path, mode)
    except OSError as exc:
        raise InputError("output", f"cannot reopen the partial cube {path}{why} "
                         f"({one_line(exc)}); {_HINT}") from None


def _checked_read_only(path: Path, checks: dict) -> tuple[dict, list]:
    """Probe and check the partial read-only; return its layouts and flagged unstored blocks."""
    if h5py.is_hdf5(path):
        problem = probe(path)
        if problem is not None:
            raise InputError("output", f"the partial cube {path} is damaged ({problem}); {_HINT}")
    f = _reopen(path, "r", ": damaged or not HDF5")
    try:
        with f:
            stored = _check_partial(f, path, hint=_HINT, **checks)
            return stored, CubeWriter(f, path, stored).audit()
    except InputError:
        raise
    except DAMAGE as exc:
        raise InputError("output", f"the partial cube {path} is damaged ({one_line(exc)}); "
                         f"{_HINT}") from None


def _start_session(f) -> None:
    """Mark an open partial as being resumed: not complete, one more session, history line."""
    # complete = 1 in a partial: a run died between marking it complete and the rename.
    # It is resumed like any partial (every block verified, then finished again), so
    # the finished work is not lost.
    f.attrs["complete"] = np.int8(0)
    f.attrs["run_sessions"] = np.int64(int(f.attrs.get("run_sessions", 1)) + 1)
    history = [_plain_text(f.attrs.get("history", "")), f"{utc_now()} resumed by renp_scan"]
    f.attrs["history"] = "\n".join(line for line in history if line)
    f.flush()


def open_partial(path, *, scan_sha256: str, layouts=None, root_attrs: dict | None = None,
                 target_attrs: dict | None = None, dtype=None,
                 filters: dict | None = None) -> CubeWriter:
    """Reopen ``OUT.partial`` to resume it; InputError if it belongs elsewhere or is damaged.

    A child process first reads the whole file structure (:func:`~renp_scan.cube.probe.probe`:
    damage that crashes HDF5 then becomes this error, not a crash). Every check runs on a
    read-only handle first, so a refused partial is left exactly as it was; the blocks
    flagged done are verified there too (stored chunk, CRC-32; see
    :meth:`~renp_scan.cube.writer.CubeWriter.audit`). Flags of blocks never stored are
    cleared, so those blocks are computed again.

    Parameters
    ----------
    path : str or Path
        The partial file.
    scan_sha256 : str
        sha256 of the scan file of this run; a partial from another scan is refused.
    layouts : sequence of TargetLayout, optional
        The scan's targets and axes (chunk sizes are not compared: a partial keeps
        its own). Any difference in target order, labels or grid values is damage.
    root_attrs, target_attrs : dict, optional
        Provenance the partial must hold unchanged (file attributes; per-target
        attributes), e.g. the physics constants and oscillation data: a resume must
        never mix blocks computed from different data.
    dtype : str, optional
        Storage type ``rate`` must have.
    filters : dict, optional
        The scan's :func:`~renp_scan.cube.layout.compression_options`: ``rate`` must
        have exactly that filter pipeline.
    """
    path = Path(path)
    register_filter_plugins()
    stored, unstored = _checked_read_only(path, dict(
        scan_sha256=scan_sha256, layouts=layouts, root_attrs=root_attrs,
        target_attrs=target_attrs, dtype=dtype, filters=filters))
    f = _reopen(path, "r+", " for writing")
    try:
        writer = CubeWriter(f, path, stored)
        writer.clear_done(unstored)
        writer.repaired = len(unstored)
        _start_session(f)
    except DAMAGE as exc:
        # Damaged metadata the read-only checks did not touch (found when writing).
        error = CubeWriter(f, path, {}).abandon(exc, "reopening")
        raise InputError("output", f"the partial cube {path} is damaged ({error.strerror}); "
                         f"{_HINT}") from None
    except BaseException:
        f.close()
        raise
    return writer


def check_finished(path, *, scan_sha256: str, layouts=None, root_attrs: dict | None = None,
                   target_attrs: dict | None = None, dtype=None,
                   filters: dict | None = None) -> None:
    """Check that the finished cube ``path`` was computed from these inputs; InputError if not.

    The same checks as :func:`open_partial` makes before a resume (scan sha256, axes,
    physics data, storage type and filters; the arguments mean the same), on a
    read-only handle; the blocks are not read.
    """
    path = Path(path)
    register_filter_plugins()
    try:
        f = open_read_only(lambda locking: h5py.File(path, "r", locking=locking),
                           order=(False, None, True))
    except OSError as exc:
        raise InputError("output", f"cannot open {path} ({one_line(exc)})") from None
    with f:
        try:
            _check_partial(f, path, scan_sha256, layouts, root_attrs, target_attrs, dtype,
                           filters, "")
        except DAMAGE as exc:
            raise InputError("output", f"{path} is damaged ({one_line(exc)})") from None
