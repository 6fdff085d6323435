"""HDF5's zstd and lzf filters applied outside HDF5, with the filters' own libraries.

The bytes are those HDF5 stores, because the same functions make them:

* zstd (hdf5plugin, filter id 32015) stores ``ZSTD_compress(chunk, level)``, one
  zstd frame, the level being its first client value clamped to [1, ZSTD_maxCLevel()];
  :func:`zstd_compress` calls ``ZSTD_compress`` of hdf5plugin's filter library;
* lzf (h5py, filter id 32000) stores ``lzf_compress(chunk)`` into a buffer as long
  as the chunk; when the result does not fit, the filter declines and HDF5 stores
  the chunk without it (its bit set in the chunk's filter mask).
  :func:`lzf_compress` calls ``lzf_compress`` of h5py's own module.

ctypes releases the GIL for these calls, so worker threads compress blocks in
parallel instead of the single writer doing it inside HDF5.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import h5py
import numpy as np

#: HDF5 filter id of Zstandard (registered by hdf5plugin).
ZSTD_FILTER_ID = 32015
#: HDF5 filter id of LZF (registered by h5py).
LZF_FILTER_ID = h5py.h5z.FILTER_LZF

_SIZE, _PTR = ctypes.c_size_t, ctypes.c_void_p


def _bind(lib, name: str, restype, *argtypes):
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, list(argtypes)


@functools.lru_cache(maxsize=1)
def _zstd_library():
    """Return the ctypes handle of hdf5plugin's zstd filter library (None where missing)."""
    try:  # optional (the [compression] extra)
        import hdf5plugin  # noqa: PLC0415
    except ImportError:
        return None
    try:
        lib = ctypes.CDLL(str(Path(hdf5plugin.PLUGIN_PATH) / "libh5zstd.so"))
        _bind(lib, "ZSTD_compress", _SIZE, _PTR, _SIZE, _PTR, _SIZE, ctypes.c_int)
        _bind(lib, "ZSTD_compressBound", _SIZE, _SIZE)
        _bind(lib, "ZSTD_isError", ctypes.c_uint, _SIZE)
        _bind(lib, "ZSTD_maxCLevel", ctypes.c_int)
    except (OSError, AttributeError):
        return None  # another platform's file name, or a build without these symbols
    return lib


@functools.lru_cache(maxsize=1)
def _lzf_library():
    """Return the ctypes handle of h5py's module holding its lzf filter (None where missing)."""
    try:
        lib = ctypes.CDLL(h5py.h5z.__file__)
        _bind(lib, "lzf_compress", ctypes.c_uint, _PTR, ctypes.c_uint, _PTR, ctypes.c_uint)
    except (OSError, AttributeError):
        return None
    return lib


def zstd_available() -> bool:
    """Tell whether :func:`zstd_compress` can run (hdf5plugin with its zstd library)."""
    return _zstd_library() is not None


def lzf_available() -> bool:
    """Tell whether :func:`lzf_compress` can run (h5py exports its lzf compressor)."""
    return _lzf_library() is not None


def zstd_bound(nbytes: int) -> int:
    """Largest size [bytes] of :func:`zstd_compress`'s result for ``nbytes`` of input."""
    return int(_zstd_library().ZSTD_compressBound(nbytes))


def zstd_compress(data: np.ndarray, level: int, out: np.ndarray | None = None) -> memoryview:
    """Return the zstd filter's stored bytes for the C-contiguous array ``data``.

    Parameters
    ----------
    data : ndarray
        The chunk after the filters before zstd (shuffle), C-contiguous.
    level : int
        The filter's first client value.
    out : ndarray of uint8, optional
        Room for the result, at least :func:`zstd_bound` bytes (default: a new array);
        the result is a view of it.
    """
    lib = _zstd_library()
    src = np.ascontiguousarray(data)
    level = min(max(int(level), 1), lib.ZSTD_maxCLevel())
    bound = lib.ZSTD_compressBound(src.nbytes)
    # np.empty, not bytearray: no zero fill (its page faults would come with the GIL held)
    out = np.empty(bound, dtype=np.uint8) if out is None else out
    if out.nbytes < bound or not out.flags.c_contiguous:
        raise ValueError(f"zstd needs a contiguous buffer of {bound} bytes, got {out.nbytes}")
    size = lib.ZSTD_compress(out.ctypes.data, out.nbytes, src.ctypes.data, src.nbytes, level)
    if lib.ZSTD_isError(size):
        raise RuntimeError(f"zstd compression of a {src.nbytes}-byte chunk failed")
    return memoryview(out[:size])


def lzf_compress(data: np.ndarray, out: np.ndarray | None = None) -> memoryview | None:
    """Return the lzf filter's stored bytes for ``data``, or None where it declines.

    Parameters
    ----------
    data : ndarray
        The chunk after the filters before lzf (shuffle), C-contiguous.
    out : ndarray of uint8, optional
        Room for the result, as many bytes as ``data`` (default: a new array); the
        result is a view of it. lzf declines what would not fit there, as in HDF5.
    """
    src = np.ascontiguousarray(data)
    out = np.empty(src.nbytes, dtype=np.uint8) if out is None else out
    if out.nbytes != src.nbytes or not out.flags.c_contiguous:
        raise ValueError(f"lzf needs a contiguous buffer of {src.nbytes} bytes, got {out.nbytes}")
    size = _lzf_library().lzf_compress(src.ctypes.data, src.nbytes, out.ctypes.data, out.nbytes)
    return memoryview(out[:size]) if size else None
