"""Workers that write in place: ``run_scan(..., scheduler=..., write_on_workers=True)``.

In the default distributed mode every block travels from a worker to the client,
the single writer. With workers writing in place, each worker *process* stores
the blocks it computes in its own piece file ``CUBE.piece-<host>-<pid>-<id>.partial``
beside the output (so the output folder must be shared between the client and the
workers, at the same path), with the writer's usual protocol (chunk, CRC-32, then
done flag, each flushed: a worker killed at any moment leaves a consistent piece).
A task returns only a receipt (target, block, piece name), so the client receives a
few dozen bytes per block instead of the block; it counts progress from the
receipts, and when every block is computed it copies the stored chunks of all
pieces into ``CUBE.partial`` (raw bytes, each checked against its CRC-32, no
recompression) and finishes the cube as usual. Pieces are removed once the cube is
in place.

A client that is killed (e.g. by its wall-time limit) and started again with the
same command first takes every finished block from the pieces left behind, then
computes only the rest (with ``--overwrite`` the pieces of earlier runs are discarded
instead, as their partial is). A piece that cannot be read (a worker killed while
HDF5 wrote its metadata) is skipped and its blocks are computed again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cube.hdf5 import open_locked
from ..cube.layout import CRC, DONE, FORMAT_NAME, PROGRESS_GROUP, RATE, chunk_crc
from ..cube.merge import glob_escape
from ..cube.probe import probe
from ..cube.schema import read_layout
from ..cube.writer import CubeWriter, create_partial
from ..errors import InputError
from .blocks import compute_block
from .engine import run_scan
from .provenance import physics_provenance

#: Root attribute of a piece: digest of the scan's physics data (see :func:`physics_digest`).
PIECE_ATTR = "piece_physics_sha256"
#: Rounds of (compute missing blocks, collect pieces) before giving up.
MAX_ROUNDS = 3


def physics_digest(root_attrs: dict) -> str:
    """sha256 of the scan and physics attributes a cube records (paths left out)."""
    h = hashlib.sha256()
    for key in sorted(root_attrs):
        if key in ("scan_path", "targets_file", "oscillation_file"):
            continue
        value = root_attrs[key]
        h.update(key.encode())
        h.update(np.asarray(value).tobytes() if not isinstance(value, str) else value.encode())
    return h.hexdigest()


@dataclass(frozen=True)
class PieceSpec:
    """What a worker needs to create its piece file (sent to each worker once).

    Attributes
    ----------
    cube : str
        Absolute path of the output cube (pieces go beside it).
    layouts : list of TargetLayout
        Axes and chunks of every target, in file order.
    dtype, compression, compression_level, shuffle
        Storage settings of ``rate`` (the scan's ``[output]``).
    scan_sha256, digest : str
        Identify the scan and its physics data (a piece of another run is never used).
    """

    cube: str
    layouts: list
    dtype: str
    compression: str
    compression_level: int | None
    shuffle: bool
    scan_sha256: str
    digest: str


_piece_lock = threading.Lock()
_piece_name: dict[str, str] = {}


def piece_glob(cube: Path) -> str:
    """Glob pattern of the piece files of ``cube``."""
    return f"{glob_escape(cube.name)}.piece-*.partial"


def _my_piece(spec: PieceSpec) -> Path:
    """Return the piece file of this worker process for ``spec.cube`` (created on first use)."""
    cube = Path(spec.cube)
    name = _piece_name.get(spec.cube)
    if name is None:
        token = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        name = _piece_name[spec.cube] = f"{cube.name}.piece-{token}.partial"
    path = cube.with_name(name)
    if not path.exists():
        create_partial(path, spec.layouts, target_attrs={},
                       root_attrs={"scan_sha256": spec.scan_sha256, PIECE_ATTR: spec.digest},
                       dtype=spec.dtype, compression=spec.compression,
                       compression_level=spec.compression_level, shuffle=spec.shuffle).close()
    return path


def compute_and_store(task, spec: PieceSpec) -> tuple:
    """Compute one block and store it in this worker's piece (the dask task); a receipt.

    The block is computed outside the lock (threads of a worker compute side by
    side); storing is serialized per process. The piece is opened and closed per
    block so that no file stays open between tasks (a client may collect it).
    """
    data = compute_block(task)
    with _piece_lock:
        path = _my_piece(spec)
        with open_locked(path, "r+") as f:
            writer = CubeWriter(f, path, {lay.name: lay for lay in spec.layouts})
            writer.write_block(task.target, task.index, data)
    return task.target, task.index, path.name


def _read_piece(path: Path, spec: PieceSpec, writer) -> list[tuple[str, int, int, bytes]]:
    """Blocks of a piece that ``writer`` lacks: (target, index, filter mask, stored bytes).

    Raises ValueError for a piece of another run or layout, OSError/KeyError for damage.
    """
    problem = probe(path)
    if problem is not None:
        raise OSError(problem)
    found = []
    with open_locked(path, "r") as f:
        if (f.attrs.get("format") != FORMAT_NAME or f.attrs.get("scan_sha256") != spec.scan_sha256
                or f.attrs.get(PIECE_ATTR) != spec.digest):
            raise ValueError("a piece of another scan or other physics data")
        for lay in spec.layouts:
            stored = read_layout(f[lay.name])
            if (stored.chunk_rows, stored.chunk_cols) != (lay.chunk_rows, lay.chunk_cols) \
                    or stored.shape != lay.shape:
                raise ValueError("other axes or chunks")
            rate = f[lay.name][RATE]
            done = f[PROGRESS_GROUP][lay.name][DONE][...].astype(bool)
            crcs = f[PROGRESS_GROUP][lay.name][CRC][...]
            for b in np.flatnonzero(done & ~writer.done_mask(lay.name)):
                offset = lay.block_offset(int(b))
                info = rate.id.get_chunk_info_by_coord(offset)
                if info.byte_offset is None:
                    continue  # flagged but never stored: computed again
                mask, data = rate.id.read_direct_chunk(offset)
                if chunk_crc(mask, data) != int(crcs[b]):
                    continue  # damaged after the fact: computed again
                if mask != 0:  # a filter skipped the chunk: hand over the values
                    data = rate[lay.block_selection(int(b))]
                found.append((lay.name, int(b), mask, data))
    return found


def collect_pieces(spec: PieceSpec, writer, store, notes) -> list[Path]:
    """Copy every block of the pieces beside the cube that ``writer`` lacks; return the pieces.

    ``store(target, index, data)`` writes one block into the cube's partial. A piece
    that cannot be read is skipped (noted in ``notes``); its blocks stay missing.
    """
    cube = Path(spec.cube)
    pieces = sorted(cube.parent.glob(piece_glob(cube)))
    for path in pieces:
        try:
            blocks = _read_piece(path, spec, writer)
        except (OSError, KeyError, ValueError, RuntimeError, InputError) as exc:
            notes.append(f"{path.name} skipped ({' '.join(str(exc).split())[:120]})")
            continue
        for target, index, _mask, data in blocks:
            store(target, index, data)
    return pieces


class WorkersWrite:
    """The ``executor`` of :func:`~renp_scan.sweep.engine.run_scan` for workers writing in place.

    Parameters
    ----------
    spec : ScanSpec
        The scan (storage settings and physics data identify the pieces).
    output : str or Path
        The cube; its folder must be reachable at the same path from every worker.
    overwrite : bool
        Discard the pieces of earlier runs instead of collecting them (as the run
        discards their partial).
    """

    def __init__(self, spec, output, overwrite: bool = False):
        self.scan = spec
        self.output = Path(output).resolve()
        self.digest = physics_digest(physics_provenance(spec))
        self.overwrite = overwrite
        #: Bytes of task results that reached the client (receipts), for measurements.
        self.result_bytes = 0
        self.notes: list[str] = []

    def piece_spec(self, writer) -> PieceSpec:
        """Return what the workers need to create their pieces for ``writer``'s cube."""
        s = self.scan
        return PieceSpec(cube=str(self.output), layouts=list(writer.layouts.values()),
                         dtype=str(s.dtype), compression=s.compression,
                         compression_level=s.compression_level, shuffle=bool(s.shuffle),
                         scan_sha256=s.sha256, digest=self.digest)

    def __call__(self, tasks, client, handle, writer, protect) -> None:
        """Compute ``tasks`` on ``client``'s workers into pieces, then collect the pieces."""
        from distributed import as_completed  # noqa: PLC0415  (optional: the [distributed] extra)

        spec = self.piece_spec(writer)
        by_block = {(t.target, t.index): t for t in tasks}

        def store(target, index, data):
            with protect():
                writer.write_block(target, index, data)

        if self.overwrite:
            remove_pieces(self.output)
        else:  # a restarted client first takes what the pieces of earlier runs hold
            collect_pieces(spec, writer, store, self.notes)
        shared = client.scatter(spec, broadcast=True, hash=False)
        run_id = uuid.uuid4().hex[:8]
        for round_ in range(MAX_ROUNDS):
            masks = {name: writer.done_mask(name) for name in writer.layouts}
            todo = iter([t for (name, b), t in by_block.items() if not masks[name][b]])

            def submit(task, _round=round_):
                return client.submit(compute_and_store, task, shared, pure=False,
                                     key=f"renp-piece-{run_id}-{_round}-{task.target}-"
                                         f"{task.index}")

            window = 2 * max(1, sum(client.nthreads().values()))
            first = [submit(t) for t in (next(todo, None) for _ in range(window)) if t]
            if not first:
                break
            pending = as_completed(first, loop=client.loop)
            try:
                for future in pending:
                    receipt = future.result()
                    self.result_bytes += len(pickle.dumps(receipt))
                    future.release()
                    handle(by_block[(receipt[0], receipt[1])], None)  # progress only
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.add(submit(nxt))
            except BaseException:
                client.cancel(list(pending.futures))
                raise
            # Every task has returned, so no worker has a piece open: collect them all.
            collect_pieces(spec, writer, store, self.notes)
        missing = sum(int(np.count_nonzero(~writer.done_mask(n))) for n in writer.layouts)
        for note in self.notes:
            print(f"renp-scan: note: {note}", file=sys.stderr)
        if missing:
            raise RuntimeError(f"{missing} blocks still missing after {MAX_ROUNDS} rounds of "
                               f"workers writing in place ({'; '.join(self.notes[-3:])})")


def run_writing_on_workers(spec, output, *, scheduler, **run_kwargs):
    """:func:`~renp_scan.sweep.engine.run_scan` with workers writing pieces; (report, executor).

    ``scheduler`` (address or Client) is required; the pieces are removed once the
    cube is in place.
    """
    executor = WorkersWrite(spec, output, overwrite=bool(run_kwargs.get("overwrite", False)))

    def finish(writer, out):
        writer.finalize(out)
        remove_pieces(out)

    report = run_scan(spec, output, scheduler=scheduler, executor=executor, finish=finish,
                      **run_kwargs)
    return report, executor


def remove_pieces(output) -> None:
    """Delete the piece files beside ``output`` (after the cube is in place)."""
    cube = Path(output).resolve()
    for path in cube.parent.glob(piece_glob(cube)):
        path.unlink(missing_ok=True)
