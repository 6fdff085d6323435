"""Assemble a cube from pieces: the shard files of a job array, or workers' piece files.

A *shard* ``CUBE.shard-I-of-N.h5`` is a partial cube (same format, groups, axes,
chunk layout and provenance as the cube) in which exactly the blocks of share
``I`` are done: block ``g`` (numbered over the targets in file order, then C order
within a target) belongs to share ``g mod N + 1``. A finished shard carries the root
attribute ``shard = "I/N"``.

:func:`merge_shards` checks every shard of a count ``N`` (present, finished, same
scan, same physics data, axes, chunks, dtype and filters, its share done) before
writing anything, then copies the stored chunk bytes (no decompression) into
``CUBE.partial`` with the usual writer (CRC-32 and done flag per block, so a killed
or refused merge resumes), verifying each chunk's CRC-32 as it is read (a damaged
chunk stops the merge there, naming the shard), and finishes the cube like a run
does. The rate data and every non-provenance attribute are then those
of a single run of the scan, bit for bit (the chunk layout follows from the scan
alone). The shard files are removed once the cube is in place.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from .hdf5 import open_locked
from .layout import (
    CRC,
    DONE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PROGRESS_GROUP,
    RATE,
    chunk_crc,
    compression_options,
)
from .lock import LockFile
from .probe import probe
from .reader import check_cube
from .resume import open_partial
from .schema import environment_provenance, read_layout
from .writer import create_partial

#: Root attribute of a finished shard: ``"I/N"``.
SHARD_ATTR = "shard"
#: Root attributes a piece or cube gets from its own run, not from the scan.
RUN_ATTRS = ("format", "format_version", "complete", "targets", "run_sessions", "finished_utc",
             "history", SHARD_ATTR, "shard_finished_utc")
_SHARD_NAME = re.compile(r"\.shard-(\d+)-of-(\d+)\.h5$")


def shard_path(cube, index: int, count: int) -> Path:
    """``CUBE.shard-I-of-N.h5`` beside ``cube`` (the finished shard I of N)."""
    cube = Path(cube)
    return cube.with_name(f"{cube.name}.shard-{index}-of-{count}.h5")


def block_owner(layouts, count: int) -> dict[str, np.ndarray]:
    """Share (1..count) of every block, per target: block ``g`` goes to ``g mod count + 1``.

    ``g`` numbers the blocks over the targets in file order, then in C order
    within a target, so neighbouring blocks (alike in cost) go to different shares.
    """
    owner, start = {}, 0
    for lay in layouts:
        owner[lay.name] = (np.arange(start, start + lay.n_blocks) % count) + 1
        start += lay.n_blocks
    return owner


def finished_shards(cube) -> dict[int, list[int]]:
    """Finished shard files beside ``cube``: {N: sorted shard numbers I}."""
    cube = Path(cube)
    found: dict[int, list[int]] = {}
    parent = cube.parent if str(cube.parent) else Path(".")
    for path in parent.glob(f"{glob_escape(cube.name)}.shard-*-of-*.h5"):
        m = _SHARD_NAME.search(path.name[len(cube.name):])
        if m and path.name == shard_path(cube, int(m[1]), int(m[2])).name:
            found.setdefault(int(m[2]), []).append(int(m[1]))
    return {n: sorted(v) for n, v in found.items()}


def shard_identity(path) -> tuple:
    """(scan_sha256, shard attribute) of a shard file, read without HDF5's lock.

    Raises OSError when ``path`` is not a readable HDF5 file.
    """
    with h5py.File(path, "r", locking=False) as f:
        return f.attrs.get("scan_sha256"), f.attrs.get(SHARD_ATTR)


def glob_escape(name: str) -> str:
    """Escape glob metacharacters of a file name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def scan_attrs(attrs) -> dict:
    """Root attributes that come from the scan and physics data (not from the run)."""
    skip = set(RUN_ATTRS) | set(environment_provenance())
    return {k: attrs[k] for k in attrs if k not in skip}


def _same(a, b) -> bool:
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b))


def _same_attrs(a: dict, b: dict) -> str | None:
    """Name of the first attribute that differs between ``a`` and ``b`` (None if none)."""
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b or not _same(a[key], b[key]):
            return key
    return None


def _pipeline(dset) -> tuple:
    plist = dset.id.get_create_plist()
    return tuple(plist.get_filter(i)[:3] for i in range(plist.get_nfilters()))


def output_settings(rate) -> tuple[str, int | None, bool]:
    """(compression, level, shuffle) of a ``rate`` dataset, as a scan's [output] says them."""
    ids = [f[0] for f in _pipeline(rate)]
    shuffle = h5py.h5z.FILTER_SHUFFLE in ids
    if h5py.h5z.FILTER_DEFLATE in ids:
        return "gzip", int(rate.compression_opts), shuffle
    if 32000 in ids:  # lzf
        return "lzf", None, shuffle
    if 32015 in ids:  # zstd (hdf5plugin)
        return "zstd", int(_pipeline(rate)[ids.index(32015)][2][0]), shuffle
    return "none", None, False


