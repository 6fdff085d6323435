"""Read cubes: :func:`open_cube` (an xarray.Dataset per target) and :func:`describe_cube`.

Any file that is not a finished renp_scan cube of the supported format version
(missing, text, foreign HDF5, wrong version, unfinished partial) raises
:class:`~renp_scan.errors.InputError` naming field ``"cube"``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from .hdf5 import DAMAGE, filter_names, no_lock_support, one_line, open_read_only, stored_crcs
from .layout import (
    CRC,
    DONE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PROGRESS_GROUP,
    RATE,
    READABLE_VERSIONS,
    register_filter_plugins,
)
from .schema import read_layout


def _open_h5(path: Path, field: str) -> h5py.File:
    if not path.exists():
        raise InputError(field, f"{path}: no such file")
    if path.is_dir():
        raise InputError(field, f"{path} is a directory, not a cube file")
    if not h5py.is_hdf5(path):
        raise InputError(field, f"{path} is not an HDF5 file (not a renp_scan cube)")
    register_filter_plugins()
    try:
        # Unlocked first: `info` may look at a partial another process is writing, and a
        # reader that takes no lock never makes a starting run fail on a held lock.
        return open_read_only(lambda locking: h5py.File(path, "r", locking=locking),
                              order=(False, None, True))
    except OSError as exc:
        raise InputError(field, f"cannot open {path}: {exc}") from None


def _damaged(field: str, path: Path, exc: BaseException) -> InputError:
    return InputError(field, f"{path} is a damaged renp_scan cube ({one_line(exc)}); if it is a "
                      "partial, rerun with --overwrite to start again, else recompute or "
                      "copy it again")


def _check_format(f, path: Path, field: str) -> None:
    fmt = f.attrs.get("format")
    if fmt != FORMAT_NAME:
        raise InputError(field, f"{path} is an HDF5 file but not a renp_scan cube "
                         f"(root attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r})")
    version = _plain(f.attrs.get("format_version"))
    if version not in READABLE_VERSIONS:
        if isinstance(version, int) and version > FORMAT_VERSION:
            fix = "it was written by a newer renp_scan; upgrade renp_scan to read it"
        else:
            # Version 1 had no coulomb_model dimension: its rate has one dim fewer.
            fix = "re-run the scan (renp-scan run SPEC -o OUT --overwrite) to rewrite it"
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise InputError(field, f"{path} is a cube of format version {version}; this "
                         f"renp_scan reads versions {readable}; {fix}")


def _done_counts(f, targets) -> tuple[int, int]:
    done = total = 0
    for name in targets:
        mask = f[PROGRESS_GROUP][name][DONE][...]
        done += int(np.count_nonzero(mask))
        total += mask.size
    return done, total


def check_cube(path, field: str = "cube") -> list[str]:
    """Validate that ``path`` is a finished cube; return its target names.

    Raises
    ------
    InputError
        Missing, not HDF5, foreign HDF5, wrong format version, or unfinished partial.
    """
    path = Path(path)
    with _open_h5(path, field) as f:
        _check_format(f, path, field)
        try:
            targets = [str(t) for t in f.attrs["targets"]]
            for name in targets:
                link = f[name].get(RATE, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    # An external or soft link would read data from elsewhere, unchecked.
                    raise InputError(field, f"{path}: {name}/{RATE} is a "
                                     f"{type(link).__name__}, not data stored in the cube; "
                                     "renp_scan reads only self-contained cubes")
                f[name][RATE]  # noqa: B018  (an access check: raises if the group is gone)
            complete = int(f.attrs.get("complete", 0)) == 1
            if not complete:
                done, total = _done_counts(f, targets)
        except DAMAGE as exc:
            raise _damaged(field, path, exc) from None
        if not complete:
            raise InputError(field, f"{path} is an unfinished partial cube ({done} of {total} "
                             "blocks done); rerun the same `renp-scan run` command to complete it")
    return targets


def _held_open(path: Path, exc: BaseException) -> InputError | None:
    """Return an InputError saying ``path`` is held open elsewhere, if ``exc`` is that."""
    text = str(exc)
    if "unable to lock file" not in text or no_lock_support(exc):
        return None
    return InputError("cube", f"{path} is open for writing in another process (its HDF5 file "
                      "lock is held); the file is not damaged: close that program or wait "
                      "for it, then retry")


def verify_cube(path, field: str = "cube") -> dict:
    """Check every stored chunk of a finished cube against the CRC-32 written with it.

    Each block's chunk is read raw (``read_direct_chunk``: the stored, filtered bytes,
    no decompression) and its CRC-32 (of the filter mask, 4 bytes little-endian, then
    the bytes, as the writer computed it) compared with ``/_progress/<target>/crc32``.
    It also checks that every block is flagged done and stored, and no chunk lies
    outside the block grid.

    Returns
    -------
    dict
        ``blocks`` (checked), ``bytes`` (stored bytes read), ``seconds`` and ``bad``:
        a list of ``(target, block index, what)`` for every mismatch (empty when intact).

    Raises
    ------
    InputError
        Not a finished cube (as :func:`check_cube`), or its structure is unreadable.
    """
    path = Path(path)
    targets = check_cube(path, field)
    start = time.perf_counter()
    counts = {"blocks": 0, "bytes": 0}
    bad = []
    with _open_h5(path, field) as f:
        try:
            chunks = _stored_chunks(f, targets, counts, bad)
            for (name, index, expected), crc in stored_crcs(chunks, VERIFY_THREADS):
                if crc != expected:
                    bad.append((name, index, f"CRC-32 {crc:08x} of its stored bytes, "
                                f"{expected:08x} recorded"))
        except DAMAGE as exc:
            raise _damaged(field, path, exc) from None
    bad.sort(key=lambda item: (targets.index(item[0]), item[1]))
    return {**counts, "seconds": time.perf_counter() - start, "bad": bad}


#: Threads computing the CRC-32s in :func:`verify_cube`.
VERIFY_THREADS = max(1, min(8, os.cpu_count() or 1))


def _stored_chunks(f, targets, counts: dict, bad: list):
    """Yield ((target, block, recorded CRC), mask, stored bytes) of every block of a cube.

    Blocks not flagged done or unreadable, and targets whose bookkeeping does not
    match their block grid, go to ``bad``; ``counts`` adds up blocks and bytes.
    """
    for name in targets:
        layout = read_layout(f[name])
        rate = f[name][RATE]
        crcs = f[PROGRESS_GROUP][name][CRC][...]
        done = f[PROGRESS_GROUP][name][DONE][...]
        if crcs.size != layout.n_blocks or done.size != layout.n_blocks:
            bad.append((name, -1, f"{crcs.size} CRCs for {layout.n_blocks} blocks"))
            continue
        if rate.id.get_num_chunks() != layout.n_blocks:
            bad.append((name, -1, f"{rate.id.get_num_chunks()} chunks stored for "
                        f"{layout.n_blocks} blocks"))
        for index in range(layout.n_blocks):
            counts["blocks"] += 1
            if not done[index]:
                bad.append((name, index, "not flagged done"))
                continue
            try:
                mask, stored = rate.id.read_direct_chunk(layout.block_offset(index))
            except (KeyError, OSError, RuntimeError, ValueError) as exc:
                bad.append((name, index, f"chunk unreadable ({exc})"))
                continue
            counts["bytes"] += len(stored)
            yield (name, index, int(crcs[index])), mask, stored


def describe_block(path, target: str, index: int) -> str:
    """Human description of block ``index`` of ``target``: its labels and m0 range [eV]."""
    with _open_h5(Path(path), "cube") as f:
        labels = read_layout(f[target]).block_labels(index)
    m0 = labels["m0_eV"]
    return (f"{labels['hierarchy']}, {labels['nature']}, {labels['channel']}, phase row "
            f"{labels['phase']}, "
            f"{labels['coulomb_model']}, m0 {m0[0]:.6g}..{m0[-1]:.6g} eV")


def damage_message(path, report: dict) -> str:
    """One line naming the first damaged block of a :func:`verify_cube` report."""
    target, index, what = report["bad"][0]
    where = f"block {index} of {target} ({describe_block(path, target, index)})" \
        if index >= 0 else f"target {target}"
    more = f" (and {len(report['bad']) - 1} more)" if len(report["bad"]) > 1 else ""
    return (f"{path} is damaged: {where}: {what}{more}; recompute it or copy it again "
            "from an intact source")


def open_cube(path, atom: str | None = None, verify: bool = False):
    """Open one target of a finished cube as an :class:`xarray.Dataset` (lazy).

    Parameters
    ----------
    path : str or Path
        Cube file written by ``renp-scan run``.
    atom : str, optional
        Target group (e.g. ``"Cs"``); may be omitted when the cube has one target.
    verify : bool
        First check every stored chunk of the cube against its CRC-32
        (:func:`verify_cube`); a mismatch raises InputError naming the block. Off by
        default: reading trusts HDF5 (``docs/reliability.md`` says what that checks).

    Returns
    -------
    xarray.Dataset
        Variable ``rate`` [Hz] on dims (hierarchy, nature, channel, coulomb_model,
        phase, m0 [eV], omega [eV]) (:data:`~renp_scan.cube.layout.DIMS`), a coordinate
        per dim (strings for hierarchy, nature, channel and coulomb_model, so
        ``ds.rate.sel(coulomb_model="valence")`` works), alpha21_rad/alpha31_rad [rad] on
        phase, the target's attributes (Z, N, isotope, eps_eg_eV, ...). Close it (or use
        ``with``) when done.
    """
    # xarray costs about a second of import; `renp-scan run` imports this module
    # (for its checks) but never opens a Dataset, so it pays that only here.
    import xarray as xr  # noqa: PLC0415

    targets = check_cube(path)
    if verify:
        report = verify_cube(path)
        if report["bad"]:
            raise InputError("cube", damage_message(path, report))
    if atom is None:
        if len(targets) != 1:
            raise InputError("atom", f"the cube holds several targets {targets}; name one")
        atom = targets[0]
    if atom not in targets:
        raise InputError("atom", f"target {atom!r} is not in the cube; it holds {targets}")
    try:
        # A finished cube is never written again, so where the file system has no locks
        # reading it unlocked is safe; a lock held by another process is respected.
        try:
            return open_read_only(lambda locking: xr.open_dataset(
                path, engine="h5netcdf", group=atom, driver_kwds={"locking": locking}))
        except OSError as exc:
            held = _held_open(Path(path), exc)
            if held is not None:
                raise held from None
            raise
    except InputError:
        raise
    except DAMAGE as exc:
        raise _damaged("cube", Path(path), exc) from None


def describe_cube(path) -> dict:
    """Summary of a cube or partial for ``renp-scan info`` (no data values are read).

    Returns
    -------
    dict
        ``path``, ``file_bytes``, ``complete`` (bool), ``blocks_done``, ``blocks_total``,
        ``attrs`` (file provenance) and ``targets``: a list of dicts with ``name``,
        ``shape``, ``chunks``, ``dtype``, ``stored_bytes`` (of ``rate``'s chunks in the
        file), ``compression``, ``axes`` (name -> values) and
        ``attrs`` (target attributes).
    """
    path = Path(path)
    with _open_h5(path, "cube") as f:
        _check_format(f, path, "cube")
        try:
            return _describe(f, path)
        except DAMAGE as exc:
            raise _damaged("cube", path, exc) from None


def _describe(f, path: Path) -> dict:
    """Describe an open, format-checked file (the body of :func:`describe_cube`)."""
    targets = [str(t) for t in f.attrs["targets"]]
    done, total = _done_counts(f, targets)
    info = {
        "path": str(path),
        "file_bytes": os.path.getsize(path),
        "complete": int(f.attrs.get("complete", 0)) == 1,
        "blocks_done": done,
        "blocks_total": total,
        "attrs": {k: _plain(v) for k, v in f.attrs.items()},
        "targets": [],
    }
    for name in targets:
        g = f[name]
        layout = read_layout(g)
        rate = g[RATE]
        info["targets"].append({
            "name": name,
            "shape": tuple(rate.shape),
            "chunks": tuple(rate.chunks),
            "dtype": str(rate.dtype),
            "stored_bytes": int(rate.id.get_storage_size()),
            "compression": filter_names(rate),
            "axes": {
                "hierarchy": list(layout.hierarchies),
                "nature": list(layout.natures),
                "channel": list(layout.channels),
                "coulomb_model": list(layout.coulomb_models),
                "phase": layout.phases_rad.tolist(),
                "m0": layout.m0_eV,
                "omega": layout.omega_eV,
            },
            "attrs": {k: _plain(v) for k, v in g.attrs.items()},
        })
    return info


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
