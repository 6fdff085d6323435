"""Create, resume and finish a cube file: the one writer of the sweep.

Only the client process writes; workers return arrays. The writer keeps work safe
against ``kill -9``, full disks and damaged files (all cases: ``docs/reliability.md``):

* the cube is built in ``OUT.partial``; ``rate`` has fill value NaN so a chunk that
  was never written can be told apart from a computed one;
* :meth:`CubeWriter.write_block` writes a block's chunk, records its CRC-32, flushes,
  *then* sets the block's entry in the done mask and flushes again. The mask
  therefore never claims a chunk whose data and index have not reached the file
  (the data is with the OS after a flush, which survives the death of the process;
  it does not survive a power cut, as nothing here calls fsync per block);
* a :class:`~renp_scan.cube.space.SpaceGuard` makes sure each block fits before
  HDF5 sees it; a write that fails anyway detaches the file (:meth:`CubeWriter.abandon`)
  so the partial stays as after its last complete block;
* :func:`open_partial` checks a partial read-only (structure in a child process,
  scan, axes, physics data, filters, CRC-32 of every done block) before resuming it;
* :meth:`CubeWriter.finalize` checks every chunk is stored and matches its CRC-32,
  marks the file complete, closes it, fsyncs it and renames it onto ``OUT`` with
  :func:`os.replace` (atomic on POSIX).
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import platform
import re
import socket
import sys
import zlib
from pathlib import Path

import h5py
import numpy as np

from ..errors import InputError
from .._faults import checkpoint
from .layout import (
    BLOCK_DIM,
    CRC,
    DIMS,
    DONE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PHASE_COORDS,
    PROGRESS_ATTRS,
    PROGRESS_GROUP,
    RATE,
    RATE_NORMALISATION,
    VARIABLE_ATTRS,
    ChunkCodec,
    TargetLayout,
    cf_globals,
    compression_options,
    register_filter_plugins,
)
from .probe import probe
from .reader import _DAMAGE, _NO_LOCKS, open_read_only, read_layout
from .space import SPACE_ERRNOS, SpaceGuard, StorageError

_STR = h5py.string_dtype(encoding="utf-8")


def open_locked(path, mode: str) -> h5py.File:
    """``h5py.File(path, mode)``, without HDF5's own file lock where the file system has none.

    HDF5 locks every file it opens; on file systems without POSIX locks (NFS without
    lockd: ``ENOLCK``) that fails with "unable to lock file". The sweep holds
    ``OUT.lock`` while it writes, which already keeps other runs away, so the file is
    then opened unlocked, as ``HDF5_USE_FILE_LOCKING=FALSE`` would do.
    """
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        if "unable to lock file" not in str(exc):
            raise
        code = _errno_of(exc)
        if code not in _NO_LOCKS:
            # The lock is held: another program has the file open.
            raise InputError("output", f"{path} is open in another program (its HDF5 file "
                             f"lock is held: {os.strerror(code)}); close it and rerun") from None
    return h5py.File(path, mode, locking=False)


def utc_now() -> str:
    """Return the current UTC time, ISO 8601 with seconds (e.g. ``2025-01-31T12:00:00+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def environment_provenance() -> dict:
    """Attributes describing the software and machine that created a cube."""
    import numba

    from .._version import __version__

    return {
        "package": "renp_scan",
        "package_version": __version__,
        "created_utc": utc_now(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python_version": sys.version.split()[0],
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
        "h5py_version": h5py.__version__,
        "hdf5_version": h5py.version.hdf5_version,
    }


def _set_var_attrs(dset, name: str) -> None:
    units, long_name = VARIABLE_ATTRS[name]
    if units is not None:
        dset.attrs["units"] = units
    dset.attrs["long_name"] = long_name


def _scale(group, name: str, values, dtype=None):
    dset = group.create_dataset(name, data=values, dtype=dtype)
    dset.make_scale(name)
    _set_var_attrs(dset, name)
    return dset


def _write_target(f, layout: TargetLayout, attrs: dict, dtype, filters: dict) -> None:
    g = f.create_group(layout.name)
    for key, value in attrs.items():
        g.attrs[key] = value
    values = {
        "hierarchy": (np.array(layout.hierarchies, dtype=object), _STR),
        "nature": (np.array(layout.natures, dtype=object), _STR),
        "channel": (np.array(layout.channels, dtype=object), _STR),
        "coulomb_model": (np.array(layout.coulomb_models, dtype=object), _STR),
        "phase": (np.arange(len(layout.phases_rad), dtype=np.int64), None),
        "m0": (np.asarray(layout.m0_eV, dtype=np.float64), None),
        "omega": (np.asarray(layout.omega_eV, dtype=np.float64), None),
    }
    scales = {dim: _scale(g, dim, *values[dim]) for dim in DIMS}
    for col, name in enumerate(PHASE_COORDS):
        aux = g.create_dataset(name, data=np.asarray(layout.phases_rad, dtype=np.float64)[:, col])
        aux.dims[0].attach_scale(scales["phase"])
        _set_var_attrs(aux, name)
    rate = g.create_dataset(RATE, shape=layout.shape, dtype=dtype, chunks=layout.chunks,
                            fillvalue=np.nan, **filters)
    # No dimension labels: netCDF readers show HDF5's DIMENSION_LABELS as an
    # attribute; the attached scales already name every dim.
    for axis, dim in enumerate(DIMS):
        rate.dims[axis].attach_scale(scales[dim])
    _set_var_attrs(rate, RATE)
    # CF convention: makes xarray load the phase angles as coordinates of `rate`.
    rate.attrs["coordinates"] = " ".join(PHASE_COORDS)

    progress = f.require_group(PROGRESS_GROUP)
    p = progress.create_group(layout.name)
    for group in (progress, p):
        group.attrs.update(PROGRESS_ATTRS)
    block = _scale(p, BLOCK_DIM, np.arange(layout.n_blocks, dtype=np.int64))
    # Contiguous and written at creation, so later mask updates touch no metadata.
    done = p.create_dataset(DONE, data=np.zeros(layout.n_blocks, dtype=np.uint8))
    done.dims[0].attach_scale(block)
    _set_var_attrs(done, DONE)
    crc = p.create_dataset(CRC, data=np.zeros(layout.n_blocks, dtype=np.uint32))
    crc.dims[0].attach_scale(block)
    _set_var_attrs(crc, CRC)


def chunk_crc(filter_mask: int, stored: bytes) -> int:
    """CRC-32 of a stored chunk: its filter mask (4 bytes, little-endian), then its bytes.

    The mask matters: a filter may skip a chunk it cannot shrink (lzf does), and the
    same bytes then decode differently.
    """
    return zlib.crc32(stored, zlib.crc32(int(filter_mask).to_bytes(4, "little")))


def _stray_chunks(rate_id, layout: TargetLayout) -> int:
    """Count stored chunks that are not at a block corner (a damaged chunk index)."""
    if rate_id.get_num_chunks() > layout.n_blocks:
        return rate_id.get_num_chunks() - layout.n_blocks
    chunks, shape = layout.chunks, layout.shape
    strays = [0]

    def visit(info):
        offset = info.chunk_offset
        if any(o % c or o >= n for o, c, n in zip(offset, chunks, shape, strict=True)):
            strays[0] += 1

    if hasattr(rate_id, "chunk_iter"):  # h5py >= 3.8 with HDF5 >= 1.12.3
        rate_id.chunk_iter(visit)
    return strays[0]


class PartialWriteError(StorageError):
    """HDF5 failed to store data in the partial (disk full, quota, I/O error).

    The writer has already detached the file (see :meth:`CubeWriter.abandon`), so
    the partial stays as it was after the last block stored before the failure.
    """


def _scratch_fd() -> int:
    """Open a writable, truncatable file on no disk (memfd), or an unlinked temp file."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("renp-scan-abandoned")
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        return os.dup(tmp.fileno())


def _errno_of(exc: BaseException) -> int:
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    found = re.search(r"errno = (\d+)", str(exc))
    return int(found.group(1)) if found else errno.EIO


class CubeWriter:
    """An open ``OUT.partial`` being filled block by block.

    Use :func:`create_partial` or :func:`open_partial` to get one.

    Attributes
    ----------
    path : Path
        The partial file.
    layouts : dict of str to TargetLayout
        Axes and chunking per target, in file order.
    """

    def __init__(self, h5file: h5py.File, path: Path, layouts: dict):
        self._f = h5file
        self.path = Path(path)
        self.layouts = layouts
        self._rate = {name: h5file[name][RATE] for name in layouts}
        self._done = {name: h5file[PROGRESS_GROUP][name][DONE] for name in layouts}
        self._crc = {name: h5file[PROGRESS_GROUP][name][CRC] for name in layouts}
        self._written = 0  # blocks stored by this session (numbers the test kill points)
        self._n_done = int(sum(np.count_nonzero(d[...]) for d in self._done.values()))
        #: Optional :class:`~renp_scan.cube.space.SpaceGuard` consulted around each write.
        self.guard: SpaceGuard | None = None
        #: Done flags cleared on resume because their chunk was never stored.
        self.repaired = 0
        #: Set by :meth:`abandon`: the file must not be touched again.
        self.abandoned = False

    def done_mask(self, target: str) -> np.ndarray:
        """Boolean copy of ``target``'s done mask (one entry per block)."""
        return self._done[target][...].astype(bool)

    def n_blocks(self) -> int:
        """Total number of blocks over all targets."""
        return sum(lay.n_blocks for lay in self.layouts.values())

    def n_done(self) -> int:
        """Count the blocks already computed and flushed."""
        return self._n_done

    def max_block_bytes(self) -> int:
        """Upper bound on the stored size of one block [bytes] (compression may expand a bit)."""
        largest = max(lay.chunk_rows * lay.chunk_cols * self._rate[name].dtype.itemsize
                      for name, lay in self.layouts.items())
        return int(largest * 1.1) + 2**16

    def codec(self, target: str) -> ChunkCodec | None:
        """Return the filters of ``target``'s ``rate`` as a :class:`ChunkCodec`, or None.

        None when the pipeline holds a filter other than shuffle and deflate (lzf,
        zstd): such blocks must be passed to :meth:`write_block` as arrays.
        """
        plist = self._rate[target].id.get_create_plist()
        filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
        codes = [flt[0] for flt in filters]
        if codes in ([], [h5py.h5z.FILTER_SHUFFLE]):
            return ChunkCodec(shuffle=bool(codes), deflate_level=None)
        if codes in ([h5py.h5z.FILTER_DEFLATE], [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]):
            return ChunkCodec(shuffle=len(codes) == 2, deflate_level=int(filters[-1][2][0]))
        return None

    def write_block(self, target: str, index: int, data) -> None:
        """Store block ``index`` of ``target`` and mark it done (see module doc for order).

        Parameters
        ----------
        target : str
            Target group name.
        index : int
            Block number (C order over the chunk grid).
        data : ndarray, shape (rows, cols), or bytes
            Gamma [Hz] for the block's m0 rows and omega columns, or the chunk
            already encoded by :meth:`codec` (stored as is).
        """
        layout = self.layouts[target]
        offset = layout.block_offset(index)
        if self.guard is not None:
            self.guard.before_write(self._f.id.get_filesize())
        try:
            if isinstance(data, bytes):
                self._rate[target].id.write_direct_chunk(offset, data, filter_mask=0)
                crc = chunk_crc(0, data)
            else:
                self._rate[target][layout.block_selection(index)] = data
                self._f.flush()  # the chunk leaves HDF5's chunk cache for the file
                crc = chunk_crc(*self._rate[target].id.read_direct_chunk(offset))
            self._crc[target][index] = crc
            self._f.flush()
            self._written += 1
            checkpoint("after-chunk", self._written)
            self._done[target][index] = 1
            self._f.flush()
        except (OSError, RuntimeError) as exc:
            raise self.abandon(exc, f"storing block {index} of {target}") from exc
        self._n_done += 1
        checkpoint("after-block", self._written)
        if self.guard is not None:
            self.guard.after_write()

    def abandon(self, exc: BaseException, what: str) -> PartialWriteError:
        """Detach and close the file after a failed write; return the error to raise.

        After a failed write HDF5's in-memory state no longer matches the file, and
        letting it flush on close could write a half-updated chunk index. So the
        file descriptor is first pointed at an anonymous scratch file (in memory):
        nothing more reaches the partial, which stays as it was after the last fully
        stored block (the state a ``kill -9`` at that moment would leave, which a
        resume handles), and HDF5 closes without errors.
        """
        try:
            fd = self._f.id.get_vfd_handle()
            scratch = _scratch_fd()
            try:
                os.dup2(scratch, fd)
            finally:
                os.close(scratch)
        except (OSError, RuntimeError, ValueError, TypeError):
            pass  # no descriptor to detach (closed, or not the sec2 driver)
        self.abandoned = True
        try:
            self._f.close()
        except (OSError, RuntimeError, ValueError):
            # Still failing (e.g. the file-size limit applies to the scratch file too):
            # the handle is left alone from now on; the partial on disk is not touched.
            pass
        code = _errno_of(exc)
        reason = os.strerror(code) if code in SPACE_ERRNOS else _one_line(exc)
        return PartialWriteError(code, f"{what} in {self.path} failed: {reason}")

    def audit(self) -> list[tuple[str, int]]:
        """Check every block flagged done (reads only); return the flagged but unstored ones.

        A flagged block whose chunk is stored must have the CRC-32 recorded when it
        was written; any mismatch means the file was damaged after the fact.

        Returns
        -------
        list of (str, int)
            (target, block) flagged done whose chunk was never stored (possible
            after a power cut reorders writes): they must be computed again.

        Raises
        ------
        InputError
            ``field="output"`` naming the damaged blocks.
        """
        unstored, damaged = [], []
        for name, layout in self.layouts.items():
            rate_id = self._rate[name].id
            strays = _stray_chunks(rate_id, layout)
            if strays:
                raise InputError("output", f"the partial cube {self.path} is damaged: target "
                                 f"{name} stores {strays} chunk(s) outside its block grid; "
                                 "pass --overwrite to start again")
            crcs = self._crc[name][...]
            for index in np.flatnonzero(self._done[name][...]):
                offset = layout.block_offset(int(index))
                info = rate_id.get_chunk_info_by_coord(offset)
                if info.byte_offset is None or info.size == 0:
                    unstored.append((name, int(index)))
                    continue
                if chunk_crc(*rate_id.read_direct_chunk(offset)) != int(crcs[index]):
                    damaged.append(f"{name} block {int(index)}")
        if damaged:
            more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
            raise InputError("output", f"the partial cube {self.path} is damaged: stored data "
                             f"of {', '.join(damaged[:3])}{more} fails its CRC-32 check; "
                             "pass --overwrite to start again")
        return unstored

    def clear_done(self, blocks) -> None:
        """Clear the done flags of ``blocks`` ((target, index) pairs) so they are recomputed."""
        for name, index in blocks:
            self._done[name][index] = 0
            self._n_done -= 1
        self._f.flush()

    def finalize(self, out_path) -> Path:
        """Check completeness, mark the file complete and rename it atomically to ``out_path``."""
        for name, layout in self.layouts.items():
            missing = layout.n_blocks - int(np.count_nonzero(self._done[name][...]))
            chunks = self._rate[name].id.get_num_chunks()
            if not missing and chunks != layout.n_blocks:
                raise InputError("output", f"the partial cube {self.path} is damaged: target "
                                 f"{name} stores {chunks} chunks for {layout.n_blocks} blocks; "
                                 "pass --overwrite to start again")
            if missing or chunks != layout.n_blocks:
                raise RuntimeError(f"cube {self.path} target {name}: {missing} blocks not done, "
                                   f"{chunks} of {layout.n_blocks} chunks stored; "
                                   "refusing to finish")
        # Every block read back through the chunk index, checked against its CRC-32:
        # a damaged index (or a bad write) is caught here, before the cube is final.
        if self.audit():
            raise InputError("output", f"the partial cube {self.path} is damaged: blocks "
                             "flagged done have no stored chunk; pass --overwrite to start again")
        if self.guard is not None:
            self.guard.release()  # the last flush and close need a little room
        try:
            self._f.attrs["complete"] = np.int8(1)
            self._f.attrs["finished_utc"] = utc_now()
            self.close()
        except (OSError, RuntimeError) as exc:
            raise self.abandon(exc, "finishing the cube") from exc
        checkpoint("after-mark-complete")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as exc:
            # e.g. EDQUOT or EIO reported late by a network file system
            raise PartialWriteError(exc.errno or errno.EIO, f"writing {self.path} to disk "
                                    f"failed: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        checkpoint("after-fsync")
        out_path = Path(out_path)
        os.replace(self.path, out_path)
        checkpoint("after-rename")
        try:
            dir_fd = os.open(out_path.parent, os.O_RDONLY)
        except OSError:
            return out_path
        try:
            os.fsync(dir_fd)
        except OSError:
            pass  # some file systems cannot fsync a directory; the rename is done anyway
        finally:
            os.close(dir_fd)
        return out_path

    def close(self) -> None:
        """Flush and close the file (idempotent); the partial stays on disk."""
        if self._f.id.valid and not self.abandoned:
            self._f.flush()
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def stored_chunk_bytes(block: np.ndarray, dtype="float64", compression="gzip",
                       compression_level=None, shuffle=True) -> int:
    """Bytes HDF5 stores for ``block`` as one chunk with the given filters (in memory).

    Used to estimate a cube's file size from one computed block.

    Parameters
    ----------
    block : ndarray, shape (rows, cols)
        Values of one chunk.
    dtype, compression, compression_level, shuffle
        As for :func:`create_partial`.
    """
    filters = compression_options(compression, compression_level, shuffle)
    with h5py.File(f"renp-scan-estimate-{id(block)}.h5", "w", driver="core",
                   backing_store=False) as f:
        dset = f.create_dataset("rate", shape=block.shape, chunks=block.shape, dtype=dtype,
                                **filters)
        dset[...] = block
        return int(dset.id.get_chunk_info(0).size)


def create_partial(path, layouts, *, target_attrs: dict, root_attrs: dict, dtype="float64",
                   compression="gzip", compression_level=None, shuffle=True) -> CubeWriter:
    """Create a fresh ``OUT.partial`` with every group, coordinate and empty ``rate``.

    Parameters
    ----------
    path : str or Path
        File to create (an existing file is replaced).
    layouts : sequence of TargetLayout
        One per target, in the order the groups are written.
    target_attrs : dict of str to dict
        Scalar attributes of each target group (Z, N, isotope, eps_eg_eV, levels, A).
    root_attrs : dict
        File-level provenance; must contain ``scan_sha256``. Format name and version,
        ``complete = 0``, :func:`environment_provenance` and the CF globals
        (:func:`~renp_scan.cube.layout.cf_globals`) are added here.
    dtype : {"float64", "float32"}
        Storage type of ``rate``.
    compression, compression_level, shuffle
        See :func:`renp_scan.cube.layout.compression_options`.
    """
    filters = compression_options(compression, compression_level, shuffle)
    path = Path(path)
    f = open_locked(path, "w")
    try:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["complete"] = np.int8(0)
        f.attrs["rate_normalisation"] = RATE_NORMALISATION
        env = environment_provenance()
        cf = cf_globals(str(root_attrs.get("scan_name", "")), [lay.name for lay in layouts],
                        env["created_utc"], env["package_version"])
        for key, value in {**cf, **env, **root_attrs}.items():
            f.attrs[key] = value
        f.attrs["targets"] = np.array([lay.name for lay in layouts], dtype=object)
        f.attrs["run_sessions"] = np.int64(1)
        for layout in layouts:
            _write_target(f, layout, target_attrs.get(layout.name, {}), np.dtype(dtype), filters)
        f.flush()
    except (OSError, RuntimeError) as exc:
        # A new partial holds no work yet: detach it (see CubeWriter.abandon) and remove it.
        error = CubeWriter(f, path, {}).abandon(exc, "creating the partial cube")
        path.unlink(missing_ok=True)
        raise error from exc
    except BaseException:
        f.close()
        path.unlink(missing_ok=True)
        raise
    return CubeWriter(f, path, {lay.name: lay for lay in layouts})


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
    plist = dset.id.get_create_plist()
    return tuple(plist.get_filter(i)[:3] for i in range(plist.get_nfilters()))


def _expected_pipeline(dset, filters: dict) -> tuple:
    """Return the pipeline HDF5 sets up for ``filters`` on ``dset``'s type and chunks."""
    with h5py.File(f"renp-scan-filters-{id(dset)}.h5", "w", driver="core",
                   backing_store=False) as f:
        probe = f.create_dataset("probe", shape=dset.shape, dtype=dset.dtype,
                                 chunks=dset.chunks, **filters)
        return _pipeline(probe)


def _check_partial(f, path: Path, scan_sha256: str, layouts, root_attrs, target_attrs, dtype,
                   filters, hint: str) -> dict:
    """Read-only checks of an open partial; return its layouts by target."""
    attrs = f.attrs
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
    names = [str(t) for t in attrs["targets"]]
    stored = {name: read_layout(f[name]) for name in names}
    if layouts is not None:
        expected = {lay.name: lay for lay in layouts}
        if names != list(expected):
            raise InputError("output", f"the partial cube {path} is damaged: it holds targets "
                             f"{names}, the scan {list(expected)}; {hint}")
        for name in names:
            _check_layout(stored[name], expected[name], path, hint)
    for name in names:
        rate = f[name][RATE]
        if dtype is not None and rate.dtype != np.dtype(dtype):
            raise InputError("output", f"the partial cube {path} is damaged: rate of "
                             f"{name} is {rate.dtype}, the scan says {dtype}; {hint}")
        lay = stored[name]
        if rate.shape != lay.shape or rate.chunks != lay.chunks:
            raise InputError("output", f"the partial cube {path} is damaged: rate of {name} "
                             f"has shape {rate.shape} and chunks {rate.chunks}, its axes say "
                             f"{lay.shape} and {lay.chunks}; {hint}")
        if filters is not None and _pipeline(rate) != _expected_pipeline(rate, filters):
            raise InputError("output", f"the partial cube {path} is damaged: the filters of "
                             f"rate of {name} differ from the scan's [output] settings; {hint}")
    _check_attrs("file", attrs, root_attrs or {}, path, hint)
    for name, expected_attrs in (target_attrs or {}).items():
        _check_attrs(f"target {name}", f[name].attrs, expected_attrs, path, hint)
    return stored


def open_partial(path, *, scan_sha256: str, layouts=None, root_attrs: dict | None = None,
                 target_attrs: dict | None = None, dtype=None,
                 filters: dict | None = None) -> CubeWriter:
    """Reopen ``OUT.partial`` to resume it; InputError if it belongs elsewhere or is damaged.

    A child process first reads the whole file structure (:func:`~renp_scan.cube.probe.probe`:
    damage that crashes HDF5 then becomes this error, not a crash). Every check runs on a
    read-only handle first, so a refused partial is left exactly as it was; the blocks
    flagged done are verified there too (stored chunk, CRC-32; see
    :meth:`CubeWriter.audit`).

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
    hint = "pass --overwrite to start again"
    if h5py.is_hdf5(path):
        problem = probe(path)
        if problem is not None:
            raise InputError("output", f"the partial cube {path} is damaged ({problem}); {hint}")
    try:
        f = open_locked(path, "r")
    except OSError as exc:
        raise InputError("output", f"cannot reopen the partial cube {path}: damaged or not "
                         f"HDF5 ({_one_line(exc)}); {hint}") from None
    try:
        with f:
            stored = _check_partial(f, path, scan_sha256, layouts, root_attrs, target_attrs,
                                    dtype, filters, hint)
            unstored = CubeWriter(f, path, stored).audit()
    except InputError:
        raise
    except _DAMAGE as exc:
        raise InputError("output", f"the partial cube {path} is damaged ({_one_line(exc)}); "
                         f"{hint}") from None
    try:
        f = open_locked(path, "r+")
    except OSError as exc:
        raise InputError("output", f"cannot reopen the partial cube {path} for writing "
                         f"({_one_line(exc)}); {hint}") from None
    try:
        writer = CubeWriter(f, path, stored)
        writer.clear_done(unstored)
        writer.repaired = len(unstored)
        # complete = 1 in a partial: a run died between marking it complete and the
        # rename. It is resumed like any partial (every block verified above, then
        # finished again), so the finished work is not lost.
        f.attrs["complete"] = np.int8(0)
        f.attrs["run_sessions"] = np.int64(int(f.attrs.get("run_sessions", 1)) + 1)
        history = [_plain_text(f.attrs.get("history", "")), f"{utc_now()} resumed by renp_scan"]
        f.attrs["history"] = "\n".join(line for line in history if line)
        f.flush()
    except _DAMAGE as exc:
        # Damaged metadata the read-only checks did not touch (found when writing).
        error = CubeWriter(f, path, {}).abandon(exc, "reopening")
        raise InputError("output", f"the partial cube {path} is damaged ({error.strerror}); "
                         f"{hint}") from None
    except BaseException:
        f.close()
        raise
    return writer


def _plain_text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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
        raise InputError("output", f"cannot open {path} ({_one_line(exc)})") from None
    with f:
        try:
            _check_partial(f, path, scan_sha256, layouts, root_attrs, target_attrs, dtype,
                           filters, "")
        except _DAMAGE as exc:
            raise InputError("output", f"{path} is damaged ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
