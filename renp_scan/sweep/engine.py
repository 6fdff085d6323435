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

import errno
import functools
import hashlib
import itertools
import math
import os
import queue
import shutil
import signal
import socket
import struct
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._faults import checkpoint
from ..cube.hdf5 import stored_chunk_bytes
from ..cube.layout import TargetLayout, compression_options
from ..cube.lock import LockFile
from ..cube.reader import check_cube, describe_cube
from ..cube.resume import check_finished, open_partial
from ..cube.space import METADATA_HEADROOM, SpaceGuard, StorageError
from ..cube.writer import create_partial
from ..errors import ENVIRONMENT_ERRNOS, ClusterError, InputError
from ..kernels.compile_stats import kernel_compiles
from .blocks import (
    REFERENCE_COST,
    BlockTask,
    CostModel,
    choose_chunk,
    compute_block,
    fill_block,
    measure_cost,
)
from .progress import BlockProgress

#: Blocks per dask graph handed to the local threaded scheduler at once; bounds
#: the scheduler's bookkeeping independently of the cube size.
WAVE_BLOCKS = 512
#: Blocks waiting for the writer, per worker thread (the hand-off window).
WINDOW_PER_WORKER = 2


class ScanInterrupted(Exception):
    """A run stopped by SIGINT or SIGTERM; the partial cube is kept.

    Attributes
    ----------
    signum : int
        The signal received.
    partial : Path
        The kept ``OUT.partial``.
    blocks_done, blocks_total : int
        Progress at the stop.
    """

    def __init__(self, signum: int, partial: Path, blocks_done: int, blocks_total: int):
        self.signum = signum
        self.partial = partial
        self.blocks_done = blocks_done
        self.blocks_total = blocks_total
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {name} after {blocks_done} of {blocks_total} blocks; "
            f"{partial} is kept: rerun the same command to resume")

    @property
    def exit_status(self) -> int:
        """Shell convention 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


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


# ---------------------------------------------------------------- planning


@functools.lru_cache(maxsize=4)
def _user_oscillation_data(path: str, content: bytes):
    """Return the oscillation data of a user file, cached on its path *and content*.

    An edited file is read again: its new hash is what the cube's provenance records.
    """
    from ..model.oscillations import load_oscillation_data

    return load_oscillation_data(path)


def _physics_args(spec) -> dict:
    oscillation_data = _user_oscillation_data(
        spec.oscillation_file, Path(spec.oscillation_file).read_bytes()) \
        if spec.oscillation_file else None
    return dict(density_cm3=float(spec.density_cm3), volume_cm3=float(spec.volume_cm3),
                eta=float(spec.eta), dtype=str(spec.dtype), oscillation_data=oscillation_data,
                level_ratio=spec.level_ratio)


def _target_fields(spec, target: str) -> tuple | None:
    """Return the target's data as (field, value) pairs for the tasks (None: package data)."""
    if not spec.extra_target_files():
        return None
    from ..model.targets import get_target

    data = get_target(target, extra_files=spec.extra_target_files())
    return tuple((name, getattr(data, name)) for name in data.__dataclass_fields__
                 if name != "info")


def _task(spec, layout: TargetLayout, index: int, codec=None) -> BlockTask:
    block = layout.block_labels(index)
    return BlockTask(
        target=layout.name, index=index, hierarchy=block["hierarchy"],
        majorana=block["nature"] == "majorana", channel=block["channel"],
        coulomb_model=block["coulomb_model"], phases_rad=block["phases_rad"],
        m0_eV=block["m0_eV"], omega_eV=block["omega_eV"], codec=codec,
        chunk_shape=(layout.chunk_rows, layout.chunk_cols),
        target_fields=_target_fields(spec, layout.name), **_physics_args(spec))


