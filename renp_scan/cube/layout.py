"""The cube's HDF5 layout: names, units, chunk grid and compression settings.

A cube is one HDF5 file, netCDF-4 compatible (every dataset of a target group has
its dimensions attached as HDF5 dimension scales), holding:

* one group per target (``/Cs``, ``/Xe``, ...) with the variable ``rate`` [Hz] of
  dims ``(hierarchy, nature, channel, coulomb_model, phase, m0, omega)`` and its
  coordinate variables (see :data:`DIMS`, :data:`VARIABLE_ATTRS`);
* a group ``/_progress/<target>`` with the per-block done mask ``done`` on dim
  ``block`` (uint8, one entry per chunk of ``rate``), which lets a killed run
  resume, and ``crc32`` (uint32), the checksum of each stored chunk, which lets a
  resume detect damaged data (bookkeeping, not physics data: its attributes
  :data:`PROGRESS_ATTRS` say so to anyone browsing the file);
* the file-level attributes: the CF globals (:func:`cf_globals`) and the
  provenance (see :mod:`renp_scan.cube.schema`). Every attribute name is CF-legal
  (letters, digits, underscores; :func:`is_cf_name`).

A *block* (the unit of work of the sweep engine) is exactly one HDF5 chunk of
``rate``: a fixed (hierarchy, nature, channel, coulomb_model, phase), a range of m0
rows and a range of omega columns. Blocks are numbered in C order over the chunk grid.

The full format is documented in ``docs/cube_format.md``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import filters

#: Value of the root attribute ``format`` that marks a renp_scan cube.
FORMAT_NAME = "renp_scan.cube"
#: Integer version of the layout described here; bumped on any incompatible change
#: (2: the ``coulomb_model`` dimension was added; 3: CF-1.11 globals and attribute
#: names without dots). Version 1 cubes are refused.
FORMAT_VERSION = 3
#: Versions whose finished cubes are read (the target groups of 2 and 3 are the
#: same; 2 differs only in file attribute names). Partials resume only at
#: :data:`FORMAT_VERSION`.
READABLE_VERSIONS = (2, 3)
#: CF version the cubes follow (root attribute ``Conventions``).
CONVENTIONS = "CF-1.11"
#: Root attribute ``references``: the physics every value of ``rate`` comes from.
REFERENCES = ("M. Yoshimura and N. Sasao, Radiative emission of neutrino pair from nucleus "
              "and inner core electrons in heavy atoms, Phys. Rev. D 89, 053013 (2014), "
              "arXiv:1310.6472")

#: Root attribute ``rate_normalisation``: what the absolute scale of ``rate`` rests on.
RATE_NORMALISATION = (
    "absolute scale of the paper (Yoshimura & Sasao, arXiv:1310.6472, eqs. 18-23) as printed; "
    "the time orderings of its amplitude cancel for a static point nucleus and long-wavelength "
    "neutrinos, so physical rates are expected to be far smaller (docs/physics.md)")

#: Dimension order of ``rate`` in every target group.
DIMS = ("hierarchy", "nature", "channel", "coulomb_model", "phase", "m0", "omega")
#: The dims a block spans in part (chunked); every other dim has chunk extent 1.
ROW_DIM, COLUMN_DIM = "m0", "omega"
#: Name of the data variable.
RATE = "rate"
#: Auxiliary coordinates on dim ``phase`` (listed in ``rate``'s ``coordinates`` attribute).
PHASE_COORDS = ("alpha21_rad", "alpha31_rad")
#: Group that holds the done masks, one subgroup per target.
PROGRESS_GROUP = "_progress"
#: Name of the done-mask dataset and of its dimension.
DONE = "done"
BLOCK_DIM = "block"
#: Per-block CRC-32 of the stored (filtered) chunk bytes, checked on resume.
CRC = "crc32"

#: (units, long_name) of every variable the layout writes; units None: no ``units``
#: attribute (string labels have none under CF).
VARIABLE_ATTRS = {
    RATE: ("Hz", "RENP photon spectral rate Gamma(omega) (Yoshimura & Sasao eqs. 18-23)"),
    "hierarchy": (None, "neutrino mass ordering (NH normal, IH inverted)"),
    "nature": (None, "neutrino nature (majorana or dirac)"),
    "channel": (None, "neutrino-pair emitter (nucleus: Q_w J_N, core: b_ij J_C)"),
    "coulomb_model": (None, "model of the Coulomb integrals J_N, J_C (thomas-fermi: the paper's "
                            "TF estimate, eqs. 10, 15; valence: valence-orbital matrix elements)"),
    "phase": ("1", "index of the Majorana phase row"),
    "alpha21_rad": ("rad", "Majorana phase alpha21"),
    "alpha31_rad": ("rad", "Majorana phase alpha31"),
    "m0": ("eV", "smallest neutrino mass m0"),
    "omega": ("eV", "photon energy omega"),
    BLOCK_DIM: ("1", "block (chunk of rate) index, C order over the chunk grid"),
    DONE: ("1", "1 where the block has been computed and flushed"),
    CRC: ("1", "CRC-32 (zlib) of the block's filter mask and stored chunk bytes, set before "
               "its done flag"),
}

#: Attributes of ``/_progress`` and its subgroups: it is bookkeeping, not data.
PROGRESS_ATTRS = {
    "title": "renp_scan bookkeeping, not physics data",
    "comment": ("per-block done flags (resume of an interrupted run) and CRC-32 of every "
                "stored chunk of rate (verification); the spectra are in the target groups"),
}


def is_cf_name(name: str) -> bool:
    """Tell whether ``name`` is CF-legal: an ASCII letter, then letters, digits, ``_``."""
    return bool(name) and name.isascii() and name[0].isalpha() and all(
        c.isalnum() or c == "_" for c in name)


def cf_globals(scan_name: str, targets, created_utc: str, package_version: str) -> dict:
    """CF-1.11 global attributes of a cube: Conventions, title, history, references, source.

    ``title`` and ``comment`` tell a reader that opens the file without ``group=``
    (an empty root Dataset) which groups hold the data.
    """
    groups = ", ".join(f"/{t}" for t in targets)
    first = next(iter(targets), "Cs")
    return {
        "Conventions": CONVENTIONS,
        "title": f"RENP photon spectra Gamma(omega) of scan {scan_name!r}: data in "
                 f"group(s) {groups}",
        "comment": (f"The root group holds no variables: each target is one group. Open one "
                    f"with xarray.open_dataset(path, engine='h5netcdf', group='{first}') or "
                    f"renp_scan.open_cube(path, '{first}'); /_progress is bookkeeping."),
        "history": f"{created_utc} created by renp_scan {package_version} (renp-scan run)",
        "references": REFERENCES,
        "source": f"renp_scan {package_version}: numerical evaluation of eqs. 18-23 of "
                  "arXiv:1310.6472 on the scan's grid",
    }


#: Storage types of the rate.
DTYPES = ("float64", "float32")
#: Values of ``compression`` accepted by :func:`compression_options`.
COMPRESSIONS = ("gzip", "lzf", "none", "zstd")
#: Default gzip level (HDF5 deflate) and zstd level, for scan files and for
#: :func:`compression_options` without a level. gzip 1 is 1.8x faster than 4 for
#: 1.8 % more bytes on scans/benchmark.toml (benchmarks/README.md, "Sweep"); gzip
#: stays the default compression because every HDF5 reader has it.
DEFAULT_LEVELS = {"gzip": 1, "zstd": 3}
#: Accepted (lowest, highest) level per compression that takes one.
LEVEL_RANGES = {"gzip": (0, 9), "zstd": (1, 22)}


@dataclass(frozen=True)
class TargetLayout:
    """Axes and chunking of one target's ``rate`` variable.

    Attributes
    ----------
    name : str
        Target key (group name), e.g. ``"Cs"``.
    hierarchies, natures, channels, coulomb_models : tuple of str
        Labels along the string dims (hierarchy, nature, channel, coulomb_model).
    phases_rad : ndarray, shape (P, 2)
        (alpha21, alpha31) rows [rad].
    m0_eV, omega_eV : ndarray
        Grids [eV], 1-D float64, strictly increasing.
    chunk_rows, chunk_cols : int
        Chunk (= block) extent along m0 and omega.
    """

    name: str
    hierarchies: tuple
    natures: tuple
    channels: tuple
    coulomb_models: tuple
    phases_rad: np.ndarray
    m0_eV: np.ndarray
    omega_eV: np.ndarray
    chunk_rows: int
    chunk_cols: int

    @property
    def sizes(self) -> dict[str, int]:
        """Length of each dim of ``rate``, by name, in :data:`DIMS` order."""
        lengths = {"hierarchy": len(self.hierarchies), "nature": len(self.natures),
                   "channel": len(self.channels), "coulomb_model": len(self.coulomb_models),
                   "phase": len(self.phases_rad), "m0": len(self.m0_eV),
                   "omega": len(self.omega_eV)}
        return {dim: lengths[dim] for dim in DIMS}

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``rate``, in :data:`DIMS` order."""
        return tuple(self.sizes.values())

    @property
    def chunks(self) -> tuple[int, ...]:
        """HDF5 chunk shape of ``rate``: 1 along every dim but m0 (rows) and omega (cols)."""
        extent = {ROW_DIM: self.chunk_rows, COLUMN_DIM: self.chunk_cols}
        return tuple(extent.get(dim, 1) for dim in DIMS)

    @property
    def block_grid(self) -> tuple[int, ...]:
        """Number of blocks along each dim."""
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.chunks, strict=True))

    @property
    def n_blocks(self) -> int:
        """Total number of blocks (= chunks) of this target."""
        return math.prod(self.block_grid)

    @property
    def n_entries(self) -> int:
        """Number of entries of ``rate``."""
        return math.prod(self.shape)

    def stored_chunk_bound(self, itemsize: int) -> int:
        """Upper bound on the stored size of one chunk [bytes], whatever its filters.

        A filter grows data it cannot shrink by far less than the 10 % + 64 kB allowed
        here: zlib's ``compressBound`` adds about n/3300 + 13 bytes, zstd's
        ``ZSTD_compressBound`` about n/256 + 64 bytes, and lzf declines (the chunk is
        stored raw).
        """
        return int(self.chunk_rows * self.chunk_cols * itemsize * 1.1) + 2**16

    def block_selection(self, index: int) -> tuple:
        """Index tuple into ``rate`` of block ``index`` (C order over :attr:`block_grid`).

        Returns
        -------
        tuple
            One entry per dim of :data:`DIMS`: an int for every dim but m0 and
            omega, a slice for those two, e.g.
            ``(i_hierarchy, i_nature, i_channel, i_coulomb_model, i_phase, slice_m0,
            slice_omega)``. ``dict(zip(DIMS, ...))`` names them.
        """
        if not 0 <= index < self.n_blocks:
            raise IndexError(f"block {index} out of range [0, {self.n_blocks})")
        selection = []
        for dim, i, chunk, n in zip(DIMS, np.unravel_index(index, self.block_grid),
                                    self.chunks, self.shape, strict=True):
            if dim in (ROW_DIM, COLUMN_DIM):
                start = int(i) * chunk
                selection.append(slice(start, min(start + chunk, n)))
            else:
                selection.append(int(i))
        return tuple(selection)

    def block_labels(self, index: int) -> dict:
        """Coordinates of block ``index``: its fixed labels and its m0/omega values.

        Returns
        -------
        dict
            ``hierarchy``, ``nature``, ``channel``, ``coulomb_model`` (str),
            ``phase`` (int row), ``phases_rad`` ((alpha21, alpha31) [rad]), ``m0_eV``
            and ``omega_eV`` (the block's slices of the grids [eV]).
        """
        sel = dict(zip(DIMS, self.block_selection(index), strict=True))
        return {
            "hierarchy": self.hierarchies[sel["hierarchy"]],
            "nature": self.natures[sel["nature"]],
            "channel": self.channels[sel["channel"]],
            "coulomb_model": self.coulomb_models[sel["coulomb_model"]],
            "phase": sel["phase"],
            "phases_rad": tuple(float(p) for p in self.phases_rad[sel["phase"]]),
            "m0_eV": self.m0_eV[sel[ROW_DIM]],
            "omega_eV": self.omega_eV[sel[COLUMN_DIM]],
        }

    def block_offset(self, index: int) -> tuple[int, ...]:
        """Element offset of block ``index``'s chunk in ``rate`` (for chunk queries)."""
        return tuple(s.start if isinstance(s, slice) else s for s in self.block_selection(index))


