"""Tiny runs of every benchmark (``mode="smoke"``) so the benchmark code cannot rot.

These check that each benchmark runs, that its baselines agree with the code under
test where they compute the same thing, and that the report renders. They assert
nothing about speed: timings belong to ``python benchmarks/run_all.py``, never to
the test suite.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    bench_coldstart,
    bench_kernel,
    bench_sweep,
    bench_tf,
    report,
    run_all,
)
from benchmarks import numpy_reference as npref  # noqa: E402
from renp_scan.kernels.phase_space import all_pairs_grid, empty_pairs  # noqa: E402
from renp_scan.model.spectrum import build_model  # noqa: E402


def _finite_positive(x):
    return isinstance(x, float) and math.isfinite(x) and x > 0


@pytest.mark.parametrize("channel", ["nucleus", "core"])
def test_numpy_reference_agrees_with_kernel(channel):
    model = build_model("Xe", 0.03, "IH", False, channel, majorana_phases_rad=(0.5, 2.0))
    omega = np.random.default_rng(1).uniform(0, model.eps_eg_eV, 5000)
    got, want = np.empty(omega.size), np.empty(omega.size)
    model.evaluate(omega, got)
    npref.chunked(
        npref.rate_numpy,
        omega,
        model.eps_eg_eV,
        model.a_eV,
        model.amplitude_Hz_eV2,
        model.masses_eV,
        model.w_kin,
        model.w_maj,
        out=want,
        chunk=777,
    )
    np.testing.assert_array_equal(got == 0.0, want == 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    oi, od = empty_pairs(omega.size)
    ri, rd = empty_pairs(omega.size)
    all_pairs_grid(omega, model.eps_eg_eV, model.masses_eV, 0.0, oi, od)
    npref.all_pairs_chunked(omega, model.eps_eg_eV, model.masses_eV, 0.0, ri, rd, chunk=999)
    np.testing.assert_allclose(oi, ri, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(od, rd, rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def kernel_smoke():
    return bench_kernel.run("smoke")


def test_kernel_benchmark_smoke(kernel_smoke):
    res = kernel_smoke
    assert {r["case"] for r in res["rows"]} == {"nucleus", "core", "all_pairs"}
    assert {r["grid"] for r in res["rows"]} == {"linear", "all_open", "shuffled"}
    for row in res["rows"]:
        assert row["nan_count"] == 0
        assert row["max_rel_diff_vs_numpy"] < 1e-12
        assert all(_finite_positive(v) for v in row["ns_per_point"].values())
        assert all(_finite_positive(v) for v in row["ratios"].values())
    for key in ("sqrt_ns", "div_ns"):
        assert _finite_positive(res["divider_costs"][key])


def test_tf_benchmark_smoke():
    res = bench_tf.run("smoke")
    assert res["renp_scan"]["converged"]
    assert res["renp_scan"]["rel_err"] < 1e-14
    # the baselines really solve the problem (loosely: smoke settings)
    for row in res["scipy"]:
        assert row["rel_err"] < 1e-4
        assert _finite_positive(row["time_ratio_vs_renp"])


def test_bvp_baseline_reaches_its_tolerance():
    slope, status, _ = bench_tf.slope_bvp(1e-8)
    assert status == 0
    assert abs(slope / bench_tf.SLOPE_LITERATURE - 1) < 1e-9


def test_scan_text_rewrites_counts_and_output():
    from renp_scan.sweep.scanfile import parse_scan

    spec = parse_scan(bench_sweep.scan_text(3, "zstd", 5, omega_count=100))
    assert spec.n_entries() == 3 * 2 * 2 * 3 * 100
    assert (spec.compression, spec.compression_level, spec.shuffle) == ("zstd", 5, True)
    spec = parse_scan(bench_sweep.scan_text(2, "lzf"))
    assert (spec.compression, spec.compression_level) == ("lzf", None)


def test_sweep_benchmark_smoke(tmp_path):
    res = bench_sweep.run("smoke", workdir=tmp_path)
    assert res["entries"] == 2 * bench_sweep.ENTRIES_PER_M0
    (row,) = res["compression"]
    assert row["engine"]["entries"] == row["raw_write"]["entries"] == res["entries"]
    assert row["engine"]["file_bytes"] > 0 and row["raw_write"]["file_bytes"] > 0
    assert _finite_positive(res["default_gzip4"]["engine_over_raw_throughput"])
    assert list(tmp_path.iterdir()) == []  # its temporary files are gone


def test_coldstart_benchmark_smoke():
    res = bench_coldstart.run("smoke")["smoke_first_call_default_cache"]
    assert res["second_call_s"] < res["process_wall_s"]
    assert all(_finite_positive(res[k]) for k in ("import_s", "first_call_s", "second_call_s"))


def test_run_all_writes_json_readme_and_plot(tmp_path, kernel_smoke):
    out = run_all.run(["tf"], "smoke", results_dir=tmp_path, command="smoke test")
    payload = json.loads((tmp_path / "tf.json").read_text())
    assert payload["meta"]["mode"] == "smoke" and payload["meta"]["machine"]["usable_cpus"] >= 1
    assert payload["result"]["renp_scan"]["slope"] == out["tf"]["result"]["renp_scan"]["slope"]
    kernel = {"meta": payload["meta"], "result": kernel_smoke}
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nHand-written text stays.\n")
    report.render_readme({"tf": payload, "kernel": kernel}, readme)
    report.render_readme({"tf": payload, "kernel": kernel}, readme)  # idempotent
    text = readme.read_text()
    assert text.count(report.BEGIN) == 1 and "Hand-written text stays." in text
    assert "Thomas-Fermi" in text and "| nucleus | linear |" in text
    report.throughput_plot(kernel, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_history_appends_ratios_by_commit_and_machine_and_plots(tmp_path, kernel_smoke):
    from benchmarks import history, plot_history

    meta = {
        "machine": {"git_commit": "abc1234", "cpu_model": "Test CPU", "llvm_host_cpu": "testcpu",
                    "usable_cpus": 2},
        "date_utc": "2026-01-01T00:00:00+00:00",
        "mode": "quick",
        "load_average_before": [0.0, 0.0, 0.0],
    }
    path = tmp_path / "history.jsonl"
    first = history.append({"kernel": {"meta": meta, "result": kernel_smoke}}, path)
    meta2 = dict(meta, machine=dict(meta["machine"], git_commit="def5678"))
    history.append({"kernel": {"meta": meta2, "result": kernel_smoke}}, path)
    records = history.load(path)
    assert [r["commit"] for r in records] == ["abc1234", "def5678"]
    assert records[0] == json.loads(json.dumps(first))
    assert records[0]["machine"]["llvm_host_cpu"] == "testcpu"
    row = next(r for r in kernel_smoke["rows"] if r["case"] == "core" and r["grid"] == "linear")
    key = f"core/linear/{row['n']:.0e}".replace("+0", "")
    kept = records[1]["kernel"][key]
    assert kept["kernel_over_floor_1t"] == row["ratios"]["kernel_over_floor_1t"]
    out = tmp_path / "h.png"
    assert plot_history.main(["--history", str(path), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
