"""Where blocks are computed: dask's local threads or a dask.distributed cluster.

Either way the calling thread receives each finished block (``handle(task, data)``)
and is the single writer; a bounded window of tasks is in flight, so memory is a
few blocks whatever the cube size. Parallelism lives here only: the Numba kernels
are serial and release the GIL.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import queue
import threading
import time
import uuid

import dask.threaded
import numpy as np

from ..errors import ClusterError
from .blocks import compute_block
from .interrupts import SignalStop

#: Blocks per dask graph handed to the local threaded scheduler at once; bounds
#: the scheduler's bookkeeping independently of the cube size.
WAVE_BLOCKS = 512
#: Blocks waiting for the writer, per worker thread (the hand-off window).
WINDOW_PER_WORKER = 2


class BufferPool:
    """Byte buffers lent to block tasks and given back once their block is written.

    Fresh memory costs a page fault per page on first touch, as much as computing
    the block (measured: 3 ms per 4 MB block on a virtual machine), and the
    faults of a GIL-holding copy stall the writer. The local runner's blocks
    therefore fill, shuffle and compress into buffers that come back here after
    the writer stored them; at most the in-flight window of blocks holds them.
    """

    def __init__(self):
        self._free: dict[int, list] = {}
        self._lock = threading.Lock()

    def take(self, nbytes: int, held: list) -> np.ndarray:
        """Return a uint8 buffer of ``nbytes`` (reused where one is free), noted in ``held``."""
        with self._lock:
            free = self._free.get(nbytes)
            buffer = free.pop() if free else None
        if buffer is None:
            buffer = np.empty(nbytes, dtype=np.uint8)
        held.append(buffer)
        return buffer

    def give(self, held: list) -> None:
        """Take back the buffers in ``held`` (their block is written)."""
        with self._lock:
            for buffer in held:
                self._free.setdefault(buffer.nbytes, []).append(buffer)
        held.clear()


#: Put in the hand-off queue by the producer when it has no more blocks.
END = None


class _Waves:
    """The dask side of :func:`run_threads`: waves of block tasks feeding a bounded queue."""

    def __init__(self, workers: int):
        self.workers = workers
        self.handoff = queue.Queue(maxsize=WINDOW_PER_WORKER * workers)
        self.stop = threading.Event()
        self.failure = []
        self.buffers = BufferPool()

    def run_one(self, task) -> None:
        """Compute one block and put it in the queue (the dask task: dask holds no data)."""
        if self.stop.is_set():
            return None
        held = []
        data = compute_block(task, functools.partial(self.buffers.take, held=held))
        self._put((task, data, held))
        return None

    def _put(self, item) -> None:
        """Put ``item`` in the queue, waiting for room unless the run is stopping."""
        while True:
            try:
                self.handoff.put(item, timeout=0.05)
                return
            except queue.Full:
                if self.stop.is_set():
                    return

    def feed(self, tasks) -> None:
        """Run ``tasks`` as dask graphs of at most :data:`WAVE_BLOCKS` (the producer thread).

        Ends by putting :data:`END` in the queue, so the writer stops waiting at once.
        """
        try:
            it = iter(tasks)
            while not self.stop.is_set():
                wave = list(itertools.islice(it, WAVE_BLOCKS))
                if not wave:
                    return

                def run_numbered(n, _wave=wave):
                    return self.run_one(_wave[n])

                # The graph carries plain block numbers (dask leaves ints alone).
                dsk = {("renp-block", n): (run_numbered, n) for n in range(len(wave))}
                dask.threaded.get(dsk, list(dsk), num_workers=self.workers)
        except BaseException as exc:
            self.failure.append(exc)
            self.stop.set()
        finally:
            self._put(END)


def run_threads(tasks, workers: int, handle) -> None:
    """Compute ``tasks`` with dask's threaded scheduler; ``handle(task, data)`` runs here.

    The tasks hand their result to this thread through a bounded queue and return
    None, so dask holds no block data; a producer thread feeds dask one wave of at
    most :data:`WAVE_BLOCKS` tasks at a time.
    """
    waves = _Waves(workers)
    thread = threading.Thread(target=waves.feed, args=(tasks,), name="renp-scan-producer",
                              daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = waves.handoff.get(timeout=0.1)
            except queue.Empty:
                if not thread.is_alive():
                    break
                continue
            if item is END:
                break
            task, data, held = item
            handle(task, data)
            waves.buffers.give(held)
    except SignalStop:
        waves.stop.set()
        _drain(waves.handoff, handle)
        thread.join()
        _drain(waves.handoff, handle)
        raise
    finally:
        waves.stop.set()
        thread.join()
    if waves.failure:
        raise waves.failure[0]


def _drain(handoff, handle) -> None:
    """Write blocks that were computed before a stop (they are finished work)."""
    while True:
        try:
            item = handoff.get_nowait()
        except queue.Empty:
            return
        if item is not END:
            handle(*item[:2])


def _cluster_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means the cluster was lost (not an error of a block's computation)."""
    if isinstance(exc, (asyncio.CancelledError, TimeoutError, ConnectionError)):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("distributed", "tornado"))