def chunk_crc(filter_mask: int, stored) -> int:
    """CRC-32 of a stored chunk as ``/_progress/<target>/crc32`` records it.

    zlib's CRC-32 of the chunk's filter mask (4 bytes, little-endian), then of its
    stored bytes. The mask matters: a filter may skip a chunk it cannot shrink (lzf
    does), and the same bytes then decode differently.
    """
    return zlib.crc32(stored, zlib.crc32(int(filter_mask).to_bytes(4, "little")))


class EncodedChunk:
    """The stored bytes of one chunk (every filter applied: mask 0) with its :func:`chunk_crc`.

    Made by :meth:`ChunkCodec.encode` where the block was computed, so the single
    writer stores the bytes without reading them again. The bytes are held as
    they came (the block itself when no filter changes them, the compressor's
    buffer otherwise), never copied: a 4 MB copy costs a worker as much as
    computing the block, and would hold the GIL the writer needs. Pickled (for a
    dask worker's result) as plain bytes with the CRC computed where they were
    encoded.

    Parameters
    ----------
    data : buffer
        The stored bytes, C-contiguous (any buffer: bytes, a NumPy array, a
        memoryview); a non-contiguous buffer is refused (TypeError).
    crc32 : int, optional
        Their :func:`chunk_crc` with filter mask 0, computed when not given.

    Attributes
    ----------
    data : memoryview
        The bytes, flat (format ``"B"``), as ``write_direct_chunk`` takes them.
    crc32 : int
        :func:`chunk_crc` of filter mask 0 and these bytes.
    """

    __slots__ = ("data", "crc32")

    def __init__(self, data, crc32: int | None = None):
        self.data = memoryview(data).cast("B")
        self.crc32 = chunk_crc(0, self.data) if crc32 is None else int(crc32)

    @property
    def nbytes(self) -> int:
        """Number of stored bytes."""
        return self.data.nbytes

    def __bytes__(self) -> bytes:
        return self.data.tobytes()

    def __reduce__(self):
        # Pickled with the CRC of the bytes as they were encoded: bytes damaged on the
        # way then fail the writer's final check instead of being stored with a CRC
        # of the damage.
        return (EncodedChunk, (self.data.tobytes(), self.crc32))