def _whole_layout(spec, target: str) -> TargetLayout:
    """Return the scan's axes for ``target``, one block per spectrum line (chunks set later).

    Also what a resumed partial's axes are compared with (every dim of
    :data:`~renp_scan.cube.layout.DIMS`, the Coulomb models included).
    """
    return TargetLayout(
        name=target, hierarchies=tuple(spec.hierarchies), natures=tuple(spec.natures),
        channels=tuple(spec.channels), coulomb_models=tuple(spec.coulomb_models),
        phases_rad=np.asarray(spec.majorana_phases_rad, float),
        m0_eV=np.asarray(spec.m0_eV, float), omega_eV=np.asarray(spec.omega_eV[target], float),
        chunk_rows=len(spec.m0_eV), chunk_cols=len(spec.omega_eV[target]))


#: omega points per spectrum line whose rates are checked against the dtype's range.
RANGE_SAMPLE_POINTS = 64
#: Headroom between the largest sampled rate and the dtype's largest value.
RANGE_MARGIN = 1e3


def _check_rate_range(spec, target: str, largest_Hz: float) -> None:
    """Refuse physics settings whose rates would not fit the cube's dtype (no inf stored)."""
    top = float(np.finfo(spec.dtype).max)
    if np.isfinite(largest_Hz) and largest_Hz * RANGE_MARGIN <= top:
        return
    raise InputError("physics.density_cm3", f"rates of {target} reach {largest_Hz:.3g} Hz "
                     f"with n = {spec.density_cm3!r} cm^-3, V = {spec.volume_cm3!r} cm^3, eta = "
                     f"{spec.eta!r}: beyond what {spec.dtype} holds ({top:.3g}, with a margin of "
                     f"{RANGE_MARGIN:g}); lower them or use output.dtype = \"float64\"")


class CompileClock:
    """Wall time [s] of the calls that compiled kernels (a cold Numba cache).

    ``with clock.watch(expected_s):`` around a call adds its wall time less
    ``expected_s`` (the compute it would take compiled) when :func:`kernel_compiles`
    grew during it, and nothing otherwise.
    """

    def __init__(self):
        self.seconds = 0.0
        self.compiles = 0

    @contextmanager
    def watch(self, expected_s: float = 0.0):
        """Time the body as compile time if it compiled kernels (less ``expected_s``)."""
        before = kernel_compiles()
        start = time.perf_counter()
        yield
        compiled = kernel_compiles() - before
        if compiled:
            self.compiles += compiled
            self.seconds += max(0.0, time.perf_counter() - start - expected_s)


def preflight(spec, clock: CompileClock | None = None) -> dict[str, CostModel]:
    """Validate every physics combination of ``spec`` and measure the cost per target.

    Calls :func:`renp_scan.spectrum` once per (target, hierarchy, nature, channel,
    Coulomb model, phase row) at the first m0 and omega, so bad physics input raises
    :class:`InputError` before any file exists, then times the first combination.
    These first calls compile the kernels when Numba's cache is cold: ``clock``
    (optional) collects that time.

    Returns
    -------
    dict of str to CostModel
        Measured single-thread cost per target.
    """
    costs = {}
    for target in spec.targets:
        whole = _whole_layout(spec, target)
        first = None
        # The whole layout has one block per spectrum line: every block is one combination.
        for index in range(whole.n_blocks):
            task = _task(spec, whole, index)
            # A sample of the omega grid at the smallest m0 (the widest phase space): the
            # rates must fit the cube's dtype (float32 overflows long before float64).
            picks = np.unique(np.linspace(0, len(task.omega_eV) - 1,
                                          min(len(task.omega_eV), RANGE_SAMPLE_POINTS)).astype(int))
            probe = BlockTask(**{**task.__dict__, "m0_eV": task.m0_eV[:1],
                                 "omega_eV": task.omega_eV[picks], "dtype": "float64"})
            if clock is None:
                sample = fill_block(probe, np.empty((1, len(picks))))
            else:
                with clock.watch():
                    sample = fill_block(probe, np.empty((1, len(picks))))
            _check_rate_range(spec, target, float(np.max(sample)))
            first = first or task
        costs[target] = measure_cost(first)
    return costs


