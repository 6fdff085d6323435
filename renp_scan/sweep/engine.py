"""The sweep engine: fill a cube from a :class:`ScanSpec`, block by block, resumable.

Flow of :func:`run_scan`:

1. return at once (``nothing_to_do``) if the output already is this scan's finished
   cube; check the output path can be written and is not another finished cube
   (unless ``overwrite``), validate every (target, hierarchy, nature, channel, Coulomb
   model, phase row) with one
   :func:`renp_scan.spectrum` call, timing it to size the blocks, and check the
   cube's estimated size fits the free disk; all before any file is created;
2. take ``OUT.lock``; create ``OUT.partial`` or resume it (same scan, axes and
   physics data only; damage is refused); hold back disk space in ``OUT.reserve``;
3. compute the missing blocks (m0 rows x the whole omega grid) as dask tasks, on
   dask's local threaded scheduler (default, ``workers`` threads) or on a running
   ``distributed`` scheduler; a bounded window of tasks is in flight, so memory
   is a few blocks whatever the cube size;
4. the calling process is the single writer: each finished block is written and
   flushed as it arrives (HDF5 is never touched by workers);
5. finish: mark complete, rename ``OUT.partial`` onto ``OUT`` atomically.

SIGINT/SIGTERM stop the run between blocks (blocks already computed are written
first) and raise :class:`ScanInterrupted`; a full disk, quota or file-size limit
raises :class:`~renp_scan.cube.space.StorageError`; either way the partial is kept
for a resume (``docs/reliability.md``).
Parallelism lives here only: the Numba kernels are serial and release the GIL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._faults import checkpoint
from ..cube.lock import LockFile
from ..cube.reader import describe_cube
from ..cube.resume import open_partial
from ..cube.space import SpaceGuard, StorageError
from ..cube.writer import create_partial
from ..errors import ENVIRONMENT_ERRNOS, ClusterError, InputError
from .blocks import block_task
from .executors import WORKER_TIMEOUT_S, _run_distributed, _run_threads, _WorkerWatch
from .interrupts import ScanInterrupted, _SignalGuard, _Stop
from .output import (
    _check_output,
    _check_space,
    _environment_failure,
    _resume_expectations,
    finished_cube_of_scan,
    lock_path,
    partial_path,
)
from .planning import default_workers, plan_layouts, preflight
from .progress import BlockProgress
from .provenance import physics_provenance, target_attributes
from .scheduler import connect_scheduler


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_scan` did.

    Attributes
    ----------
    output : Path
        The finished cube.
    blocks_total : int
        Blocks of the cube.
    blocks_computed : int
        Blocks computed by this run (the rest came from a resumed partial).
    n_entries : int
        Entries of the cube (all targets).
    seconds : float
        Wall time of the run [s].
    file_bytes : int
        Size of the finished file [bytes].
    blocks_repaired : int
        Blocks the resumed partial flagged done without their data (found by the
        resume's check and computed again).
    nothing_to_do : bool
        ``output`` already was the finished cube of this scan (same scan file and
        inputs, decided like a resume: :func:`finished_cube_of_scan`); nothing was
        computed or written.
    """

    output: Path
    blocks_total: int
    blocks_computed: int
    n_entries: int
    seconds: float
    file_bytes: int
    blocks_repaired: int = 0
    nothing_to_do: bool = False


def _nothing_to_do(out: Path, spec, start: float) -> RunReport:
    """Return the report of a run whose output already is this scan's finished cube."""
    info = describe_cube(out)
    n_entries = sum(int(np.prod(t["shape"])) for t in info["targets"])
    return RunReport(output=out, blocks_total=info["blocks_total"], blocks_computed=0,
                     n_entries=n_entries, seconds=time.perf_counter() - start,
                     file_bytes=info["file_bytes"], nothing_to_do=True)


