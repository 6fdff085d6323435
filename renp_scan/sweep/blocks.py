"""Blocks: the unit of work of a sweep, their size, and the task that computes one.

A block is one HDF5 chunk of a target's ``rate`` (see
:class:`renp_scan.cube.layout.TargetLayout`): a fixed (hierarchy, nature, channel,
Coulomb model, Majorana phase row), a range of m0 rows and the whole omega grid. Its task
carries the target and the block's :class:`~renp_scan.model.physics.Physics` and calls
the model once per m0 row (:func:`~renp_scan.model.spectrum.rate_line`, the work of
:func:`renp_scan.spectrum`), writing straight into that row of the block (``out=``).
The kernels underneath are serial and release the GIL (``nogil=True``,
``parallel=False``): all parallelism lives in dask, one block per thread or worker.

Block size is chosen from a fixed reference cost model (:data:`REFERENCE_COST`) so
that one block takes about ``block_target_seconds`` (0.1-1 s) on a reference core:
large enough that dask's per-task overhead (~100 us) and the per-chunk HDF5 cost are
negligible, small enough that progress, Ctrl-C and resume are fine-grained and memory
stays at a few blocks. The reference is a constant, never a timing, so the block
(= chunk) layout follows from the scan alone: every run of one scan, on any machine,
makes the same chunks (required by ``--shard``, whose pieces must fit together, and
for byte-reproducible cubes). The measured cost (:func:`measure_cost`) only feeds the
run-time estimate of ``renp-scan validate``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from .._faults import checkpoint
from ..cube.layout import ChunkCodec, TargetLayout
from ..model.physics import Physics
from ..model.spectrum import rate_line
from ..model.targets import Target

#: Largest chunk (= block) in bytes: keeps reading one spectrum line cheap and the
#: in-flight window of blocks small in memory.
MAX_CHUNK_BYTES = 4 * 2**20


@dataclass(frozen=True)
class CostModel:
    """Cost of :func:`renp_scan.spectrum` on one thread (measured, or :data:`REFERENCE_COST`).

    Attributes
    ----------
    call_s : float
        Fixed cost of one call (argument checks, model lookup) [s].
    point_s : float
        Cost per omega point [s].
    """

    call_s: float
    point_s: float

    def block_seconds(self, rows: int, cols: int) -> float:
        """Estimated time [s] of a block of ``rows`` m0 values by ``cols`` omega values."""
        return rows * (self.call_s + cols * self.point_s)


#: Cost of :func:`renp_scan.spectrum` on the reference core that block sizes assume:
#: the order of what :func:`measure_cost` finds for the shipped targets on a current
#: x86-64 core (33-40 us per call, 1-3 ns per omega point; ``renp-scan validate``
#: prints the local values). Changing it changes the chunk shapes of new cubes.
REFERENCE_COST = CostModel(call_s=40e-6, point_s=3e-9)


def _balanced(n: int, size: int) -> int:
    """Largest-first split of ``n`` into equal parts no bigger than ``size``."""
    parts = math.ceil(n / max(1, size))
    return math.ceil(n / parts)


def choose_chunk(n_m0: int, n_omega: int, cost: CostModel, target_seconds: float,
                 itemsize: int = 8, max_chunk_bytes: int = MAX_CHUNK_BYTES) -> tuple[int, int]:
    """Block (= chunk) extent (rows along m0, cols along omega) for ~``target_seconds``.

    A block always spans the whole omega grid (``cols == n_omega``): each cube row is
    then one :func:`renp_scan.spectrum` call on exactly the cube's omega grid, which
    is what makes the cube equal that call bit for bit. (The kernel's vectorised
    loop can differ in the last bits between an omega array and slices of it, so
    splitting omega would break that identity.) Only the number of m0 rows is sized:
    about ``target_seconds`` of work and at most ``max_chunk_bytes``, but at least one
    row, so a single row of a huge omega grid makes a larger chunk.

    Parameters
    ----------
    n_m0, n_omega : int
        Grid sizes.
    cost : CostModel
        Measured cost of one call and one point.
    target_seconds : float
        Wanted time per block [s].
    itemsize : int
        Bytes per stored value (8 for float64, 4 for float32).
    max_chunk_bytes : int
        Upper bound on the chunk size in bytes when more than one row fits.

    Returns
    -------
    (int, int)
        ``(rows, n_omega)`` with 1 <= rows <= n_m0.
    """
    rows = int(target_seconds / cost.block_seconds(1, n_omega))
    rows = max(1, min(rows, n_m0, max_chunk_bytes // (itemsize * n_omega)))
    return _balanced(n_m0, rows), n_omega


@dataclass(frozen=True)
class BlockTask:
    """Everything one block needs, picklable (sent to dask workers).

    Attributes
    ----------
    atom : Target
        The target, as the client resolved it (a worker may not be able to read a
        user targets file).
    index : int
        Block number within the target (C order over the chunk grid).
    physics : Physics
        The block's physics: its (hierarchy, nature, channel, Coulomb model, phase row)
        and the scan-wide settings.
    m0_eV : ndarray
        The block's m0 rows [eV].
    omega_eV : ndarray
        The block's omega columns [eV].
    dtype : str
        Storage dtype of the cube.
    codec : ChunkCodec, optional
        When given, the task returns the chunk encoded for direct storage
        (compression happens in the worker, not in the single writer).
    chunk_shape : (int, int), optional
        Full chunk extent (m0 rows, omega columns), needed with ``codec``.
    """

    atom: Target
    index: int
    physics: Physics
    m0_eV: np.ndarray
    omega_eV: np.ndarray
    dtype: str = "float64"
    codec: ChunkCodec | None = None
    chunk_shape: tuple | None = None

    @property
    def target(self) -> str:
        """Target key (the cube group)."""
        return self.atom.name

    @property
    def n_points(self) -> int:
        """Number of cube entries in the block."""
        return len(self.m0_eV) * len(self.omega_eV)

    def describe(self) -> str:
        """Return the block's physics point in words, for messages."""
        p = self.physics
        return (f"{self.target} ({p.hierarchy}, {'majorana' if p.majorana else 'dirac'}, "
                f"{p.channel}, {p.coulomb_model}, phases {p.majorana_phases_rad})")


