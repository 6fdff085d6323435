"""The cube's groups, variables and root attributes, written and read back.

:func:`write_root_attrs` and :func:`write_target` lay out a new cube as
:mod:`renp_scan.cube.layout` names it (netCDF-4 compatible: dimension scales attached
to every variable, CF attributes); :func:`read_layout` rebuilds a target's
:class:`~renp_scan.cube.layout.TargetLayout` from such a group.
"""

from __future__ import annotations

import datetime as _dt
import platform
import socket
import sys

import h5py
import numpy as np

from .._version import __version__
from ..kernels.versions import NUMBA_VERSION
from .layout import (
    BLOCK_DIM,
    COLUMN_DIM,
    CRC,
    DIMS,
    DONE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PHASE_COORDS,
    PROGRESS_ATTRS,
    PROGRESS_GROUP,
    RATE,
    RATE_NORMALISATION,
    ROW_DIM,
    VARIABLE_ATTRS,
    TargetLayout,
    cf_globals,
)

_STR = h5py.string_dtype(encoding="utf-8")


def utc_now() -> str:
    """Return the current UTC time, ISO 8601 with seconds (e.g. ``2025-01-31T12:00:00+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def environment_provenance() -> dict:
    """Attributes describing the software and machine that created a cube."""
    return {
        "package": "renp_scan",
        "package_version": __version__,
        "created_utc": utc_now(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python_version": sys.version.split()[0],
        "numpy_version": np.__version__,
        "numba_version": NUMBA_VERSION,
        "h5py_version": h5py.__version__,
        "hdf5_version": h5py.version.hdf5_version,
    }


def write_root_attrs(f, layouts, root_attrs: dict) -> None:
    """Write a new cube's file attributes: format, CF globals, provenance, ``root_attrs``."""
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    f.attrs["complete"] = np.int8(0)
    f.attrs["rate_normalisation"] = RATE_NORMALISATION
    env = environment_provenance()
    cf = cf_globals(str(root_attrs.get("scan_name", "")), [lay.name for lay in layouts],
                    env["created_utc"], env["package_version"])
    for key, value in {**cf, **env, **root_attrs}.items():
        f.attrs[key] = value
    f.attrs["targets"] = np.array([lay.name for lay in layouts], dtype=object)
    f.attrs["run_sessions"] = np.int64(1)


def _set_var_attrs(dset, name: str) -> None:
    units, long_name = VARIABLE_ATTRS[name]
    if units is not None:
        dset.attrs["units"] = units
    dset.attrs["long_name"] = long_name


def _scale(group, name: str, values, dtype=None):
    dset = group.create_dataset(name, data=values, dtype=dtype)
    dset.make_scale(name)
    _set_var_attrs(dset, name)
    return dset


def write_target(f, layout: TargetLayout, attrs: dict, dtype, filters: dict) -> None:
    """Create target group ``layout.name``: its axes, an empty ``rate`` and its progress group.

    Parameters
    ----------
    f : h5py.File
        The new cube, open for writing.
    layout : TargetLayout
        Axes and chunking of the target.
    attrs : dict
        Scalar attributes of the target group (Z, N, isotope, eps_eg_eV, ...).
    dtype : numpy.dtype
        Storage type of ``rate``.
    filters : dict
        h5py filter keywords (:func:`~renp_scan.cube.layout.compression_options`).
    """
    g = f.create_group(layout.name)
    for key, value in attrs.items():
        g.attrs[key] = value
    values = {
        "hierarchy": (np.array(layout.hierarchies, dtype=object), _STR),
        "nature": (np.array(layout.natures, dtype=object), _STR),
        "channel": (np.array(layout.channels, dtype=object), _STR),
        "coulomb_model": (np.array(layout.coulomb_models, dtype=object), _STR),
        "phase": (np.arange(len(layout.phases_rad), dtype=np.int64), None),
        "m0": (np.asarray(layout.m0_eV, dtype=np.float64), None),
        "omega": (np.asarray(layout.omega_eV, dtype=np.float64), None),
    }
    scales = {dim: _scale(g, dim, *values[dim]) for dim in DIMS}
    for col, name in enumerate(PHASE_COORDS):
        aux = g.create_dataset(name, data=np.asarray(layout.phases_rad, dtype=np.float64)[:, col])
        aux.dims[0].attach_scale(scales["phase"])
        _set_var_attrs(aux, name)
    rate = g.create_dataset(RATE, shape=layout.shape, dtype=dtype, chunks=layout.chunks,
                            fillvalue=np.nan, **filters)
    # No dimension labels: netCDF readers show HDF5's DIMENSION_LABELS as an
    # attribute; the attached scales already name every dim.
    for axis, dim in enumerate(DIMS):
        rate.dims[axis].attach_scale(scales[dim])
    _set_var_attrs(rate, RATE)
    # CF convention: makes xarray load the phase angles as coordinates of `rate`.
    rate.attrs["coordinates"] = " ".join(PHASE_COORDS)
    _write_progress(f, layout)


def _write_progress(f, layout: TargetLayout) -> None:
    progress = f.require_group(PROGRESS_GROUP)
    p = progress.create_group(layout.name)
    for group in (progress, p):
        group.attrs.update(PROGRESS_ATTRS)
    block = _scale(p, BLOCK_DIM, np.arange(layout.n_blocks, dtype=np.int64))
    # Contiguous and written at creation, so later mask updates touch no metadata.
    done = p.create_dataset(DONE, data=np.zeros(layout.n_blocks, dtype=np.uint8))
    done.dims[0].attach_scale(block)
    _set_var_attrs(done, DONE)
    crc = p.create_dataset(CRC, data=np.zeros(layout.n_blocks, dtype=np.uint32))
    crc.dims[0].attach_scale(block)
    _set_var_attrs(crc, CRC)


def read_layout(group) -> TargetLayout:
    """Rebuild a :class:`TargetLayout` from a target group of an open cube."""
    rate = group[RATE]
    chunks = rate.chunks
    return TargetLayout(
        name=group.name.strip("/"),
        hierarchies=tuple(group["hierarchy"].asstr()[...]),
        natures=tuple(group["nature"].asstr()[...]),
        channels=tuple(group["channel"].asstr()[...]),
        coulomb_models=tuple(group["coulomb_model"].asstr()[...]),
        phases_rad=np.stack([group[PHASE_COORDS[0]][...], group[PHASE_COORDS[1]][...]], axis=1),
        m0_eV=group["m0"][...],
        omega_eV=group["omega"][...],
        chunk_rows=int(chunks[DIMS.index(ROW_DIM)]),
        chunk_cols=int(chunks[DIMS.index(COLUMN_DIM)]),
    )
