"""The block (= chunk) layout follows from the scan alone, never from a timing.

Two runs of one scan, with any measured cost, make the same chunk shapes; the
expected shapes are worked out by hand from the documented constants
(``REFERENCE_COST``, ``MAX_CHUNK_BYTES``) below.
"""

from __future__ import annotations

import h5py
import pytest
from conftest import small_scan_text

from renp_scan.sweep import planning
from renp_scan.sweep.blocks import MAX_CHUNK_BYTES, REFERENCE_COST, CostModel
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.planning import plan_layouts
from renp_scan.sweep.scanfile import load_scan, parse_scan


def chunks_of(path):
    with h5py.File(path, "r") as f:
        return {str(t): f[t]["rate"].chunks for t in f.attrs["targets"]}


def test_constants_are_the_documented_ones():
    # docs/cube_format.md and blocks.py state these numbers; a change changes new cubes.
    assert REFERENCE_COST == CostModel(call_s=40e-6, point_s=3e-9)
    assert MAX_CHUNK_BYTES == 4 * 2**20


def test_benchmark_layout_worked_by_hand():
    spec = load_scan("scans/benchmark.toml")
    # 50 000 omega float64 per row = 400 kB; 4 MiB / 400 kB = 10.49 -> 10 rows; a row
    # costs 40 us + 50 000 x 3 ns = 190 us, so 0.3 s would allow 1578 rows: the byte
    # cap decides. 200 m0 / 10 = 20 blocks per line, already balanced.
    for lay in plan_layouts(spec):
        assert (lay.chunk_rows, lay.chunk_cols) == (10, 50_000)


def test_small_layout_worked_by_hand():
    spec = parse_scan(small_scan_text(extra="[engine]\nblock_target_seconds = 0.01\n"))
    # 30 omega points: a row costs 40 us + 90 ns = 40.09 us; 0.01 s / 40.09 us = 249
    # rows, more than the 3 m0 values: one block per spectrum line, 3 x 30.
    (lay,) = plan_layouts(spec)
    assert (lay.chunk_rows, lay.chunk_cols) == (3, 30)


def test_expensive_rows_worked_by_hand():
    text = small_scan_text().replace("values_eV = [0.0, 0.05, 0.1]",
                                     "count = 2000\nstart_eV = 0.0\nstop_eV = 0.1")
    text = text.replace("count = 30", "count = 40000")
    spec = parse_scan(text + "[engine]\nblock_target_seconds = 0.03\n")
    # A row: 40 us + 40 000 x 3 ns = 160 us; 0.03 s / 160 us = 187 rows, but a row is
    # 320 000 B and 4 MiB / 320 000 B = 13.1: the cap decides, 13 rows. Balanced:
    # ceil(2000 / 13) = 154 parts, ceil(2000 / 154) = 13.
    (lay,) = plan_layouts(spec)
    assert lay.chunk_rows == 13
    assert lay.chunk_cols == 40_000


@pytest.mark.parametrize("cost", [CostModel(1e-7, 1e-9), CostModel(1e-2, 1e-4)])
def test_layout_ignores_the_measured_cost(cost):
    spec = load_scan("scans/benchmark.toml")
    measured = {t: cost for t in spec.targets}
    assert [(lay.chunk_rows, lay.chunk_cols) for lay in plan_layouts(spec, measured)] \
        == [(lay.chunk_rows, lay.chunk_cols) for lay in plan_layouts(spec)]


def test_two_runs_same_chunks_whatever_the_timing(tmp_path, monkeypatch):
    spec = parse_scan(small_scan_text(extra="[engine]\nblock_target_seconds = 0.01\n"))
    shapes = []
    # A fast and a very slow "machine" (sized from a timing, the slow one would get
    # 0.01 s / 8 ms = 1-row blocks).
    for n, cost in enumerate([CostModel(1e-7, 1e-9), CostModel(5e-3, 1e-4)]):
        monkeypatch.setattr(planning, "measure_cost", lambda task, _c=cost: _c)
        out = tmp_path / f"c{n}.h5"
        run_scan(spec, out, workers=1, progress=False)
        shapes.append(chunks_of(out))
    assert shapes[0] == shapes[1] == {"Cs": (1, 1, 1, 1, 1, 3, 30)}