def block_task(spec, layout: TargetLayout, index: int, codec: ChunkCodec | None = None
               ) -> BlockTask:
    """Return the task of block ``index`` of ``layout`` in the scan ``spec`` (a ScanSpec).

    The block's labels (hierarchy, nature, channel, Coulomb model, phase row) replace the
    axis fields of the scan's :attr:`~renp_scan.sweep.scanfile.ScanSpec.physics`; the
    target is the scan's resolved :class:`~renp_scan.model.targets.Target`.
    """
    block = layout.block_labels(index)
    physics = replace(spec.physics, hierarchy=block["hierarchy"], majorana=block["nature"],
                      channel=block["channel"], coulomb_model=block["coulomb_model"],
                      majorana_phases_rad=block["phases_rad"])
    return BlockTask(atom=spec.atoms[layout.name], index=index, physics=physics,
                     m0_eV=block["m0_eV"], omega_eV=block["omega_eV"], dtype=str(spec.dtype),
                     codec=codec, chunk_shape=(layout.chunk_rows, layout.chunk_cols))


def fill_block(task: BlockTask, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (shape (len(m0_eV), len(omega_eV))) with Gamma [Hz] (eqs. 18-23).

    Each row is written in place by :func:`~renp_scan.model.spectrum.rate_line`, the
    work of :func:`renp_scan.spectrum` for the same settings, so a cube entry equals the
    direct call bit for bit.
    """
    omega = np.ascontiguousarray(task.omega_eV, dtype=np.float64)
    for row, m0 in enumerate(task.m0_eV):
        rate_line(task.atom, omega, float(m0), task.physics, out=out[row])
    return out


def compute_block(task: BlockTask, take=None):
    """Compute one block for the writer (the dask task): Gamma(omega) [Hz].

    Parameters
    ----------
    task : BlockTask
        The block.
    take : callable, optional
        ``take(nbytes) -> uint8 ndarray`` of that length, for the block's values and
        its encoding (default: new arrays). The local runner lends reused memory:
        fresh pages cost a page fault each, about as much as computing the values.

    Returns
    -------
    ndarray, shape (len(m0_eV), len(omega_eV)), or EncodedChunk
        The values in the cube's dtype, or, with ``task.codec``, the encoded chunk;
        either may hold memory from ``take``.
    """
    shape, dtype = (len(task.m0_eV), len(task.omega_eV)), np.dtype(task.dtype)
    values = np.empty(shape, dtype) if take is None else \
        take(math.prod(shape) * dtype.itemsize).view(dtype).reshape(shape)
    # a float32 cube is computed by spectrum()'s float32 path (single-precision roots)
    out = fill_block(task, values)
    finite = np.isfinite(out)
    if not finite.all():
        # A cube never holds NaN or inf (NaN means "never written"): refuse to store it.
        row, col = np.argwhere(~finite)[0]
        raise FloatingPointError(
            f"rate of {task.describe()} is not finite ({out[row, col]}) at m0 = "
            f"{float(task.m0_eV[row])!r} eV, omega = {float(task.omega_eV[col])!r} eV; block "
            f"{task.index} "
            "not stored (a bug: please report it)")
    checkpoint("block-computed")
    if task.codec is not None:
        return task.codec.encode(out, *task.chunk_shape, dtype=task.dtype, take=take)
    return out


def measure_cost(task: BlockTask, sample_points: int = 256, repeats: int = 5) -> CostModel:
    """Time the model for the first m0 of ``task`` (after a warm-up call).

    Parameters
    ----------
    task : BlockTask
        Supplies the target, the physics and an omega grid to sample from.
    sample_points : int
        Omega points of the long timing call.
    repeats : int
        Timings repeated; the minimum is kept (least disturbed by other load).
    """
    step = max(1, len(task.omega_eV) // sample_points)
    sample = np.ascontiguousarray(task.omega_eV[::step][:sample_points], dtype=np.float64)
    m0 = float(task.m0_eV[0])

    calls = iter(range(10**6))

    def best_time(omega):
        out = np.empty(len(omega))
        best = math.inf
        for _ in range(repeats):
            # A fresh m0 each call: a block's rows have distinct m0, so the model
            # cache of renp_scan.spectrum misses there too.
            m0_call = m0 + 1e-9 * next(calls)
            start = time.perf_counter()
            rate_line(task.atom, omega, m0_call, task.physics, out=out)
            best = min(best, time.perf_counter() - start)
        return best

    best_time(sample[:1])  # warm-up: JIT compile or load the on-disk cache
    t_one = best_time(sample[:1])
    if len(sample) < 2:
        return CostModel(call_s=max(t_one, 1e-7), point_s=max(t_one, 1e-9))
    t_many = best_time(sample)
    point_s = max((t_many - t_one) / (len(sample) - 1), 1e-9)
    return CostModel(call_s=max(t_one - point_s, 1e-7), point_s=point_s)
