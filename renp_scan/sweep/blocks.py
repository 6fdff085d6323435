"""Blocks: the unit of work of a sweep, their size, and the task that computes one.

A block is one HDF5 chunk of a target's ``rate`` (see
:class:`renp_scan.cube.layout.TargetLayout`): a fixed (hierarchy, nature, channel,
Coulomb model, Majorana phase row), a range of m0 rows and the whole omega grid. Its task
calls :func:`renp_scan.spectrum` once per m0 row, writing straight into that row of
the block (``out=``). The kernels underneath are serial and release the GIL
(``nogil=True``, ``parallel=False``): all parallelism lives in dask, one block per
thread or worker.

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
from dataclasses import dataclass

import numpy as np

from .._faults import checkpoint
from ..cube.layout import ChunkCodec
from ..model.spectrum import spectrum

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
    """Everything one block needs, as plain picklable values (sent to dask workers).

    Attributes
    ----------
    target : str
        Target key (cube group).
    index : int
        Block number within the target (C order over the chunk grid).
    hierarchy : {"NH", "IH"}
    majorana : bool
    channel : {"nucleus", "core"}
    phases_rad : (float, float)
        (alpha21, alpha31) [rad].
    m0_eV : ndarray
        The block's m0 rows [eV].
    omega_eV : ndarray
        The block's omega columns [eV].
    density_cm3, volume_cm3, eta : float
        Target density [cm^-3], volume [cm^3], extractable fraction.
    dtype : str
        Storage dtype of the cube.
    coulomb_model : {"thomas-fermi", "valence"}
        Model of the Coulomb integrals, passed to :func:`renp_scan.spectrum`.
    codec : ChunkCodec, optional
        When given, the task returns the chunk encoded for direct storage
        (compression happens in the worker, not in the single writer).
    chunk_shape : (int, int), optional
        Full chunk extent (m0 rows, omega columns), needed with ``codec``.
    oscillation_data : OscillationData, optional
        A user oscillation-data table (``physics.oscillation_file``); None uses the
        package's.
    level_ratio : {"eq19", "eq23-printed"}, optional
        Form of the level ratio R of F(omega) (``physics.level_ratio``), passed to
        :func:`renp_scan.spectrum`; None uses the target's own.
    target_fields : tuple of (str, value) pairs, optional
        The target's data (the fields of :class:`renp_scan.model.targets.Target`
        but ``info``), so a worker computes with exactly the levels the client
        resolved (e.g. from a user targets file it cannot read); None looks
        ``target`` up in the package data.
    """

    target: str
    index: int
    hierarchy: str
    majorana: bool
    channel: str
    phases_rad: tuple
    m0_eV: np.ndarray
    omega_eV: np.ndarray
    density_cm3: float
    volume_cm3: float
    eta: float
    dtype: str = "float64"
    coulomb_model: str = "thomas-fermi"
    codec: ChunkCodec | None = None
    chunk_shape: tuple | None = None
    target_fields: tuple | None = None
    oscillation_data: object | None = None
    level_ratio: str | None = None

    @property
    def atom(self):
        """What to pass as ``atom`` to :func:`renp_scan.spectrum`: a Target or the key."""
        if self.target_fields is None:
            return self.target
        from ..model.targets import Target

        return Target(**dict(self.target_fields))

    @property
    def n_points(self) -> int:
        """Number of cube entries in the block."""
        return len(self.m0_eV) * len(self.omega_eV)


def fill_block(task: BlockTask, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (shape (len(m0_eV), len(omega_eV))) with Gamma [Hz] (eqs. 18-23).

    Each row is written in place by :func:`renp_scan.spectrum` with the same
    arguments a user would pass, so a cube entry equals the direct call bit for bit.
    """
    omega = np.ascontiguousarray(task.omega_eV, dtype=np.float64)
    atom = task.atom
    for row, m0 in enumerate(task.m0_eV):
        spectrum(atom, omega, float(m0), hierarchy=task.hierarchy,
                 majorana=task.majorana, channel=task.channel,
                 density_cm3=task.density_cm3, volume_cm3=task.volume_cm3,
                 eta=task.eta, majorana_phases_rad=task.phases_rad,
                 coulomb_model=task.coulomb_model,
                 oscillation_data=task.oscillation_data, out=out[row],
                 level_ratio=task.level_ratio)
    return out


def compute_block(task: BlockTask):
    """Compute one block for the writer (the dask task): Gamma(omega) [Hz].

    Returns
    -------
    ndarray, shape (len(m0_eV), len(omega_eV)), or bytes
        The values in the cube's dtype, or, with ``task.codec``, the encoded chunk.
    """
    # a float32 cube is computed by spectrum()'s float32 path (single-precision roots)
    out = fill_block(task, np.empty((len(task.m0_eV), len(task.omega_eV)), dtype=task.dtype))
    finite = np.isfinite(out)
    if not finite.all():
        # A cube never holds NaN or inf (NaN means "never written"): refuse to store it.
        row, col = np.argwhere(~finite)[0]
        raise FloatingPointError(
            f"rate of {task.target} ({task.hierarchy}, "
            f"{'majorana' if task.majorana else 'dirac'}, {task.channel}, "
            f"{task.coulomb_model}, phases "
            f"{task.phases_rad}) is not finite ({out[row, col]}) at m0 = "
            f"{float(task.m0_eV[row])!r} eV, omega = {float(task.omega_eV[col])!r} eV; block "
            f"{task.index} "
            "not stored (a bug: please report it)")
    checkpoint("block-computed")
    if task.codec is not None:
        return task.codec.encode(out, *task.chunk_shape, dtype=task.dtype)
    return out


def measure_cost(task: BlockTask, sample_points: int = 256, repeats: int = 5) -> CostModel:
    """Time :func:`renp_scan.spectrum` for the first m0 of ``task`` (after a warm-up call).

    Parameters
    ----------
    task : BlockTask
        Supplies the physics arguments and an omega grid to sample from.
    sample_points : int
        Omega points of the long timing call.
    repeats : int
        Timings repeated; the minimum is kept (least disturbed by other load).
    """
    step = max(1, len(task.omega_eV) // sample_points)
    sample = np.ascontiguousarray(task.omega_eV[::step][:sample_points], dtype=np.float64)
    kwargs = dict(hierarchy=task.hierarchy, majorana=task.majorana, channel=task.channel,
                  density_cm3=task.density_cm3, volume_cm3=task.volume_cm3, eta=task.eta,
                  majorana_phases_rad=task.phases_rad, coulomb_model=task.coulomb_model,
                  oscillation_data=task.oscillation_data, level_ratio=task.level_ratio)
    m0 = float(task.m0_eV[0])
    atom = task.atom

    calls = iter(range(10**6))

    def best_time(omega):
        out = np.empty(len(omega))
        best = math.inf
        for _ in range(repeats):
            # A fresh m0 each call: a block's rows have distinct m0, so the model
            # cache of renp_scan.spectrum misses there too.
            m0_call = m0 + 1e-9 * next(calls)
            start = time.perf_counter()
            spectrum(atom, omega, m0_call, out=out, **kwargs)
            best = min(best, time.perf_counter() - start)
        return best

    best_time(sample[:1])  # warm-up: JIT compile or load the on-disk cache
    t_one = best_time(sample[:1])
    if len(sample) < 2:
        return CostModel(call_s=max(t_one, 1e-7), point_s=max(t_one, 1e-9))
    t_many = best_time(sample)
    point_s = max((t_many - t_one) / (len(sample) - 1), 1e-9)
    return CostModel(call_s=max(t_one - point_s, 1e-7), point_s=point_s)
