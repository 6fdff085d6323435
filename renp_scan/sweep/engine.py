"""A run: fill a cube from a :class:`ScanSpec`, block by block, resumable.

:func:`run_scan` is a short sequence of steps; :class:`Run` owns what a run holds
(``OUT.lock``, ``OUT.partial``, the space reserve, a scheduler client) and gives it
back whatever happens:

1. return at once (``nothing_to_do``) if the output already is this scan's finished
   cube; check the output path can be written and is not another finished cube
   (unless ``overwrite``), validate every (target, hierarchy, nature, channel, Coulomb
   model, phase row) with one
   :func:`renp_scan.spectrum` call (:func:`~renp_scan.sweep.planning.preflight`), and
   check the cube's estimated size fits the free disk; all before any file is created;
2. take ``OUT.lock``; create ``OUT.partial`` or resume it (same scan, axes and
   physics data only; damage is refused); hold back disk space in ``OUT.reserve``;
3. compute the missing blocks (m0 rows x the whole omega grid) as dask tasks
   (:mod:`renp_scan.sweep.executors`), on dask's local threaded scheduler (default,
   ``workers`` threads) or on a running ``distributed`` scheduler;
4. the calling process is the single writer: each finished block is written and
   flushed as it arrives (HDF5 is never touched by workers);
5. finish: mark complete, rename ``OUT.partial`` onto ``OUT`` atomically.

SIGINT/SIGTERM stop the run between blocks (blocks already computed are written
first) and raise :class:`~renp_scan.sweep.interrupts.ScanInterrupted`; a full disk,
quota or file-size limit raises :class:`~renp_scan.cube.space.StorageError`; either
way the partial is kept for a resume (``docs/reliability.md``).
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
from .executors import WORKER_TIMEOUT_S, WorkerWatch, run_distributed, run_threads
from .interrupts import ScanInterrupted, SignalGuard, SignalStop
from .output import (
    check_output,
    check_space,
    environment_failure,
    finished_cube_of_scan,
    lock_path,
    partial_path,
    remove_stale_lock,
    resume_expectations,
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


    @classmethod
    def of_finished_cube(cls, out: Path, start: float) -> RunReport:
        """Report a run whose output already is this scan's finished cube (nothing done)."""
        info = describe_cube(out)
        n_entries = sum(int(np.prod(t["shape"])) for t in info["targets"])
        return cls(output=out, blocks_total=info["blocks_total"], blocks_computed=0,
                   n_entries=n_entries, seconds=time.perf_counter() - start,
                   file_bytes=info["file_bytes"], nothing_to_do=True)


def check_arguments(workers, scheduler, block_rows, worker_timeout_s) -> None:
    """Refuse run arguments that are not what :func:`run_scan` documents (InputError)."""
    if workers is not None and scheduler is not None:
        raise InputError("workers", "--workers sets the embedded scheduler's threads; with "
                         "--scheduler the cluster's workers are used")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InputError("workers", f"must be an integer >= 1, got {workers!r}")
    if block_rows is not None and (not isinstance(block_rows, int) or block_rows < 1):
        raise InputError("block_rows", f"must be an integer >= 1, got {block_rows!r}")
    if isinstance(worker_timeout_s, bool) or not isinstance(worker_timeout_s, (int, float)) \
            or not worker_timeout_s > 0:
        raise InputError("worker_timeout", f"must be a number of seconds > 0 (inf: wait for "
                         f"ever), got {worker_timeout_s!r}")