def plan_layouts(spec, costs: dict[str, CostModel] | None = None,
                 block_rows=None) -> list[TargetLayout]:
    """Chunk (= block) layout of every target for ``spec.block_target_seconds`` per block.

    Sized with :data:`~renp_scan.sweep.blocks.REFERENCE_COST`, never with ``costs``
    (kept for callers; a timing would make the layout differ between runs and
    machines): the layout is a function of the scan alone. ``block_rows`` forces the
    number of m0 rows per block instead (clipped to the grid), for tests and tuning.
    Blocks always span the whole omega grid (see
    :func:`~renp_scan.sweep.blocks.choose_chunk`).
    """
    itemsize = np.dtype(spec.dtype).itemsize
    layouts = []
    for target in spec.targets:
        whole = _whole_layout(spec, target)
        if block_rows is not None:
            rows, cols = min(block_rows, len(whole.m0_eV)), len(whole.omega_eV)
        else:
            rows, cols = choose_chunk(len(whole.m0_eV), len(whole.omega_eV), REFERENCE_COST,
                                      float(spec.block_target_seconds), itemsize)
        layouts.append(TargetLayout(**{**whole.__dict__, "chunk_rows": rows, "chunk_cols": cols}))
    return layouts


@dataclass(frozen=True)
class ScanEstimate:
    """Sizes and expected cost of a scan, for ``renp-scan validate``.

    Attributes
    ----------
    layouts : list of TargetLayout
        Planned axes and blocks per target.
    costs : dict of str to CostModel
        Measured single-thread cost per target.
    n_entries : int
        Entries of the cube.
    raw_bytes : int
        Uncompressed size of all ``rate`` data [bytes].
    file_bytes : int
        Estimated file size [bytes]: :attr:`data_bytes` plus :attr:`metadata_bytes`
        (see :func:`estimate_file_size`).
    cpu_seconds : float
        Estimated single-thread compute time [s].
    encode_seconds : float
        Estimated time to compress and store all blocks [s] (timed on the sample
        blocks).
    workers : int
        Threads the wall-time estimate assumes.
    data_bytes : int
        Estimated stored (compressed) size of all ``rate`` chunks [bytes].
    metadata_bytes : int
        Size of the file without any chunk: axes, provenance, progress [bytes].
    compile_seconds : float
        First-call compile of the kernels [s], measured during this estimate when
        Numba's on-disk cache was cold (0 when it was warm: later runs on this
        machine and cache folder load the compiled kernels instead).
    """

    layouts: list
    costs: dict
    n_entries: int
    raw_bytes: int
    file_bytes: int
    cpu_seconds: float
    encode_seconds: float
    workers: int
    data_bytes: int = 0
    metadata_bytes: int = 0
    compile_seconds: float = 0.0

    @property
    def wall_seconds(self) -> float:
        """Rough wall time on :attr:`workers` threads [s], first-call compile included.

        Compute scales over threads (nogil kernels). Compression is counted as
        serial: lzf/zstd run inside HDF5 in the writer, and the gzip encoding done
        by the workers was measured to gain little from a second thread (CPython
        3.11 ``zlib.compress``; benchmark: 14 s wall for 15 s of compression).
        """
        return self.cpu_seconds / max(1, self.workers) + self.encode_seconds \
            + self.compile_seconds


def estimate_scan(spec, workers: int | None = None) -> ScanEstimate:
    """Validate ``spec``'s physics and estimate its size and run time.

    Computes no cube: one timing sample and :data:`SIZE_SAMPLE_BLOCKS` blocks per
    target only. Kernels compiled on the way (a cold Numba cache) are timed into
    :attr:`ScanEstimate.compile_seconds`.
    """
    workers = default_workers() if workers is None else workers
    clock = CompileClock()
    costs = preflight(spec, clock)
    layouts = plan_layouts(spec, costs)
    cpu = 0.0
    for lay in layouts:
        # Every block costs (at most) a full chunk: edge blocks are counted at full size.
        cpu += lay.n_blocks * costs[lay.name].block_seconds(lay.chunk_rows, lay.chunk_cols)
    n_entries = sum(lay.n_entries for lay in layouts)
    size = estimate_file_size(spec, layouts, costs, clock)
    return ScanEstimate(layouts, costs, n_entries, n_entries * np.dtype(spec.dtype).itemsize,
                        size.file_bytes, cpu, size.encode_seconds, workers,
                        data_bytes=size.data_bytes, metadata_bytes=size.metadata_bytes,
                        compile_seconds=clock.seconds)