@dataclass(frozen=True)
class ShardInfo:
    """What a checked shard holds (read from its file)."""

    path: Path
    scan_attrs: dict
    target_attrs: dict
    layouts: list
    dtype: np.dtype
    pipelines: dict
    settings: tuple


@dataclass(frozen=True)
class MergeReport:
    """What :func:`merge_shards` did.

    Attributes
    ----------
    output : Path
        The finished cube.
    shards : int
        Shards merged (N).
    blocks_copied : int
        Blocks copied by this merge (the rest came from a resumed ``CUBE.partial``).
    bytes_copied : int
        Stored chunk bytes copied [bytes].
    seconds : float
        Wall time [s].
    """

    output: Path
    shards: int
    blocks_copied: int
    bytes_copied: int
    seconds: float


def _refuse(path: Path, what: str, index: int, count: int) -> InputError:
    return InputError("shard", f"{path} {what}; delete it and rerun `renp-scan run SCAN -o "
                      f"CUBE --shard {index}/{count}` for it")


def read_shard(path: Path, index: int, count: int) -> ShardInfo:
    """Check that ``path`` is a finished, undamaged shard ``index``/``count``; describe it."""
    if not h5py.is_hdf5(path):
        raise _refuse(path, "is not an HDF5 file", index, count)
    problem = probe(path)
    if problem is not None:
        raise _refuse(path, f"is damaged ({problem})", index, count)
    try:
        with open_locked(path, "r") as f:
            attrs = dict(f.attrs)
            if attrs.get("format") != FORMAT_NAME or attrs.get("format_version") != FORMAT_VERSION:
                raise _refuse(path, f"is not a renp_scan cube shard of format version "
                              f"{FORMAT_VERSION}", index, count)
            if attrs.get(SHARD_ATTR) != f"{index}/{count}":
                raise _refuse(path, f"is not a finished shard {index}/{count} (its shard "
                              f"attribute is {attrs.get(SHARD_ATTR)!r})", index, count)
            names = [str(t) for t in attrs["targets"]]
            layouts = [read_layout(f[name]) for name in names]
            owner = block_owner(layouts, count)
            for lay in layouts:
                done = f[PROGRESS_GROUP][lay.name][DONE][...].astype(bool)
                if not done[owner[lay.name] == index].all():
                    raise _refuse(path, f"lacks blocks of its share (target {lay.name})",
                                  index, count)
            rates = {lay.name: f[lay.name][RATE] for lay in layouts}
            return ShardInfo(
                path=path, scan_attrs=scan_attrs(attrs),
                target_attrs={n: dict(f[n].attrs) for n in names}, layouts=layouts,
                dtype=rates[names[0]].dtype,
                pipelines={n: _pipeline(r) for n, r in rates.items()},
                settings=output_settings(rates[names[0]]))
    except InputError:
        raise
    except (KeyError, ValueError, TypeError, OSError, RuntimeError, IndexError) as exc:
        raise _refuse(path, f"is damaged ({' '.join(str(exc).split())})", index, count) from None


def _same_layouts(a, b) -> bool:
    if [lay.name for lay in a] != [lay.name for lay in b]:
        return False
    for x, y in zip(a, b, strict=True):
        for field in x.__dataclass_fields__:
            u, v = getattr(x, field), getattr(y, field)
            if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
                if not (np.shape(u) == np.shape(v) and np.array_equal(u, v)):
                    return False
            elif u != v:
                return False
    return True


def check_same_run(first: ShardInfo, other: ShardInfo, index: int, count: int) -> None:
    """Refuse ``other`` unless it is a piece of the same scan, data and layout as ``first``."""
    a, b = first.scan_attrs, other.scan_attrs
    if a.get("scan_sha256") != b.get("scan_sha256"):
        raise _refuse(other.path, f"is a shard of another scan (sha256 "
                      f"{str(b.get('scan_sha256'))[:12]}... vs {str(a.get('scan_sha256'))[:12]}... "
                      f"in {first.path.name})", index, count)
    key = _same_attrs(a, b)
    if key is not None:
        raise _refuse(other.path, f"was computed with other data than {first.path.name} "
                      f"(attribute {key!r} differs)", index, count)
    if not _same_layouts(first.layouts, other.layouts):
        raise _refuse(other.path, f"has other axes or chunks than {first.path.name}", index, count)
    if other.dtype != first.dtype or other.pipelines != first.pipelines:
        raise _refuse(other.path, f"has another dtype or compression than {first.path.name}",
                      index, count)
    for name in first.target_attrs:
        key = _same_attrs(first.target_attrs[name], other.target_attrs[name])
        if key is not None:
            raise _refuse(other.path, f"has other target data than {first.path.name} "
                          f"({name} attribute {key!r})", index, count)