#: Default of ``--worker-timeout``: seconds a run on a dask scheduler waits while the
#: scheduler has no worker at all before it stops (keeping the partial).
WORKER_TIMEOUT_S = 300.0
#: Seconds between two asks for the scheduler's workers while no block arrives.
WORKER_CHECK_S = 1.0
#: Seconds between two looks for finished blocks while none is ready.
POLL_S = 0.02


class NoWorkersError(ClusterError):
    """The dask scheduler had no worker for the whole ``--worker-timeout``; work is kept."""


class WorkerWatch:
    """Stop a distributed run when its scheduler has had no worker for ``timeout_s``.

    Asked by the client loop while no block is ready: every :data:`WORKER_CHECK_S`
    it asks the scheduler for its workers; while there are none it tells ``progress``
    (the bar says it is waiting) and after ``timeout_s`` without any it raises
    :class:`NoWorkersError`. Workers that are only busy never count as absent.
    """

    def __init__(self, client, timeout_s: float, progress=None):
        self.client, self.timeout_s, self.progress = client, float(timeout_s), progress
        self._since = None
        self._checked = -math.inf

    def idle(self) -> None:
        """Ask for the workers (every WORKER_CHECK_S at most); stop after too long without."""
        now = time.monotonic()
        if now - self._checked < WORKER_CHECK_S:
            return
        self._checked = now
        if self.client.nthreads():
            if self._since is not None and self.progress is not None:
                self.progress.waiting(None)
            self._since = None
            return
        if self._since is None:
            self._since = now
        waited = now - self._since
        if waited >= self.timeout_s:
            raise NoWorkersError(
                f"no dask worker connected to {self.client.scheduler.address!r} for "
                f"{waited:.0f} s (--worker-timeout {self.timeout_s:g})")
        if self.progress is not None:
            self.progress.waiting(waited, self.timeout_s)


def run_distributed(tasks, client, handle, watch: WorkerWatch | None = None) -> None:
    """Compute ``tasks`` on a dask.distributed cluster, a bounded window in flight.

    While no block is ready, ``watch.idle()`` runs (see :class:`WorkerWatch`).
    """
    from distributed import as_completed  # noqa: PLC0415  (optional: the [distributed] extra)

    window = WINDOW_PER_WORKER * max(1, sum(client.nthreads().values()))
    run_id = uuid.uuid4().hex[:8]
    it = iter(tasks)
    by_key = {}

    def submit(task):
        future = client.submit(compute_block, task, pure=False,
                               key=f"renp-block-{run_id}-{task.target}-{task.index}")
        by_key[future.key] = task
        return future

    pending = as_completed([submit(t) for t in itertools.islice(it, window)], loop=client.loop)
    try:
        while not pending.is_empty():
            ready = pending.next_batch(block=False)
            if not ready:
                if watch is not None:
                    watch.idle()
                time.sleep(POLL_S)
                continue
            for future in ready:
                data = future.result()
                task = by_key.pop(future.key)
                future.release()
                handle(task, data)
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(submit(nxt))
    except BaseException as exc:
        try:
            client.cancel(list(pending.futures))
        except Exception:  # noqa: BLE001  (the scheduler may be gone: nothing left to cancel)
            pass
        if isinstance(exc, Exception) and not isinstance(exc, ClusterError) \
                and _cluster_failure(exc):
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise ClusterError(f"lost the dask scheduler {client.scheduler.address!r} "
                               f"({type(exc).__name__}: {detail})") from None
        raise
