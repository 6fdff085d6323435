"""A new user's first runs: reading a cube already open in the process, rerunning a
finished scan, losing every dask worker, and non-interactive progress and estimates."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from conftest import small_scan_text


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    """A finished cube of the small test scan (computed once for this module)."""
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.scanfile import load_scan

    d = tmp_path_factory.mktemp("cube")
    scan = d / "small.toml"
    scan.write_text(small_scan_text(), encoding="utf-8")
    out = d / "small.h5"
    run_scan(load_scan(scan), out, workers=1, progress=False, handle_signals=False)
    with h5py.File(out, "r") as f:
        _STORED[str(out)] = f["Cs/rate"][...]
    return out


#: The rate of each module cube, read right after it was written (nothing else open).
_STORED = {}


# ------------------------------------------------------------------ file already open


def _opened_by(how: str, path):
    """Open ``path`` the way a user's earlier notebook cell would; return the handle."""
    import xarray as xr

    import renp_scan

    if how == "xarray":
        return xr.open_dataset(path, engine="h5netcdf", group="Cs")
    if how == "open_cube":
        return renp_scan.open_cube(path, atom="Cs")
    if how == "h5py-default":
        return h5py.File(path, "r")
    return h5py.File(path, "r", locking={"h5py-unlocked": False, "h5py-locked": True}[how])


def _every_reader(path, tmp_path, capsys):
    """open_cube twice, RateTable.from_cube, ``info`` and ``plot`` in process; the handles."""
    import renp_scan
    from renp_scan.analysis.table import RateTable
    from renp_scan.cli.main import main

    handles = [renp_scan.open_cube(path, atom="Cs"), renp_scan.open_cube(path, "Cs")]
    reference = _STORED[str(path)]
    for ds in handles:
        np.testing.assert_array_equal(ds.rate.values, reference)
    table = RateTable.from_cube(path, channel="nucleus")
    assert table.rate_Hz.shape == (2, 2, 3, reference.shape[-1])
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    assert "complete" in capsys.readouterr().out.splitlines()[0]
    pytest.importorskip("matplotlib")
    png = tmp_path / "plot.png"
    assert main(["plot", str(path), "-o", str(png)]) == 0
    assert png.stat().st_size > 0
    return handles


def test_readme_loading_sequence_in_one_process(small_cube, tmp_path, capsys):
    """README's loading snippet (xarray, then open_cube), then open_cube again, h5py,
    RateTable.from_cube, ``info`` and ``plot``: all in one process, all open at once."""
    import xarray as xr

    import renp_scan

    path = str(small_cube)
    handles = [xr.open_dataset(path, engine="h5netcdf", group="Cs"),
               renp_scan.open_cube(path, atom="Cs")]
    try:
        ds = handles[-1]
        line = ds.rate.sel(hierarchy="NH", nature="majorana", channel="nucleus",
                           coulomb_model="thomas-fermi").squeeze()
        assert line.dims == ("phase", "m0", "omega")
        handles += _every_reader(path, tmp_path, capsys)
        handles.append(h5py.File(path, "r"))
        handles += _every_reader(path, tmp_path, capsys)
        np.testing.assert_array_equal(handles[0].rate.values, handles[1].rate.values)
    finally:
        for h in handles:
            h.close()


@pytest.mark.parametrize("how", ["xarray", "open_cube", "h5py-default", "h5py-unlocked",
                                 "h5py-locked"])
def test_readers_work_whatever_opened_the_file_first(small_cube, tmp_path, capsys, how):
    """HDF5 refuses a second open with other locking flags; the readers adapt to the first."""
    first = _opened_by(how, small_cube)
    handles = []
    try:
        # The same kind of open again must also still work after ours (a cell run twice).
        handles = _every_reader(small_cube, tmp_path, capsys)
        handles.append(_opened_by(how, small_cube))
        handles += _every_reader(small_cube, tmp_path, capsys)
    finally:
        for h in handles + [first]:
            h.close()


def test_locking_mismatch_is_real(small_cube):
    """HDF5 itself refuses mixed locking flags (what the readers above work around)."""
    with h5py.File(small_cube, "r"), pytest.raises(OSError, match="don't match"):
        h5py.File(small_cube, "r", locking=False)
