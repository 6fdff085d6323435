"""Create, resume and finish a cube file: the one writer of the sweep.

Only the client process writes; workers return arrays or encoded chunks. The writer
keeps work safe against ``kill -9``, full disks and damaged files (all cases:
``docs/reliability.md``):

* the cube is built in ``OUT.partial``; ``rate`` has fill value NaN so a chunk that
  was never written can be told apart from a computed one;
* :meth:`CubeWriter.write_block` writes a block's chunk, records its CRC-32 (brought
  by an :class:`~renp_scan.cube.layout.EncodedChunk` from the worker that encoded it,
  else computed here), flushes, *then* sets the block's entry in the done mask and
  flushes again. The mask therefore never claims a chunk whose data and index have
  not reached the file (the data is with the OS after a flush, which survives the
  death of the process; it does not survive a power cut, as nothing here calls
  fsync per block);
* a :class:`~renp_scan.cube.space.SpaceGuard` makes sure each block fits before
  HDF5 sees it; a write that fails anyway detaches the file (:meth:`CubeWriter.abandon`)
  so the partial stays as after its last complete block;
* :func:`~renp_scan.cube.resume.open_partial` checks a partial read-only (structure in
  a child process, scan, axes, physics data, filters, CRC-32 of every done block)
  before resuming it;
* :meth:`CubeWriter.finalize` checks every chunk is stored and matches its CRC-32,
  marks the file complete, closes it, fsyncs it and renames it onto ``OUT`` with
  :func:`os.replace` (atomic on POSIX).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np

from .._faults import checkpoint
from ..errors import InputError
from . import filters
from .hdf5 import (
    errno_of,
    filter_pipeline,
    one_line,
    open_locked,
    scratch_fd,
    set_element,
    stored_crcs,
)
from .layout import (
    CRC,
    DONE,
    PROGRESS_GROUP,
    RATE,
    ChunkCodec,
    EncodedChunk,
    TargetLayout,
    chunk_crc,
    compression_options,
)
from .schema import utc_now, write_root_attrs, write_target
from .space import SPACE_ERRNOS, SpaceGuard, StorageError
from .writeback import Writeback


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


class CubeWriter:
    """An open ``OUT.partial`` being filled block by block.

    Use :func:`create_partial` or :func:`~renp_scan.cube.resume.open_partial` to get one.

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
        self._writeback: Writeback | None = None  # see sync_in_background

    def sync_in_background(self) -> None:
        """Send stored blocks on to the disk while the run goes on (a :class:`Writeback`).

        For a long run into one file; the thread stops when the writer closes.
        """
        if self._writeback is None:
            self._writeback = Writeback(self.path)

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
        return max(lay.stored_chunk_bound(self._rate[name].dtype.itemsize)
                   for name, lay in self.layouts.items())

    def codec(self, target: str) -> ChunkCodec | None:
        """Return the filters of ``target``'s ``rate`` as a :class:`ChunkCodec`, or None.

        None when the pipeline holds another filter, or its library is not at hand
        (zstd without hdf5plugin): such blocks must be passed to :meth:`write_block`
        as arrays.
        """
        pipeline = filter_pipeline(self._rate[target])
        codes = [flt[0] for flt in pipeline]
        shuffle = codes[:1] == [h5py.h5z.FILTER_SHUFFLE]
        last = codes[1:] if shuffle else codes
        if not last:
            return ChunkCodec(shuffle=shuffle, deflate_level=None)
        if last == [h5py.h5z.FILTER_DEFLATE]:
            return ChunkCodec(shuffle=shuffle, deflate_level=int(pipeline[-1][2][0]))
        if last == [filters.ZSTD_FILTER_ID] and filters.zstd_available():
            values = pipeline[-1][2]
            return ChunkCodec(shuffle=shuffle, deflate_level=None,
                              zstd_level=int(values[0]) if len(values) else 3)
        if last == [filters.LZF_FILTER_ID] and filters.lzf_available():
            return ChunkCodec(shuffle=shuffle, deflate_level=None, lzf=True)
        return None

    def write_block(self, target: str, index: int, data) -> None:
        """Store block ``index`` of ``target`` and mark it done (see module doc for order).

        Parameters
        ----------
        target : str
            Target group name.
        index : int
            Block number (C order over the chunk grid).
        data : ndarray, shape (rows, cols), EncodedChunk or bytes
            Gamma [Hz] for the block's m0 rows and omega columns, or the chunk
            already encoded by :meth:`codec` (an :class:`EncodedChunk`, stored as
            is with the CRC-32 it carries; plain bytes get theirs computed here).
        """
        layout = self.layouts[target]
        offset = layout.block_offset(index)
        if self.guard is not None:
            self.guard.before_write(self._f.id.get_filesize())
        try:
            if self._writeback is not None:
                self._writeback.check()
            if isinstance(data, bytes):  # a transport that dropped the CRC: compute it here
                data = EncodedChunk(data)
            if isinstance(data, EncodedChunk):
                self._rate[target].id.write_direct_chunk(offset, data.data, filter_mask=0)
                crc = data.crc32
            else:
                self._rate[target][layout.block_selection(index)] = data
                self._f.flush()  # the chunk leaves HDF5's chunk cache for the file
                crc = chunk_crc(*self._rate[target].id.read_direct_chunk(offset))
            set_element(self._crc[target].id, index, np.array([crc], dtype=np.uint32))
            self._f.flush()
            self._written += 1
            checkpoint("after-chunk", self._written)
            set_element(self._done[target].id, index, np.ones(1, dtype=np.uint8))
            self._f.flush()
            if self._writeback is not None:
                self._writeback.stored(data.nbytes)
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
        self._stop_writeback()
        try:
            fd = self._f.id.get_vfd_handle()
            scratch = scratch_fd()
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
        code = errno_of(exc)
        reason = os.strerror(code) if code in SPACE_ERRNOS else one_line(exc)
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
        unstored = []
        damaged = [f"{name} block {index}"
                   for (name, index, recorded), crc in stored_crcs(self._flagged_chunks(unstored))
                   if crc != recorded]
        if damaged:
            more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
            raise InputError("output", f"the partial cube {self.path} is damaged: stored data "
                             f"of {', '.join(damaged[:3])}{more} fails its CRC-32 check; "
                             "pass --overwrite to start again")
        return unstored

    def _flagged_chunks(self, unstored: list):
        """Yield ((target, block, recorded CRC), mask, stored bytes) of every block flagged done.

        Flagged blocks without a stored chunk are appended to ``unstored`` instead.
        """
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
                yield (name, int(index), int(crcs[index])), *rate_id.read_direct_chunk(offset)

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

    def _stop_writeback(self) -> None:
        if self._writeback is not None:
            self._writeback.close()

    def close(self) -> None:
        """Flush and close the file (idempotent); the partial stays on disk."""
        self._stop_writeback()
        if self._f.id.valid and not self.abandoned:
            self._f.flush()
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


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
        ``complete = 0``, :func:`~renp_scan.cube.schema.environment_provenance` and the
        CF globals
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
        write_root_attrs(f, layouts, root_attrs)
        for layout in layouts:
            write_target(f, layout, target_attrs.get(layout.name, {}), np.dtype(dtype), filters)
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