@dataclass(frozen=True)
class ChunkCodec:
    """The HDF5 filter pipeline of ``rate`` (shuffle, then deflate, zstd or lzf), outside HDF5.

    Encoding a block in a worker thread (``zlib`` and the ctypes calls of
    :mod:`renp_scan.cube.filters` release the GIL) and storing the bytes with
    ``write_direct_chunk`` keeps the single writer from becoming the bottleneck.
    The bytes are exactly what HDF5's own filters produce (HDF5 calls zlib's
    ``compress2`` at the dataset's level; the zstd and lzf filters call the
    functions :mod:`~renp_scan.cube.filters` calls), so the file is the same as if
    HDF5 had compressed the chunk.

    Attributes
    ----------
    shuffle : bool
        HDF5 byte-shuffle filter.
    deflate_level : int or None
        gzip level 0-9, None for no deflate.
    zstd_level : int or None
        zstd level (the filter's client value), None for no zstd.
    lzf : bool
        h5py's lzf filter.
    """

    shuffle: bool
    deflate_level: int | None
    zstd_level: int | None = None
    lzf: bool = False

    def encode(self, block: np.ndarray, chunk_rows: int, chunk_cols: int,
               dtype, take=None) -> EncodedChunk | np.ndarray:
        """Return the filtered bytes of one chunk holding ``block`` (edges padded with NaN).

        ``block`` itself is returned where the bytes would need a filter mask other
        than 0 (lzf declines a chunk it cannot shrink, and HDF5 then stores it with
        lzf's bit set) or the filter's library is not at hand (a dask worker
        installed without hdf5plugin): the writer then stores it through HDF5's
        filters, which do the same.

        Parameters
        ----------
        block : ndarray, shape (rows, cols)
            Values, rows <= chunk_rows and cols <= chunk_cols.
        chunk_rows, chunk_cols : int
            Full chunk extent (HDF5 stores edge chunks at full size).
        dtype : numpy dtype
            Storage type of ``rate``.
        take : callable, optional
            ``take(nbytes) -> uint8 ndarray`` of that length, for the shuffled chunk
            and the compressor's output (default: new arrays); the returned chunk may
            hold such a buffer.
        """
        if (self.zstd_level is not None and not filters.zstd_available()) or \
                (self.lzf and not filters.lzf_available()):
            return block
        take = take or _new_bytes
        full = np.asarray(block)
        if full.shape != (chunk_rows, chunk_cols) or full.dtype != np.dtype(dtype) \
                or not full.flags.c_contiguous:
            full = np.full((chunk_rows, chunk_cols), np.nan, dtype=dtype)
            full[: block.shape[0], : block.shape[1]] = block
        itemsize = full.dtype.itemsize
        if self.shuffle and itemsize > 1:
            # byte k of every value together, k = 0 .. itemsize-1 (HDF5's shuffle)
            shuffled = take(full.nbytes).reshape(itemsize, -1)
            np.copyto(shuffled, full.view(np.uint8).reshape(-1, itemsize).T)
            full = shuffled
        if self.deflate_level is not None:
            return EncodedChunk(zlib.compress(full, self.deflate_level))
        if self.zstd_level is not None:
            out = take(filters.zstd_bound(full.nbytes))
            return EncodedChunk(filters.zstd_compress(full, self.zstd_level, out))
        if self.lzf:
            packed = filters.lzf_compress(full, take(full.nbytes))
            return block if packed is None else EncodedChunk(packed)
        return EncodedChunk(full)


