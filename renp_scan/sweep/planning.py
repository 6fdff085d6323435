"""Planning a scan: its blocks, a validation of every physics combination, the estimator.

Before any file exists a run (and ``renp-scan validate``) calls :func:`preflight`,
which computes one spectrum line per (target, hierarchy, nature, channel, Coulomb
model, phase row) so that bad physics input is refused early and the rates are
checked against the cube's dtype; :func:`plan_layouts` chooses the blocks; the
estimator computes a few sample blocks to size the finished file.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..cube.hdf5 import stored_chunk_bytes
from ..cube.layout import TargetLayout
from ..cube.writer import create_partial
from ..errors import InputError
from ..kernels.compile_stats import kernel_compiles
from .blocks import (
    REFERENCE_COST,
    CostModel,
    block_task,
    choose_chunk,
    fill_block,
    measure_cost,
)
from .provenance import physics_provenance, target_attributes

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
                     f"with n = {spec.physics.density_cm3!r} cm^-3, V = "
                     f"{spec.physics.volume_cm3!r} cm^3, eta = {spec.physics.eta!r}: "
                     f"beyond what {spec.dtype} holds ({top:.3g}, with a margin of "
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
        whole = spec.layout(target)
        first = None
        # The whole layout has one block per spectrum line: every block is one combination.
        for index in range(whole.n_blocks):
            task = block_task(spec, whole, index)
            # A sample of the omega grid at the smallest m0 (the widest phase space): the
            # rates must fit the cube's dtype (float32 overflows long before float64).
            picks = np.unique(np.linspace(0, len(task.omega_eV) - 1,
                                          min(len(task.omega_eV), RANGE_SAMPLE_POINTS)).astype(int))
            probe = replace(task, m0_eV=task.m0_eV[:1], omega_eV=task.omega_eV[picks],
                            dtype="float64")
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
        whole = spec.layout(target)
        if block_rows is not None:
            rows, cols = min(block_rows, len(whole.m0_eV)), len(whole.omega_eV)
        else:
            rows, cols = choose_chunk(len(whole.m0_eV), len(whole.omega_eV), REFERENCE_COST,
                                      float(spec.block_target_seconds), itemsize)
        layouts.append(spec.layout(target, rows, cols))
    return layouts


def default_workers() -> int:
    """Threads of the embedded scheduler: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


#: Blocks per target computed and compressed to estimate a cube's size: the first,
#: middle and last block (smallest to largest m0, first to last hierarchy/nature/channel).
SIZE_SAMPLE_BLOCKS = 3