def default_workers() -> int:
    """Threads of the embedded scheduler: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------- attributes


def _flatten(prefix: str, value, out: dict) -> None:
    if hasattr(value, "__dataclass_fields__"):
        value = {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}_{key}", item, out)  # CF names: no dots
    elif isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        out[prefix] = value
    elif isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            out[prefix] = arr
        else:
            out[prefix] = str(value)


def physics_provenance(spec) -> dict:
    """Root attributes: scan text and digest, run parameters, constants, oscillation data."""
    from ..model import constants
    from ..model.oscillations import load_oscillation_data

    attrs = {
        "scan_name": spec.name,
        "scan_description": spec.description,
        "scan_path": str(spec.path) if spec.path else "",
        "scan_text": spec.text,
        "scan_sha256": spec.sha256,
        "density_cm3": float(spec.density_cm3),
        "volume_cm3": float(spec.volume_cm3),
        "eta": float(spec.eta),
    }
    for name in dir(constants):
        value = getattr(constants, name)
        if name.isupper() and isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[f"constant_{name}"] = float(value)
    _flatten("oscillation", load_oscillation_data(spec.oscillation_file), attrs)
    if spec.oscillation_file:
        text = Path(spec.oscillation_file).read_bytes()
        attrs["oscillation_file"] = spec.oscillation_file
        attrs["oscillation_file_sha256"] = hashlib.sha256(text).hexdigest()
        attrs["oscillation_file_text"] = text.decode("utf-8", "replace")
    if spec.targets_file:
        text = Path(spec.targets_file).read_bytes()
        attrs["targets_file"] = spec.targets_file
        attrs["targets_file_sha256"] = hashlib.sha256(text).hexdigest()
        attrs["targets_file_text"] = text.decode("utf-8", "replace")
    return attrs


def target_attributes(target_key: str, extra_files=(), level_ratio=None) -> dict:
    """Group attributes of a target: Z, N, isotope, eps_eg_eV, levels_eV, A_ug_per_s, level_ratio.

    ``extra_files`` are user targets files (``scan.targets_file``) searched first;
    ``level_ratio`` is the scan's ``physics.level_ratio`` (None: the target's own). The
    recorded form is compared on resume, so blocks of the two forms never mix.
    """
    from ..model.spectrum import resolve_level_ratio
    from ..model.targets import get_target

    target = get_target(target_key, extra_files=extra_files)
    attrs = {}
    _flatten("t", target, attrs)
    attrs = {k[2:]: v for k, v in attrs.items()}
    attrs["level_ratio"] = resolve_level_ratio(target, level_ratio)
    attrs["levels_eV"] = np.array([target.g_eV, target.e_eV, target.u_eV], dtype=np.float64)
    attrs["eps_eg_eV"] = float(target.eps_eg_eV)
    return attrs


# ---------------------------------------------------------------- runners


class _Stop(BaseException):
    """Raised in the main thread by the signal handler (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _SignalGuard:
    """SIGINT/SIGTERM become :class:`_Stop`, deferred while a block is being written."""

    def __init__(self):
        self.critical = False
        self.pending = None
        self._previous = {}

    def _handler(self, signum, frame):
        if self.critical:
            self.pending = signum
            return
        raise _Stop(signum)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    @contextmanager
    def protect(self):
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending is not None:
            raise _Stop(self.pending)


def _run_threads(tasks, workers: int, handle) -> None:
    """Compute ``tasks`` with dask's threaded scheduler; ``handle(task, data)`` runs here.

    The tasks hand their result to this thread through a bounded queue and return
    None, so dask holds no block data; a producer thread feeds dask one wave of at
    most :data:`WAVE_BLOCKS` tasks at a time.
    """
    import dask.threaded

    handoff = queue.Queue(maxsize=WINDOW_PER_WORKER * workers)
    stop = threading.Event()
    failure = []

    def run_one(task):
        if stop.is_set():
            return None
        data = compute_block(task)
        while True:
            try:
                handoff.put((task, data), timeout=0.05)
                return None
            except queue.Full:
                if stop.is_set():
                    return None

    def producer():
        try:
            it = iter(tasks)
            while not stop.is_set():
                wave = list(itertools.islice(it, WAVE_BLOCKS))
                if not wave:
                    return

                def run_numbered(n, _wave=wave):
                    return run_one(_wave[n])

                # The graph carries plain block numbers (dask leaves ints alone).
                dsk = {("renp-block", n): (run_numbered, n) for n in range(len(wave))}
                dask.threaded.get(dsk, list(dsk), num_workers=workers)
        except BaseException as exc:
            failure.append(exc)
            stop.set()

    thread = threading.Thread(target=producer, name="renp-scan-producer", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = handoff.get(timeout=0.1)
            except queue.Empty:
                if not thread.is_alive():
                    break
                continue
            handle(*item)
    except _Stop:
        stop.set()
        _drain(handoff, handle)
        thread.join()
        _drain(handoff, handle)
        raise
    finally:
        stop.set()
        thread.join()
    if failure:
        raise failure[0]


def _drain(handoff, handle) -> None:
    """Write blocks that were computed before a stop (they are finished work)."""
    while True:
        try:
            item = handoff.get_nowait()
        except queue.Empty:
            return
        handle(*item)


#: Largest first message accepted from a scheduler before it is trusted [bytes]
#: (a dask handshake is ~100 bytes; anything else is not a dask scheduler).
HANDSHAKE_MAX_BYTES = 2**16


def _recv_exactly(sock, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        got = sock.recv(n - len(data))
        if not got:
            raise ConnectionResetError(errno.ECONNRESET, "closed the connection")
        data += got
    return data


def probe_scheduler(address: str, timeout_s: float = 10.0) -> None:
    """Check that a dask scheduler answers at ``address`` (tcp) within ``timeout_s`` in all.

    A dask scheduler sends its handshake (a msgpack dict with ``compression``,
    ``python`` and ``pickle-protocol``, framed by 8-byte little-endian lengths) as soon
    as a connection is accepted. This reads it over a plain socket with one deadline
    for the connect *and* the handshake, so a server that never answers, or one that
    sends something else (an HTTP or SSH banner), is refused with
    :class:`InputError` before ``distributed`` waits on it without a limit or sizes
    a buffer from the banner's bytes. Other schemes (tls, ucx, inproc) are left to
    ``distributed``.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return
    host, _, port = rest.rstrip("/").rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port_n = int(port)
    except ValueError:
        raise InputError("scheduler", f"{address!r} has no port; give tcp://HOST:PORT") from None
    deadline = time.monotonic() + timeout_s
    what = f"no dask scheduler at {address!r}"
    try:
        with socket.create_connection((host, port_n), timeout=timeout_s) as sock:
            size_bytes = _recv_exactly(sock, 8, deadline)
            (size,) = struct.unpack("<Q", size_bytes)
            if not 16 <= size <= HANDSHAKE_MAX_BYTES:
                raise InputError("scheduler", f"{what}: it sent {size_bytes!r}, not a dask "
                                 "handshake (is this the scheduler's port, not the dashboard "
                                 "or another service?)")
            payload = _recv_exactly(sock, size, deadline)
    except TimeoutError:
        raise InputError("scheduler", f"{what}: it sent no dask handshake within "
                         f"{timeout_s:g} s (is this the scheduler's port?)") from None
    except OSError as exc:
        raise InputError("scheduler", f"{what}: {exc.strerror or exc}") from None
    if b"pickle-protocol" not in payload or b"compression" not in payload:
        raise InputError("scheduler", f"{what}: its first message is not a dask handshake "
                         f"({payload[:24]!r})")


def connect_scheduler(address: str, timeout: str = "10s"):
    """Connect a ``distributed.Client`` to a running scheduler; InputError if none answers.

    The connection and the handshake are bounded by ``timeout`` together
    (:func:`probe_scheduler` checks the handshake first).

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``tcp://host:8786``.
    timeout : str
        How long to keep trying to connect (dask time string).
    """
    from dask.utils import parse_timedelta

    try:
        from dask.utils import parse_timedelta
        from distributed import Client
    except ImportError:
        raise InputError("scheduler", "--scheduler needs the distributed package "
                         "(pip install distributed)") from None
    probe_scheduler(address, float(parse_timedelta(timeout)))
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("scheduler",
                         f"cannot connect to a dask scheduler at {address!r}: {exc}") from None


def quiet_cluster_logs() -> None:
    """Keep distributed's own log lines (reconnect attempts, tracebacks) off stderr.

    For the command line, whose every failure is one line; library users keep
    distributed's logging as configured.
    """
    import logging

    try:
        import distributed  # noqa: F401  (configures its loggers at import; override after)
    except ImportError:
        return
    silent = logging.CRITICAL + 1
    names = [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    for name in ("distributed", "tornado", "asyncio", *names):
        logger = logging.getLogger(name)
        logger.setLevel(silent)
        for handler in logger.handlers:
            handler.setLevel(silent)


def _cluster_failure(exc: BaseException) -> bool:
    """Whether ``exc`` means the cluster was lost (not an error of a block's computation)."""
    import asyncio

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


class _WorkerWatch:
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


def _run_distributed(tasks, client, handle, watch: _WorkerWatch | None = None) -> None:
    """Compute ``tasks`` on a dask.distributed cluster, a bounded window in flight.

    While no block is ready, ``watch.idle()`` runs (see :class:`_WorkerWatch`).
    """
    from distributed import as_completed

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


# ---------------------------------------------------------------- run


def _check_output(out: Path, overwrite: bool, scan_sha256: str = "") -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output", f"directory {parent} does not exist")
    if hasattr(os, "ST_RDONLY") and os.statvfs(parent).f_flag & os.ST_RDONLY:
        # The environment, not the input: the same command works once it is writable.
        raise StorageError(errno.EROFS, f"the file system of {str(parent)!r} is read-only "
                           "(mounted ro); nothing was written: make it writable (or write "
                           "elsewhere) and rerun")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError("output", f"directory {parent} is not writable")
    if out.is_dir():
        raise InputError("output", f"{out} is a directory; give a file name such as {out}/cube.h5")
    if partial_path(out).is_symlink():
        raise InputError("output", f"{str(partial_path(out))!r} is a symbolic link; renp_scan "
                         "never writes through a link beside its output: remove it and rerun")
    if out.exists() and not overwrite:
        try:
            check_cube(out, field="output")
            attrs = describe_cube(out)["attrs"]
            if attrs.get("scan_sha256") == scan_sha256:
                what = ("is a finished cube of this scan file computed from other inputs "
                        "(renp_scan or its data files changed since)")
            else:
                what = (f"is a finished cube of another scan ({attrs.get('scan_name')!r}, "
                        f"sha256 {attrs.get('scan_sha256')!s:.12}...)")
        except InputError:
            what = "exists and is not a finished renp_scan cube"
        raise InputError("output", f"{out} {what}; pass --overwrite to replace it")


def _resume_expectations(spec, root_attrs: dict | None = None,
                         target_attrs: dict | None = None) -> dict:
    """Return what a partial (or a finished cube) must hold to be this scan's.

    The keyword arguments of :func:`~renp_scan.cube.writer.open_partial` and
    :func:`~renp_scan.cube.writer.check_finished`:
    the same axes and the same physics data (constants, oscillation data, target
    levels, target and oscillation file hashes) as this run computes with; the scan,
    targets and oscillation file paths may differ (the same file reached from another
    directory).
    """
    if target_attrs is None:
        target_attrs = {t: target_attributes(t, spec.extra_target_files()) for t in spec.targets}
    if root_attrs is None:
        root_attrs = physics_provenance(spec)
    return dict(
        scan_sha256=spec.sha256, layouts=[_whole_layout(spec, t) for t in spec.targets],
        root_attrs={k: v for k, v in root_attrs.items()
                    if k not in ("scan_path", "targets_file", "oscillation_file")},
        target_attrs=target_attrs, dtype=spec.dtype,
        filters=compression_options(spec.compression, spec.compression_level, spec.shuffle))


def finished_cube_of_scan(out, spec) -> bool:
    """Tell whether ``out`` is a finished cube of ``spec`` computed from the same inputs.

    Decided like a resume (:func:`_resume_expectations`): same scan sha256, axes,
    physics data and [output] settings. Anything else (no file, a partial, another
    scan, damage) is False.
    """
    out = Path(out)
    if not out.is_file():
        return False
    try:
        check_cube(out, field="output")
        if describe_cube(out)["attrs"].get("scan_sha256") != spec.sha256:
            return False
        check_finished(out, **_resume_expectations(spec))
    except InputError:
        return False
    return True


def _nothing_to_do(out: Path, spec, start: float) -> RunReport:
    """Return the report of a run whose output already is this scan's finished cube."""
    info = describe_cube(out)
    n_entries = sum(int(np.prod(t["shape"])) for t in info["targets"])
    return RunReport(output=out, blocks_total=info["blocks_total"], blocks_computed=0,
                     n_entries=n_entries, seconds=time.perf_counter() - start,
                     file_bytes=info["file_bytes"], nothing_to_do=True)


#: Blocks per target computed and compressed to estimate a cube's size: the first,
#: middle and last block (smallest to largest m0, first to last hierarchy/nature/channel).
SIZE_SAMPLE_BLOCKS = 3


@dataclass(frozen=True)
class SizeEstimate:
    """Estimated size of a cube file (see :func:`estimate_file_size`).

    Attributes
    ----------
    data_bytes : int
        Stored (compressed) ``rate`` chunks [bytes].
    metadata_bytes : int
        The file without chunks: axes, provenance, progress arrays [bytes].
    encode_seconds : float
        Time to compress and store every block [s], timed on the samples.
    """

    data_bytes: int
    metadata_bytes: int
    encode_seconds: float

    @property
    def file_bytes(self) -> int:
        """Estimated size of the finished file [bytes]."""
        return self.data_bytes + self.metadata_bytes


def _sample_blocks(lay: TargetLayout) -> list[int]:
    """Return the indices of the blocks compressed to estimate ``lay``'s size."""
    n = lay.n_blocks
    return sorted({min(n - 1, k * (n - 1) // max(1, SIZE_SAMPLE_BLOCKS - 1))
                   for k in range(SIZE_SAMPLE_BLOCKS)})


def _metadata_bytes(spec, layouts) -> int:
    """Size of the cube file before any chunk is stored [bytes].

    An empty partial with the real axes and provenance is created in a temporary
    folder and measured (chunk index nodes of the finished file are left out: tens
    of bytes per block).
    """
    import tempfile

    target_attrs = {t: target_attributes(t, spec.extra_target_files(), spec.level_ratio)
                    for t in spec.targets}
    with tempfile.TemporaryDirectory(prefix="renp-scan-estimate-") as folder:
        path = Path(folder) / "skeleton.h5.partial"
        writer = create_partial(path, layouts, target_attrs=target_attrs,
                                root_attrs=physics_provenance(spec), dtype=spec.dtype,
                                compression=spec.compression,
                                compression_level=spec.compression_level, shuffle=spec.shuffle)
        writer.close()
        return path.stat().st_size


def estimate_file_size(spec, layouts, costs=None, clock: CompileClock | None = None
                       ) -> SizeEstimate:
    """Estimate the finished cube's size (for ``validate`` and the free-space check).

    The one estimator of both. Per target, :data:`SIZE_SAMPLE_BLOCKS` blocks spread
    over the block grid are computed and compressed with the scan's [output]
    settings; their stored bytes
    per entry, times the target's entries, estimate its data (the compressibility
    varies with m0 and the spectrum line, hence several samples). Added to that: the
    measured size of the file without chunks (:func:`_metadata_bytes`), which
    dominates small cubes. ``costs`` (per target) lets ``clock`` tell compile time
    from compute in the sample blocks.
    """
    data = encode = 0.0
    for lay in layouts:
        stored = entries = 0
        seconds = 0.0
        for index in _sample_blocks(lay):
            task = _task(spec, lay, index)
            shape = (len(task.m0_eV), len(task.omega_eV))
            expected = costs[lay.name].block_seconds(*shape) if costs else 0.0
            if clock is None:
                block = fill_block(task, np.empty(shape))
            else:
                with clock.watch(expected):
                    block = fill_block(task, np.empty(shape))
            start = time.perf_counter()
            stored += stored_chunk_bytes(block.astype(spec.dtype), spec.dtype, spec.compression,
                                         spec.compression_level, spec.shuffle)
            seconds += time.perf_counter() - start
            entries += block.size
        data += lay.n_entries * stored / entries
        encode += lay.n_entries * seconds / entries
    return SizeEstimate(int(round(data)), _metadata_bytes(spec, layouts), encode)


def estimated_file_bytes(spec, layouts=None) -> int:
    """Estimated size of the finished cube [bytes] (:func:`estimate_file_size`)."""
    if layouts is None:
        layouts = plan_layouts(spec)
    return estimate_file_size(spec, layouts).file_bytes


def _check_space(out: Path, spec, kept_bytes: int) -> None:
    """Refuse a scan whose cube cannot fit in the free space of the output's file system.

    ``kept_bytes`` is the size of a partial this run resumes (already on disk).
    """
    need = max(0, estimated_file_bytes(spec) + 2 * METADATA_HEADROOM - kept_bytes)
    free = shutil.disk_usage(out.parent if str(out.parent) else ".").free
    if need > free:
        how = "" if spec.compression == "none" else f" (estimated, {spec.compression})"
        raise InputError("output", f"the cube needs about {need / 1e9:.3g} GB{how} but "
                         f"{out.parent if str(out.parent) else '.'} has {free / 1e9:.3g} GB "
                         "free; shrink the grids, free space or write elsewhere")


def _environment_failure(exc, created: bool, writer, partial: Path) -> BaseException:
    """Build the error for a run the environment failed: what is kept and how to resume.

    Storage (disk full, quota, read-only, I/O), memory and cluster failures are not
    bad input: the partial keeps every block written, and the message says so.
    """
    done = writer.n_done() if writer is not None else 0
    total = writer.n_blocks() if writer is not None else 0
    code = getattr(exc, "errno", None)
    if isinstance(exc, MemoryError):
        fix = "free memory (or raise ulimit -v)"
    elif isinstance(exc, NoWorkersError):
        fix = "start workers (or run without --scheduler)"
    elif isinstance(exc, ClusterError):
        fix = "restart the scheduler (or run without --scheduler)"
    elif code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free space (or raise the limit)"
    elif code == errno.EROFS:
        fix = "make the file system writable"
    else:
        fix = "fix the cause"
    if created and done == 0:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        kept = f"nothing was kept; {fix} and run again"
    else:
        kept = (f"{done} of {total} blocks are kept in {partial}: {fix} and rerun the same "
                "command to resume")
    if isinstance(exc, MemoryError):
        detail = " ".join(str(exc).split())
        return MemoryError(f"{detail}; {kept}" if detail else kept)
    if isinstance(exc, ClusterError):
        return type(exc)(f"{exc}; {kept}")
    if isinstance(exc, StorageError):
        return type(exc)(exc.errno, f"{exc.strerror}; {kept}")
    where = f" ({exc.filename})" if exc.filename is not None else ""
    return StorageError(exc.errno, f"{exc.strerror or exc}{where}; {kept}")


def _check_worker_timeout(seconds) -> None:
    """Refuse a ``worker_timeout_s`` that is not a positive number of seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not seconds > 0:
        raise InputError("worker_timeout", f"must be a number of seconds > 0 (inf: wait for "
                         f"ever), got {seconds!r}")


def partial_path(output) -> Path:
    """``OUT.partial`` beside ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".partial")


def lock_path(output) -> Path:
    """``OUT.lock`` beside ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".lock")


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
        place, :mod:`renp_scan.sweep.executors`); ``handle(task, None)`` counts a
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
        target_attrs = {t: target_attributes(t, spec.extra_target_files(), spec.level_ratio)
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
        tasks = (_task(spec, lay, int(i), codec) for lay, idx, codec in todo for i in idx)
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

