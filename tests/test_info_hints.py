"""``renp-scan info`` and ``validate`` say what dominates a cube's size and time."""

from __future__ import annotations

import re

import h5py
import pytest
from conftest import small_scan_text

from renp_scan.cli.main import _time_hint, main
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import parse_scan


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("hints") / "small.h5"
    run_scan(parse_scan(small_scan_text()), path, workers=1, progress=False)
    return path


def test_info_splits_the_file_size(cube, capsys):
    assert main(["info", str(cube)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("size: "))
    # Independent count: the stored size of every chunk of rate, from HDF5's chunk index.
    with h5py.File(cube, "r") as f:
        rate = f["Cs/rate"]
        stored = sum(rate.id.get_chunk_info(i).size for i in range(rate.id.get_num_chunks()))
        raw = rate.size * rate.dtype.itemsize
    share = round(100 * stored / cube.stat().st_size)
    assert f"({share} % of the file)" in line, line
    assert f"compression keeps {round(100 * stored / raw)} % of the raw bytes" in line
    assert "provenance" in line
    assert re.search(r"^time: (under 1 s|\S+ \w+) from creation to completion over 1 session$",
                     out, re.M), out


def test_validate_names_the_largest_axes_and_the_dominant_cost(tmp_path, capsys):
    scan = tmp_path / "s.toml"
    scan.write_text(small_scan_text())
    assert main(["validate", str(scan)]) == 0
    out = capsys.readouterr().out
    # small scan: omega 30 points, m0 3 values, the other axes 2 or fewer
    assert "size: entries = product of the axes; the largest axes are omega (30) and m0 (3)" \
        in out, out
    assert re.search(r"time: dominated by (compute|compression and storage) \(\d+ %\)", out)


def test_time_hint_branches():
    assert _time_hint(9.0, 1.0, "gzip").startswith("time: dominated by compute (90 %)")
    store = _time_hint(1.0, 3.0, "gzip")
    assert store.startswith("time: dominated by compression and storage (75 %)")
    assert '"lzf"' in store
    assert "lzf" not in _time_hint(1.0, 3.0, "none")
