"""Result files of the analysis layer (HDF5, netCDF-4 compatible): write and read.

The analysis layer computes sensitivities and fits; storing them is HDF5 work,
which lives in the cube layer with the cubes.

Conventions follow the cubes (``docs/cube_format.md``): every variable and
coordinate carries ``units`` and ``long_name``; the root carries the format name
and version, the software environment (:func:`renp_scan.cube.schema.environment_provenance`),
the plan's text and sha256 and the rate source's provenance (cube path and scan
digest). Files are written to ``OUT.partial`` and renamed, so a reader never
sees a half-written result.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import xarray as xr

from ..errors import InputError
from .schema import environment_provenance

#: Root attribute ``format`` of a sensitivity result / a fit result.
SENSITIVITY_FORMAT = "renp_scan.sensitivity"
FIT_FORMAT = "renp_scan.fit"
#: Layout version of both result kinds.
RESULT_VERSION = 1


def _attr_value(value):
    """Convert an attribute value to one netCDF-4 can store (no None, bool, nesting)."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return np.int8(value)
    if isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        return arr if arr.dtype.kind in "iuf" else str(value)
    if isinstance(value, dict):
        return str(value)
    return value


def write_result(path, ds, kind: str, plan=None, extra_attrs=None) -> Path:
    """Write an analysis result dataset atomically.

    Parameters
    ----------
    path : str or Path
        Output file (``.h5``); replaced if it exists.
    ds : xarray.Dataset
        The result (variables with ``units`` and ``long_name``).
    kind : {"renp_scan.sensitivity", "renp_scan.fit"}
        Value of the root ``format`` attribute.
    plan : MeasurementPlan, optional
        Recorded as ``plan_name``, ``plan_text``, ``plan_sha256``, ``plan_path``.
    extra_attrs : dict, optional
        Further root attributes.

    Returns
    -------
    Path
        The written file.
    """
    if kind not in (SENSITIVITY_FORMAT, FIT_FORMAT):
        raise InputError("kind", f"unknown result kind {kind!r}")
    for name, var in list(ds.variables.items()):
        if "units" not in var.attrs or "long_name" not in var.attrs:
            raise InputError("dataset", f"variable {name!r} lacks units/long_name attributes")
    out = ds.copy()
    attrs = {"format": kind, "format_version": np.int64(RESULT_VERSION),
             **environment_provenance(), **ds.attrs}
    if plan is not None:
        attrs.update({"plan_name": plan.name, "plan_text": plan.text, "plan_sha256": plan.sha256,
                      "plan_path": plan.path or ""})
    attrs.update(extra_attrs or {})
    out.attrs = {k: _attr_value(v) for k, v in attrs.items()}
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        out.to_netcdf(partial, engine="h5netcdf", invalid_netcdf=False)
        # Reopen once to check it is a readable HDF5 file before it replaces anything.
        with h5py.File(partial, "r") as f:
            if f.attrs.get("format") != kind:
                raise OSError(f"{partial}: written file lacks its format attribute")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def read_result(path, kind: str | None = None):
    """Load a result written by :func:`write_result` into memory.

    Parameters
    ----------
    path : str or Path
    kind : str, optional
        Expected ``format`` (InputError naming ``result`` if different).

    Returns
    -------
    xarray.Dataset
    """
    path = Path(path)
    if not path.is_file() or not h5py.is_hdf5(path):
        raise InputError("result", f"{path} is not an HDF5 result file")
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt not in (SENSITIVITY_FORMAT, FIT_FORMAT) or (kind is not None and fmt != kind):
        raise InputError("result", f"{path} has format {fmt!r}, expected "
                         f"{kind or 'a renp_scan analysis result'}")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