@dataclass(frozen=True)
class ScanEstimate:
    """Sizes and expected cost of a scan (see :func:`estimate_scan`).

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
    cpu_seconds: float
    encode_seconds: float
    workers: int
    data_bytes: int
    metadata_bytes: int
    compile_seconds: float = 0.0

    @property
    def file_bytes(self) -> int:
        """Estimated size of the finished file [bytes]: data plus metadata."""
        return self.data_bytes + self.metadata_bytes

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


def estimate_scan(spec, workers: int | None = None,
                  costs: dict[str, CostModel] | None = None) -> ScanEstimate:
    """Estimate the size and run time of ``spec``'s cube (for ``validate`` and a run).

    The one estimator of the scan's file size: ``renp-scan validate`` prints it and
    a run checks it against the free disk. Computes no cube. Without ``costs`` the
    physics is validated first (:func:`preflight`, one timing sample per target);
    a run passes the costs of its own preflight. Per target,
    :data:`SIZE_SAMPLE_BLOCKS` blocks spread over the block grid are computed and
    compressed with the scan's [output] settings; their stored bytes per entry,
    times the target's entries, estimate its data (the compressibility varies with
    m0 and the spectrum line, hence several samples). Added to that: the measured
    size of the file without chunks (:func:`_metadata_bytes`), which dominates
    small cubes. Kernels compiled on the way (a cold Numba cache) are timed into
    :attr:`ScanEstimate.compile_seconds`.
    """
    workers = default_workers() if workers is None else workers
    clock = CompileClock()
    if costs is None:
        costs = preflight(spec, clock)
    layouts = plan_layouts(spec, costs)
    cpu = data = encode = 0.0
    for lay in layouts:
        # Every block costs (at most) a full chunk: edge blocks are counted at full size.
        cpu += lay.n_blocks * costs[lay.name].block_seconds(lay.chunk_rows, lay.chunk_cols)
        stored, seconds, entries = _encode_samples(spec, lay, costs[lay.name], clock)
        data += lay.n_entries * stored / entries
        encode += lay.n_entries * seconds / entries
    n_entries = sum(lay.n_entries for lay in layouts)
    return ScanEstimate(layouts, costs, n_entries, n_entries * np.dtype(spec.dtype).itemsize,
                        cpu, encode, workers, data_bytes=int(round(data)),
                        metadata_bytes=_metadata_bytes(spec, layouts),
                        compile_seconds=clock.seconds)


#: Bytes per block allowed for its progress entries (13 bytes) and its chunk-index
#: record (a B-tree entry of about 80 bytes for the 7-D chunk key).
BOUND_BLOCK_BYTES = 256
#: Bytes per target allowed for its attributes and object headers.
BOUND_TARGET_BYTES = 2**16
#: Bytes allowed for the superblock, provenance and CF attributes. (The empty partials of
#: the shipped scans hold 27-54 kB besides their arrays, one to three targets each.)
BOUND_FILE_BYTES = 2**18


def file_bytes_bound(spec, layouts) -> int:
    """Upper bound on the finished cube's size [bytes] from its layout, computing nothing.

    Every block at :meth:`~renp_scan.cube.layout.TargetLayout.stored_chunk_bound`, twice
    the coordinate arrays, and the per-block, per-target and per-file allowances above
    (their measured values are a few times smaller; ``tests/test_front_runtime.py``
    checks the bound against :func:`estimate_scan` and written files). A run checks this
    first: where it fits the free disk, the sample blocks of :func:`estimate_scan` are
    not needed.
    """
    itemsize = np.dtype(spec.dtype).itemsize
    total = BOUND_FILE_BYTES
    for lay in layouts:
        coordinates = 8 * (len(lay.m0_eV) + len(lay.omega_eV) + 3 * len(lay.phases_rad))
        total += (lay.n_blocks * (lay.stored_chunk_bound(itemsize) + BOUND_BLOCK_BYTES)
                  + 2 * coordinates + BOUND_TARGET_BYTES)
    return total


def _sample_blocks(lay: TargetLayout) -> list[int]:
    """Return the indices of the blocks compressed to estimate ``lay``'s size."""
    n = lay.n_blocks
    return sorted({min(n - 1, k * (n - 1) // max(1, SIZE_SAMPLE_BLOCKS - 1))
                   for k in range(SIZE_SAMPLE_BLOCKS)})


def _encode_samples(spec, lay: TargetLayout, cost: CostModel, clock: CompileClock
                    ) -> tuple[int, float, int]:
    """Compute and compress the sample blocks of ``lay``: (stored bytes, seconds, entries).

    ``cost`` tells ``clock`` the compute a compiled block takes, so that only a
    first call's compile counts as compile time.
    """
    stored = entries = 0
    seconds = 0.0
    for index in _sample_blocks(lay):
        task = block_task(spec, lay, index)
        shape = (len(task.m0_eV), len(task.omega_eV))
        with clock.watch(cost.block_seconds(*shape)):
            block = fill_block(task, np.empty(shape))
        start = time.perf_counter()
        stored += stored_chunk_bytes(block.astype(spec.dtype), spec.dtype, spec.compression,
                                     spec.compression_level, spec.shuffle)
        seconds += time.perf_counter() - start
        entries += block.size
    return stored, seconds, entries


def _metadata_bytes(spec, layouts) -> int:
    """Size of the cube file before any chunk is stored [bytes].

    An empty partial with the real axes and provenance is created in a temporary
    folder and measured (chunk index nodes of the finished file are left out: tens
    of bytes per block).
    """
    target_attrs = {t: target_attributes(spec.atoms[t], spec.physics)
                    for t in spec.targets}
    with tempfile.TemporaryDirectory(prefix="renp-scan-estimate-") as folder:
        path = Path(folder) / "skeleton.h5.partial"
        writer = create_partial(path, layouts, target_attrs=target_attrs,
                                root_attrs=physics_provenance(spec), dtype=spec.dtype,
                                compression=spec.compression,
                                compression_level=spec.compression_level, shuffle=spec.shuffle)
        writer.close()
        return path.stat().st_size