def _copy_share(writer, info: ShardInfo, index: int, count: int) -> tuple[int, int]:
    """Copy the blocks of share ``index`` that ``writer`` lacks; return (blocks, bytes)."""
    owner = block_owner(info.layouts, count)
    blocks = nbytes = 0
    with open_locked(info.path, "r") as f:
        for lay in info.layouts:
            todo = np.flatnonzero((owner[lay.name] == index) & ~writer.done_mask(lay.name))
            if not len(todo):
                continue
            rate = f[lay.name][RATE]
            crcs = f[PROGRESS_GROUP][lay.name][CRC][...]
            for b in todo:
                mask, stored = rate.id.read_direct_chunk(lay.block_offset(int(b)))
                if chunk_crc(mask, stored) != int(crcs[b]):
                    raise _refuse(info.path, f"is damaged: block {int(b)} of {lay.name} fails "
                                  "its CRC-32 check", index, count)
                if mask == 0:
                    writer.write_block(lay.name, int(b), bytes(stored))
                else:  # a filter skipped this chunk: let HDF5 store it again the same way
                    writer.write_block(lay.name, int(b), rate[lay.block_selection(int(b))])
                blocks += 1
                nbytes += len(stored)
    return blocks, nbytes


def merge_shards(cube, *, count: int | None = None, busy_ok: bool = False) -> MergeReport | None:
    """Assemble ``cube`` from its finished shards ``CUBE.shard-I-of-N.h5`` (module doc).

    Parameters
    ----------
    cube : str or Path
        The cube to write.
    count : int, optional
        N, when known (a shard run); else the only N found beside ``cube``.
    busy_ok : bool
        Return None instead of refusing when another process holds ``CUBE.lock``
        (two shards finishing at once: one of them merges).

    Returns
    -------
    MergeReport, or None when ``cube`` is already a finished cube of the same scan
    (merged before) or, with ``busy_ok``, another process is merging.

    Raises
    ------
    InputError
        No shards, shards of several counts, a missing, foreign or damaged shard
        (``field="shard"``), or ``cube`` exists and is something else.
    """
    start = time.perf_counter()
    out = Path(cube)
    found = finished_shards(out)
    lock = LockFile(out.with_name(out.name + ".lock"))
    try:
        lock.acquire()
    except InputError:
        if busy_ok:
            return None
        raise
    try:
        if out.exists():
            return _already_merged(out, found)
        if count is None:
            if not found:
                partials = sorted(out.parent.glob(f"{glob_escape(out.name)}.shard-*.partial"))
                extra = f" ({len(partials)} unfinished shard partials)" if partials else ""
                raise InputError("shard", f"no finished shards {out.name}.shard-I-of-N.h5 "
                                 f"beside {out}{extra}")
            if len(found) > 1:
                raise InputError("shard", f"shards of several counts N = "
                                 f"{', '.join(map(str, sorted(found)))} beside {out}; keep "
                                 "one set (delete the others) and merge again")
            (count,) = found
        missing = [i for i in range(1, count + 1) if i not in found.get(count, [])]
        if missing:
            names = ", ".join(str(i) for i in missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise InputError("shard", f"{len(missing)} of {count} shards are not finished "
                             f"(shard {names}: no {shard_path(out, missing[0], count).name}); "
                             f"run `renp-scan run SCAN -o {out} --shard I/{count}` for them")
        infos = [read_shard(shard_path(out, i, count), i, count) for i in range(1, count + 1)]
        for i, info in enumerate(infos[1:], start=2):
            check_same_run(infos[0], info, i, count)
        writer = _open_output(out, infos[0])
        copied = nbytes = 0
        try:
            for i, info in enumerate(infos, start=1):
                b, n = _copy_share(writer, info, i, count)
                copied += b
                nbytes += n
            writer.finalize(out)
        finally:
            writer.close()
        for i in range(1, count + 1):
            shard_path(out, i, count).unlink(missing_ok=True)
    finally:
        lock.release()
    return MergeReport(out, count, copied, nbytes, time.perf_counter() - start)


def _already_merged(out: Path, found) -> None:
    """Return None if ``out`` is a finished cube (shards already merged); else refuse."""
    try:
        check_cube(out, field="shard")
    except InputError:
        raise InputError("shard", f"{out} exists and is not a finished cube; move it away "
                         "and merge again") from None
    return None


def _open_output(out: Path, info: ShardInfo):
    """Create ``CUBE.partial`` like a run of the shards' scan would, or resume it."""
    partial = out.with_name(out.name + ".partial")
    compression, level, shuffle = info.settings
    if partial.exists():
        writer = open_partial(partial, scan_sha256=str(info.scan_attrs["scan_sha256"]),
                              layouts=info.layouts, root_attrs=info.scan_attrs,
                              target_attrs=info.target_attrs, dtype=info.dtype,
                              filters=compression_options(compression, level, shuffle))
        if not _same_layouts(list(writer.layouts.values()), info.layouts):
            writer.close()
            raise InputError("shard", f"{partial} has other chunks than the shards (made "
                             "with another block size); move it away and merge again")
        return writer
    return create_partial(partial, info.layouts, target_attrs=info.target_attrs,
                          root_attrs=info.scan_attrs, dtype=info.dtype, compression=compression,
                          compression_level=level, shuffle=shuffle)
