"""CF conventions of a cube: globals, attribute names, nothing internal shown as data.

The cube here comes from the real engine (a tiny scan), so the provenance attributes
(physics constants, oscillation data, target data) are the ones every run writes.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr
from conftest import TWO_TARGET_SCAN

from renp_scan.cube.layout import CONVENTIONS, FORMAT_VERSION, is_cf_name
from renp_scan.cube.reader import check_cube, describe_cube, open_cube
from renp_scan.cube.resume import open_partial
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import parse_scan

#: Attributes HDF5 dimension scales use internally; netCDF readers hide them.
HDF5_DIMENSION_SCALE_ATTRS = {"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST"}


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cf") / "two.h5"
    run_scan(parse_scan(TWO_TARGET_SCAN), path, workers=1, progress=False)
    return path


def test_cf_name_rule():
    assert is_cf_name("constant_ALPHA") and is_cf_name("A_ug_per_s") and is_cf_name("m0")
    for bad in ("constant.ALPHA", "_progress", "1x", "a-b", "", "ω", "a b"):
        assert not is_cf_name(bad), bad


def test_cf_globals(cube):
    with h5py.File(cube, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    assert attrs["Conventions"] == CONVENTIONS == "CF-1.11"
    assert "arXiv:1310.6472" in attrs["references"]
    assert "renp_scan" in attrs["source"]
    # history: one dated line per session, starting with the creation time
    assert attrs["history"].startswith(attrs["created_utc"])
    # title and comment say which groups hold the data
    assert "/Cs" in attrs["title"] and "/Xe" in attrs["title"]
    assert "group='Cs'" in attrs["comment"]


def test_every_visible_attribute_name_is_cf_legal(cube):
    netCDF4 = pytest.importorskip("netCDF4")
    seen = []

    def walk(group):
        for name in group.ncattrs():
            seen.append((group.path, name))
        for var in group.variables.values():
            seen.extend((f"{group.path}/{var.name}", name) for name in var.ncattrs())
        for child in group.groups.values():
            walk(child)

    with netCDF4.Dataset(cube) as ds:
        walk(ds)
    bad = [(where, name) for where, name in seen if not is_cf_name(name)]
    assert not bad, bad
    names = {name for _, name in seen}
    # The provenance is still there, under CF names.
    assert {"constant_ALPHA", "oscillation_normal_dm21_sq_eV2", "oscillation_source"} <= names
    assert "DIMENSION_LABELS" not in names


def test_nothing_internal_shows_as_data(cube):
    with xr.open_dataset(cube, engine="h5netcdf", group="Cs") as ds:
        assert "DIMENSION_LABELS" not in ds["rate"].attrs
        for label in ("hierarchy", "nature", "channel", "coulomb_model"):
            assert "units" not in ds[label].attrs, label  # CF: no units on string labels
            assert ds[label].attrs["long_name"]
        for name in ("m0", "omega", "alpha21_rad"):
            assert ds[name].attrs["units"] in ("eV", "rad")
        for var in ds.variables.values():
            assert not set(var.attrs) & HDF5_DIMENSION_SCALE_ATTRS
    # The bookkeeping group is listed by xarray's DataTree, and says it is not data.
    tree = xr.open_datatree(cube, engine="h5netcdf")
    try:
        for path in ("/_progress", "/_progress/Cs", "/_progress/Xe"):
            assert "not physics data" in tree[path].attrs["title"], path
        assert "not physics data" not in tree["/Cs"].attrs.get("title", "")
    finally:
        tree.close()


def test_opening_without_group_says_which_groups_to_open(cube):
    with xr.open_dataset(cube, engine="h5netcdf") as ds:
        assert not ds.data_vars  # netCDF groups: the root holds no variables
        assert "group(s) /Cs, /Xe" in ds.attrs["title"]
        assert "open_dataset(path, engine='h5netcdf', group='Cs')" in ds.attrs["comment"]


def test_resume_appends_to_history(tmp_path):
    spec = parse_scan(TWO_TARGET_SCAN)
    out = tmp_path / "c.h5"
    run_scan(spec, out, workers=1, progress=False)
    # Turn the finished cube back into a partial with one block to do, then resume.
    partial = tmp_path / "c.h5.partial"
    out.rename(partial)
    with h5py.File(partial, "r+") as f:
        f.attrs["complete"] = np.int8(0)
        f["_progress/Cs/done"][0] = 0
    with open_partial(partial, scan_sha256=spec.sha256) as writer:
        assert writer.n_done() == writer.n_blocks() - 1
    with h5py.File(partial, "r") as f:
        lines = f.attrs["history"].split("\n")
    assert len(lines) == 2 and lines[1].endswith("resumed by renp_scan"), lines


def test_format_version_2_cube_is_read(cube, tmp_path):
    """A version-2 cube (dotted attribute names, no CF globals) still opens."""
    old = tmp_path / "v2.h5"
    old.write_bytes(cube.read_bytes())
    with h5py.File(old, "r+") as f:
        for key in [k for k in f.attrs if k.startswith(("constant_", "oscillation_"))]:
            if key.startswith("oscillation_file"):
                continue
            value = f.attrs[key]
            del f.attrs[key]
            head, _, rest = key.partition("_")
            for ordering in ("normal", "inverted"):
                rest = rest.replace(f"{ordering}_", f"{ordering}.")
            f.attrs[f"{head}.{rest}"] = value
        for key in ("Conventions", "title", "comment", "history", "references", "source"):
            del f.attrs[key]
        f.attrs["format_version"] = np.int64(2)
    assert FORMAT_VERSION == 3
    assert check_cube(old) == ["Cs", "Xe"]
    with open_cube(old, "Xe") as ds, open_cube(cube, "Xe") as new:
        assert np.array_equal(ds["rate"].values, new["rate"].values)
    assert describe_cube(old)["attrs"]["oscillation.normal.dm21_sq_eV2"] > 0