class Run:
    """One run of ``spec`` into ``out``: the owner of its lock, partial, reserve and client.

    A context manager. Entering takes ``OUT.lock`` and checks the output again under
    it; the steps (:meth:`connect`, :meth:`open`, :meth:`todo`, :meth:`compute`,
    :meth:`finish`) run inside. Leaving closes the partial, gives the space reserve
    back, closes a client this run connected and releases the lock, whatever
    happened. An exception on the way out is translated: a stop by SIGINT/SIGTERM
    into :class:`ScanInterrupted`, a failure of the environment (storage, memory,
    cluster) into one line saying what is kept (:func:`environment_failure`); a
    partial this run created that holds no block is removed.
    """

    def __init__(self, spec, out: Path, *, overwrite: bool = False, scheduler=None):
        self.spec, self.out, self.overwrite = spec, Path(out), overwrite
        self.partial = partial_path(self.out)
        self.lock = LockFile(lock_path(self.out))
        self.scheduler = scheduler
        self.client = None
        self.writer = None
        self.space = None
        self._own_client = self.created = self.finished = False

    def __enter__(self) -> Run:
        self.lock.acquire()
        try:
            # Another run may have finished OUT while this one validated: never replace it.
            check_output(self.out, self.overwrite, self.spec.sha256)
        except BaseException:
            self.lock.release()
            raise
        checkpoint("after-lock")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is not None:
                self._translate(exc)
        finally:
            self._close()
        return False

    def connect(self) -> None:
        """Connect to the scheduler if one was given as an address (a Client is used as is)."""
        if isinstance(self.scheduler, str):
            self.client = connect_scheduler(self.scheduler)
            self._own_client = True
        else:
            self.client = self.scheduler

    def open(self, layouts):
        """Create ``OUT.partial`` (or resume it) and hold back space; return its writer.

        A partial of this scan is resumed (it keeps its own blocks), with ``overwrite``
        it is discarded first; a new one gets ``layouts``
        (:func:`~renp_scan.sweep.planning.plan_layouts`).
        """
        spec = self.spec
        if self.partial.exists() and self.overwrite:
            self.partial.unlink()
        target_attrs = {t: target_attributes(spec.atoms[t], spec.physics)
                        for t in spec.targets}
        root_attrs = physics_provenance(spec)
        if self.partial.exists():
            self.writer = open_partial(self.partial, **resume_expectations(spec, root_attrs,
                                                                           target_attrs))
        else:
            self.created = True
            self.writer = create_partial(
                self.partial, layouts, target_attrs=target_attrs,
                root_attrs=root_attrs, dtype=spec.dtype, compression=spec.compression,
                compression_level=spec.compression_level, shuffle=spec.shuffle)
        checkpoint("after-create")
        # Each block must fit before HDF5 sees it (HDF5 does not survive a failed write).
        self.space = SpaceGuard(self.partial, self.writer.max_block_bytes())
        self.space.open()
        self.writer.guard = self.space
        self.writer.sync_in_background()
        return self.writer

    def todo(self, blocks=None) -> tuple:
        """Return (tasks of the blocks still to compute, their number, this run's blocks).

        ``blocks(layouts) -> {target: bool mask}`` limits the run to some blocks.
        """
        writer = self.writer
        mine = blocks(writer.layouts) if blocks is not None else \
            {name: True for name in writer.layouts}
        todo = [(lay, np.flatnonzero(~writer.done_mask(name) & mine[name]), writer.codec(name))
                for name, lay in writer.layouts.items()]
        n_todo = sum(len(idx) for _, idx, _ in todo)
        n_total = writer.n_blocks() if blocks is None else \
            int(sum(np.count_nonzero(m) for m in mine.values()))
        tasks = (block_task(self.spec, lay, int(i), codec) for lay, idx, codec in todo for i in idx)
        return tasks, n_todo, n_total

    def compute(self, tasks, bar: BlockProgress, *, workers: int, handle_signals: bool = True,
                executor=None, worker_timeout_s: float = WORKER_TIMEOUT_S) -> int:
        """Compute ``tasks``, writing each block as it arrives; return the blocks computed.

        On the client's cluster (with ``executor`` instead of the built-in runner if
        given) or on ``workers`` local threads. With ``handle_signals`` SIGINT/SIGTERM
        stop the run between two block writes.
        """
        guard = SignalGuard()
        computed = 0

        def handle(task, data):
            nonlocal computed
            if data is not None:  # None: stored elsewhere (an executor's pieces), only counted
                with guard.protect():
                    self.writer.write_block(task.target, task.index, data)
            computed += 1
            bar.update(task.n_points)

        if handle_signals:
            guard.install()
        try:
            if self.client is not None and executor is not None:
                executor(tasks, self.client, handle, self.writer, guard.protect)
            elif self.client is not None:
                run_distributed(tasks, self.client, handle,
                                WorkerWatch(self.client, worker_timeout_s, bar))
            else:
                run_threads(tasks, workers, handle)
        finally:
            guard.restore()
            bar.close()
        return computed

    def finish(self, finish=None) -> None:
        """Finish the cube: ``finish(writer, out)`` or mark complete and rename onto ``OUT``."""
        self.space.close()  # gives the reserve back for the final flush
        checkpoint("before-finalize")
        if finish is not None:
            finish(self.writer, self.out)
        else:
            self.writer.finalize(self.out)
        self.finished = True

    def _translate(self, exc: BaseException) -> None:
        """Raise what ``exc`` means for the user; return to let ``exc`` itself go on."""
        if isinstance(exc, SignalStop):
            done = self.writer.n_done() if self.writer is not None else 0
            total = self.writer.n_blocks() if self.writer is not None else 0
            raise ScanInterrupted(exc.signum, self.partial, done, total) from None
        if isinstance(exc, (StorageError, ClusterError, MemoryError)) or (
                isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS):
            raise environment_failure(exc, self.created, self.writer, self.partial) from None
        if self.created and self.writer is not None and self.writer.n_done() == 0:
            self.writer.close()
            self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
            if self.space is not None:
                self.space.close()
            if self._own_client:
                try:
                    self.client.close(timeout=5)
                except Exception:  # noqa: BLE001  (a lost scheduler: nothing to close)
                    pass
            if self.finished:
                checkpoint("before-lock-release")
        finally:
            self.lock.release()


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
        With ``scheduler``: stop (:class:`~renp_scan.sweep.executors.NoWorkersError`,
        partial kept) when the scheduler has had no worker for this long [s] (default
        :data:`~renp_scan.sweep.executors.WORKER_TIMEOUT_S`; ``math.inf`` waits for
        ever).

    Returns
    -------
    RunReport
    """
    start = time.perf_counter()
    out = Path(output)
    check_arguments(workers, scheduler, block_rows, worker_timeout_s)
    workers = default_workers() if workers is None else workers
    if not overwrite and finished_cube_of_scan(out, spec):
        remove_stale_lock(out)
        return RunReport.of_finished_cube(out, start)
    check_output(out, overwrite, spec.sha256)
    costs = preflight(spec)
    layouts = plan_layouts(spec, costs, block_rows)
    check_space(out, spec, overwrite, costs, layouts)
    with Run(spec, out, overwrite=overwrite, scheduler=scheduler) as run:
        run.connect()
        writer = run.open(layouts)
        tasks, n_todo, n_total = run.todo(blocks)
        bar = BlockProgress(n_total, n_total - n_todo, enabled=progress)
        computed = run.compute(tasks, bar, workers=workers, handle_signals=handle_signals,
                               executor=executor, worker_timeout_s=worker_timeout_s)
        run.finish(finish)
    return RunReport(output=out, blocks_total=n_total, blocks_computed=computed,
                     n_entries=sum(lay.n_entries for lay in writer.layouts.values()),
                     seconds=time.perf_counter() - start, file_bytes=out.stat().st_size,
                     blocks_repaired=writer.repaired)
