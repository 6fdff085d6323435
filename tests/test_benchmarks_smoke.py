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


def test_asv_tracking_benchmarks_run_in_tiny_mode(monkeypatch):
    """The asv suite (benchmarks/tracking) imports, and its setup and track_* functions run."""
    from benchmarks.tracking import kernel_ratios as kr

    conf = json.loads((ROOT / "asv.conf.json").read_text())
    assert conf["environment_type"] == "existing"
    assert (ROOT / conf["benchmark_dir"]) == Path(kr.__file__).parent
    monkeypatch.setattr(kr, "SIZES", [2000])
    monkeypatch.setattr(kr, "GRIDS", ["all_open"])
    monkeypatch.setattr(kr, "REPEATS", 1)
    monkeypatch.setattr(kr, "BUDGET", 2e3)
    cache = kr.setup_cache()
    assert set(cache) == {"nucleus/all_open/2000", "core/all_open/2000"}
    tracks = [getattr(kr, name) for name in dir(kr) if name.startswith("track_")]
    assert len(tracks) == 5
    for track in tracks:
        assert track.param_names == ("channel", "grid", "n") and len(track.params) == 3
        for channel in ("nucleus", "core"):
            assert _finite_positive(track(cache, channel, "all_open", 2000))


def test_asv_sweep_ratios_run_in_tiny_mode(monkeypatch):
    """The sweep's asv benchmarks: engine, raw write, serial job and disk floor are timed
    and their ratios are finite and positive (two compressions, a two-m0 scan)."""
    from benchmarks.tracking import sweep_ratios as sr

    monkeypatch.setattr(sr, "M0_COUNT", 2)
    monkeypatch.setattr(sr, "COMPRESSIONS", {"none": None, "zstd": 3})
    cache = sr.setup_cache()
    assert set(cache) == {"none", "zstd"}
    tracks = [getattr(sr, name) for name in dir(sr) if name.startswith("track_")]
    assert len(tracks) == 3
    for track in tracks:
        assert track.param_names == ("compression",)
        for compression in cache:
            assert _finite_positive(track(cache, compression))


def test_track_machine_name_and_history_plot_from_asv_results(tmp_path):
    """The machine key of the asv results, and history.png drawn from an asv results file."""
    from benchmarks import plot_history, track

    name = track.machine_name({"cpu_model": "Intel(R) Xeon(R) Processor",
                               "llvm_host_cpu": "emeraldrapids", "usable_cpus": 2})
    assert name == "intel-xeon-processor-emeraldrapids-2cpu"
    keys = ["kernel_ratios.track_kernel_over_floor", "kernel_ratios.track_numpy_over_kernel"]
    params = [["'nucleus'", "'core'"], ["'all_open'"], ["100000"]]
    for commit, date, value in (("a" * 40, 1, 1.1), ("b" * 40, 2, 1.02)):
        machine_dir = tmp_path / name
        machine_dir.mkdir(exist_ok=True)
        result = {
            "commit_hash": commit, "env_name": "existing-py", "date": date,
            "params": {"machine": name, "python": "3.11"}, "python": "3.11",
            "requirements": {}, "env_vars": {},
            "result_columns": ["result", "params", "version", "started_at", "duration"],
            "results": {k: [[value, 30.0], params, "v", 0, 1.0] for k in keys},
            "durations": {}, "version": 2,
        }
        (machine_dir / f"{commit[:8]}-existing-py.json").write_text(json.dumps(result))
    records = plot_history.load(tmp_path)
    assert [r["commit"] for r in records] == ["a" * 40, "b" * 40]
    assert records[1]["values"][("track_kernel_over_floor", "nucleus/all_open/100000")] == 1.02
    assert records[0]["values"][("track_numpy_over_kernel", "core/all_open/100000")] == 30.0
    out = tmp_path / "h.png"
    assert plot_history.main(["--results", str(tmp_path), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