def _new_bytes(nbytes: int) -> np.ndarray:
    return np.empty(nbytes, dtype=np.uint8)


def compression_options(compression: str, level: int | None, shuffle: bool) -> dict:
    """Keyword arguments for ``h5py.Group.create_dataset`` for a compression choice.

    Parameters
    ----------
    compression : {"gzip", "lzf", "none", "zstd"}
        Filter. ``zstd`` needs the optional ``hdf5plugin`` package.
    level : int or None
        gzip 0-9 or zstd 1-22; None picks :data:`DEFAULT_LEVELS`; ignored for lzf/none.
    shuffle : bool
        Byte-shuffle filter before compression (ignored for ``none``).
    """
    if compression not in COMPRESSIONS:
        raise InputError("output.compression",
                         f"unknown compression {compression!r}; allowed: {', '.join(COMPRESSIONS)}")
    if compression == "none":
        return {}
    opts = {"shuffle": bool(shuffle)}
    if compression == "gzip":
        opts.update(compression="gzip",
                    compression_opts=int(DEFAULT_LEVELS["gzip"] if level is None else level))
    elif compression == "lzf":
        opts.update(compression="lzf")
    else:
        try:  # hdf5plugin is optional (the [compression] extra)
            import hdf5plugin  # noqa: PLC0415
        except ImportError:
            raise InputError("output.compression", "zstd needs the hdf5plugin package "
                             "(pip install hdf5plugin)") from None
        opts.update(hdf5plugin.Zstd(clevel=int(DEFAULT_LEVELS["zstd"] if level is None else level)))
    return opts


def register_filter_plugins() -> None:
    """Make third-party HDF5 filters (zstd) readable when ``hdf5plugin`` is installed."""
    try:
        # Optional (the [compression] extra); importing it registers the filters with HDF5.
        import hdf5plugin  # noqa: F401, PLC0415
    except ImportError:
        pass