def _check_worker_timeout(seconds) -> None:
    """Refuse a ``worker_timeout_s`` that is not a positive number of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not seconds > 0:
        raise InputError("worker_timeout", f"must be a number of seconds > 0 (inf: wait for "
                         f"ever), got {seconds!r}")


def run_scan(spec, output, *, workers: int | None = None, scheduler=None, overwrite: bool = False,
             progress: bool = True, handle_signals: bool = True,
             block_rows: int | None = None, blocks=None, finish=None,
             executor=None, worker_timeout_s: float = WORKER_TIMEOUT_S) -> RunReport:
    """Compute the cube of ``spec`` into ``output`` (resuming ``output.partial`` if present).

    Parameters
    ----------
    spec : ScanSpec
        The validated scan (see :mod:`renp_scan.sweep.scanfile`).
    output : str or Path
        Path of the finished cube.
    workers : int, optional
        Threads of the embedded dask scheduler (default: usable cores). Not allowed
        together with ``scheduler``.
    scheduler : str or distributed.Client, optional
        Address of a running dask.distributed scheduler (or a Client) to compute on.
    overwrite : bool
        Replace a finished ``output`` and discard a partial of another scan.
    progress : bool
        Draw a tqdm bar on stderr.
    handle_signals : bool
        Turn SIGINT/SIGTERM into a clean stop (:class:`ScanInterrupted`).
    block_rows : int, optional
        Force the m0 rows per block of a new cube instead of sizing blocks from the
        measured cost; a resumed partial keeps its own.
    blocks : callable, optional
        ``blocks(layouts) -> {target: bool mask}``: the blocks this run computes
        (default all); used by ``--shard`` (:mod:`renp_scan.sweep.shards`).
    finish : callable, optional
        ``finish(writer, output)`` run instead of ``writer.finalize(output)`` once
        those blocks are done (a shard is finished differently from a cube).
    executor : callable, optional
        ``executor(tasks, client, handle, writer, protect)`` run instead of the
        built-in distributed runner when ``scheduler`` is given (workers writing in
        place, :mod:`renp_scan.sweep.pieces`); ``handle(task, None)`` counts a
        block stored elsewhere, ``protect()`` guards a write against SIGINT/SIGTERM.
    worker_timeout_s : float
        With ``scheduler``: stop (:class:`NoWorkersError`, partial kept) when the
        scheduler has had no worker for this long [s] (default
        :data:`WORKER_TIMEOUT_S`; ``math.inf`` waits for ever).

    Returns
    -------
    RunReport
    """
    start = time.perf_counter()
    out = Path(output)
    if workers is not None and scheduler is not None:
        raise InputError("workers", "--workers sets the embedded scheduler's threads; with "
                         "--scheduler the cluster's workers are used")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError("workers", f"must be an integer >= 1, got {workers!r}")
    if block_rows is not None and (not isinstance(block_rows, int) or block_rows < 1):
        raise InputError("block_rows", f"must be an integer >= 1, got {block_rows!r}")
    _check_worker_timeout(worker_timeout_s)
    workers = default_workers() if workers is None else workers
    if not overwrite and finished_cube_of_scan(out, spec):
        return _nothing_to_do(out, spec, start)
    _check_output(out, overwrite, spec.sha256)
    partial, lock = partial_path(out), LockFile(lock_path(out))
    costs = preflight(spec)
    _check_space(out, spec, partial.stat().st_size if partial.exists() and not overwrite else 0)
    lock.acquire()
    try:
        # Another run may have finished OUT while this one validated: never replace it.
        _check_output(out, overwrite, spec.sha256)
    except BaseException:
        lock.release()
        raise
    checkpoint("after-lock")
    client = own_client = None
    writer = None
    created = finished = False
    space = None
    guard = _SignalGuard()
    try:
        if scheduler is not None:
            if isinstance(scheduler, str):
                client = own_client = connect_scheduler(scheduler)
            else:
                client = scheduler
        if partial.exists() and overwrite:
            partial.unlink()
        target_attrs = {t: target_attributes(spec.atoms[t], spec.physics)
                        for t in spec.targets}
        root_attrs = physics_provenance(spec)
        if partial.exists():
            writer = open_partial(partial, **_resume_expectations(spec, root_attrs,
                                                                  target_attrs))
        else:
            created = True
            writer = create_partial(
                partial, plan_layouts(spec, costs, block_rows), target_attrs=target_attrs,
                root_attrs=root_attrs, dtype=spec.dtype,
                compression=spec.compression, compression_level=spec.compression_level,
                shuffle=spec.shuffle)
        checkpoint("after-create")
        # Each block must fit before HDF5 sees it (HDF5 does not survive a failed write).
        space = SpaceGuard(partial, writer.max_block_bytes())
        space.open()
        writer.guard = space
        mine = blocks(writer.layouts) if blocks is not None else \
            {name: True for name in writer.layouts}
        todo = [(lay, np.flatnonzero(~writer.done_mask(name) & mine[name]), writer.codec(name))
                for name, lay in writer.layouts.items()]
        n_todo = sum(len(idx) for _, idx, _ in todo)
        n_total = writer.n_blocks() if blocks is None else \
            int(sum(np.count_nonzero(m) for m in mine.values()))
        tasks = (block_task(spec, lay, int(i), codec) for lay, idx, codec in todo for i in idx)
        bar = BlockProgress(n_total, n_total - n_todo, enabled=progress)
        computed = [0]

        def handle(task, data):
            if data is not None:  # None: stored elsewhere (an executor's pieces), only counted
                with guard.protect():
                    writer.write_block(task.target, task.index, data)
            computed[0] += 1
            bar.update(task.n_points)

        if handle_signals:
            guard.install()
        try:
            if client is not None and executor is not None:
                executor(tasks, client, handle, writer, guard.protect)
            elif client is not None:
                _run_distributed(tasks, client, handle,
                                 _WorkerWatch(client, worker_timeout_s, bar))
            else:
                _run_threads(tasks, workers, handle)
        finally:
            guard.restore()
            bar.close()
        n_entries = sum(lay.n_entries for lay in writer.layouts.values())
        space.close()  # gives the reserve back for the final flush
        checkpoint("before-finalize")
        if finish is not None:
            finish(writer, out)
        else:
            writer.finalize(out)
        finished = True
    except _Stop as stop:
        done = writer.n_done() if writer is not None else 0
        total = writer.n_blocks() if writer is not None else 0
        raise ScanInterrupted(stop.signum, partial, done, total) from None
    except (StorageError, ClusterError, MemoryError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, StorageError) \
                and exc.errno not in ENVIRONMENT_ERRNOS:
            if created and writer is not None and writer.n_done() == 0:
                writer.close()
                partial.unlink(missing_ok=True)
            raise
        raise _environment_failure(exc, created, writer, partial) from None
    except BaseException:
        if created and writer is not None and writer.n_done() == 0:
            writer.close()
            partial.unlink(missing_ok=True)
        raise
    finally:
        try:
            if writer is not None:
                writer.close()
            if space is not None:
                space.close()
            if own_client is not None:
                try:
                    own_client.close(timeout=5)
                except Exception:  # noqa: BLE001  (a lost scheduler: nothing to close)
                    pass
            if finished:
                checkpoint("before-lock-release")
        finally:
            lock.release()
    return RunReport(output=out, blocks_total=n_total, blocks_computed=computed[0],
                     n_entries=n_entries, seconds=time.perf_counter() - start,
                     file_bytes=out.stat().st_size, blocks_repaired=writer.repaired)
