"""Sweep engine: block sizing, values equal renp_scan.spectrum bit for bit, resume,
refusals, bounded memory, and the dask.distributed path (LocalCluster).

Reference values are direct renp_scan.spectrum calls at the same parameters: the
engine must store exactly what the public API returns.
"""

from __future__ import annotations

import threading
import time

import h5py
import numpy as np
import pytest
from conftest import TWO_TARGET_SCAN, small_scan_text
from hypothesis import given, settings
from hypothesis import strategies as st

import renp_scan
from renp_scan.cube.writer import CubeWriter
from renp_scan.errors import InputError
from renp_scan.sweep import executors
from renp_scan.sweep.blocks import MAX_CHUNK_BYTES, CostModel, choose_chunk
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.planning import estimate_scan
from renp_scan.sweep.scanfile import parse_scan
from renp_scan.sweep.scheduler import connect_scheduler


def reference_rate(spec, target, dtype="float64"):
    """The cube of ``spec`` computed line by line with the public API.

    Dims (hierarchy, nature, channel, coulomb_model, phase, m0, omega), written out
    here rather than taken from the cube layout under test. ``dtype`` is that of the
    ``out`` array each row is computed into (float32: the kernel's float32 path).
    """
    omega = spec.omega_eV[target]
    ref = np.empty(spec.shape(target), dtype=dtype)
    for ih, h in enumerate(spec.hierarchies):
        for inat, nature in enumerate(spec.natures):
            for ic, channel in enumerate(spec.channels):
                for icm, model in enumerate(spec.coulomb_models):
                    for ip, phases in enumerate(spec.majorana_phases_rad):
                        for im, m0 in enumerate(spec.m0_eV):
                            ref[ih, inat, ic, icm, ip, im] = renp_scan.spectrum(
                                target, omega, float(m0), hierarchy=h,
                                majorana=nature == "majorana", channel=channel,
                                density_cm3=spec.physics.density_cm3,
                                volume_cm3=spec.physics.volume_cm3,
                                eta=spec.physics.eta, majorana_phases_rad=tuple(phases),
                                coulomb_model=model, out=np.empty(len(omega), dtype))
    return ref


def read_rate(path, target="Cs"):
    with h5py.File(path, "r") as f:
        return f[target]["rate"][...]


@pytest.fixture(scope="module")
def small_spec():
    return parse_scan(small_scan_text())


@pytest.fixture(scope="module")
def small_reference(small_spec):
    return reference_rate(small_spec, "Cs")


# ------------------------------------------------------------------ block sizing


@settings(deadline=None, max_examples=200)
@given(n_m0=st.integers(1, 5000), n_omega=st.integers(1, 2_000_000),
       call_s=st.floats(1e-7, 1e-2), point_s=st.floats(1e-9, 1e-4),
       target_s=st.floats(0.01, 2.0), itemsize=st.sampled_from([4, 8]))
def test_choose_chunk_bounds(n_m0, n_omega, call_s, point_s, target_s, itemsize):
    cost = CostModel(call_s=call_s, point_s=point_s)
    rows, cols = choose_chunk(n_m0, n_omega, cost, target_s, itemsize)
    assert cols == n_omega  # blocks never split omega (bit-for-bit identity with spectrum)
    assert 1 <= rows <= n_m0
    if rows > 1:
        assert rows * cols * itemsize <= MAX_CHUNK_BYTES
        assert cost.block_seconds(rows, cols) <= 1.5 * target_s
    # Not needlessly small: one more row per block would break a limit (up to balancing).
    grown = 2 * rows + 1
    assert (grown > n_m0 or grown * cols * itemsize > MAX_CHUNK_BYTES
            or cost.block_seconds(grown, cols) > target_s)


def test_choose_chunk_examples():
    cost = CostModel(call_s=20e-6, point_s=60e-9)
    # 1000 omega points per row cost 80 us: about 0.3 s / 80 us = 3750 rows fit.
    assert choose_chunk(200, 1000, cost, 0.3) == (200, 1000)
    # ... but the 4 MiB chunk cap allows only 524 rows of 1000 float64 values.
    assert choose_chunk(100_000, 1000, cost, 0.3) == (MAX_CHUNK_BYTES // 8 // 1000, 1000)
    # An expensive call (20 ms): 0.3 s / 20.06 ms = 14 rows, balanced over 1000 rows.
    assert choose_chunk(1000, 1000, CostModel(call_s=20e-3, point_s=60e-9), 0.3) == (14, 1000)
    # A row of 10^7 points (80 MB, 0.6 s) is still one block: omega is never split.
    assert choose_chunk(10, 10_000_000, cost, 0.3) == (1, 10_000_000)


# ------------------------------------------------------------------ values


def test_cube_equals_spectrum_bit_for_bit(tmp_path, small_spec, small_reference):
    out = tmp_path / "cube.h5"
    report = run_scan(small_spec, out, workers=2, progress=False)
    assert report.n_entries == small_spec.n_entries() == small_reference.size
    assert report.blocks_computed == report.blocks_total
    rate = read_rate(out)
    assert rate.dtype == np.float64
    assert np.array_equal(rate, small_reference)  # exact, not approximate
    assert np.all(np.isfinite(rate))
    assert not (tmp_path / "cube.h5.partial").exists()
    assert not (tmp_path / "cube.h5.lock").exists()
    with renp_scan.open_cube(out, "Cs") as ds:
        assert np.array_equal(ds["rate"].values, small_reference)
        assert ds.attrs["eps_eg_eV"] == renp_scan.get_target("Cs").eps_eg_eV
    with h5py.File(out) as f:
        assert f.attrs["scan_text"] == small_spec.text
        assert f.attrs["scan_sha256"] == small_spec.sha256
        assert f.attrs["oscillation_normal_dm21_sq_eV2"] > 0
        assert f.attrs["constant_G_F_EV2"] == pytest.approx(1.1663787e-23, rel=1e-6)


@pytest.mark.parametrize("dtype,compression", [("float32", "lzf"), ("float64", "none")])
def test_other_storage_settings(tmp_path, small_reference, dtype, compression):
    spec = parse_scan(small_scan_text(dtype=dtype, compression=compression))
    run_scan(spec, tmp_path / "c.h5", workers=1, progress=False)
    rate = read_rate(tmp_path / "c.h5")
    assert rate.dtype == np.dtype(dtype)
    # every entry is the public call with an ``out`` of the cube's dtype, bit for bit
    assert np.array_equal(rate, reference_rate(spec, "Cs", dtype))
    # and the float32 path is within its stated 5 x 2^-24 of float64 (all terms >= 0 here)
    np.testing.assert_array_equal(rate == 0, small_reference == 0)
    np.testing.assert_allclose(rate, small_reference, rtol=5 * 2.0**-24, atol=0)


def test_block_layout_does_not_change_values(tmp_path, small_spec, small_reference):
    report = run_scan(small_spec, tmp_path / "c.h5", workers=2, progress=False, block_rows=2)
    assert report.blocks_total == 16 * 2  # 16 lines x (2 + 1) m0 rows
    n_omega = len(small_spec.omega_eV["Cs"])
    with h5py.File(tmp_path / "c.h5") as f:
        assert f["Cs/rate"].chunks == (1, 1, 1, 1, 1, 2, n_omega)
    assert np.array_equal(read_rate(tmp_path / "c.h5"), small_reference)


def test_two_targets(tmp_path):
    spec = parse_scan(TWO_TARGET_SCAN)
    run_scan(spec, tmp_path / "c.h5", workers=2, progress=False)
    for target in ("Cs", "Xe"):
        assert np.array_equal(read_rate(tmp_path / "c.h5", target), reference_rate(spec, target))


def test_estimate(small_spec):
    est = estimate_scan(small_spec, workers=2)
    assert est.n_entries == small_spec.n_entries()
    assert est.raw_bytes == 8 * small_spec.n_entries()
    assert est.cpu_seconds > 0 and est.encode_seconds > 0
    assert est.wall_seconds == pytest.approx(
        est.cpu_seconds / 2 + est.encode_seconds + est.compile_seconds, rel=1e-12)
    assert sum(lay.n_blocks for lay in est.layouts) >= 16


def test_estimated_file_size_is_close(tmp_path, small_spec):
    # The estimate extrapolates sample blocks' compressed size; check its data part
    # against the stored chunks within a factor of 2 (the spread of compressibility
    # over m0 makes it inexact), and the whole against the file size.
    est = estimate_scan(small_spec, workers=1)
    run_scan(small_spec, tmp_path / "c.h5", workers=1, progress=False)
    with h5py.File(tmp_path / "c.h5") as f:
        dset = f["Cs/rate"]
        stored = sum(dset.id.get_chunk_info(i).size for i in range(dset.id.get_num_chunks()))
    assert 0.5 < est.data_bytes / stored < 2.0
    assert 0.5 < est.file_bytes / (tmp_path / "c.h5").stat().st_size < 2.0


# ------------------------------------------------------------------ resume


class Boom(RuntimeError):
    pass


def failing_after(n_ok, monkeypatch):
    """Make the engine's block task fail after ``n_ok`` successful blocks."""
    real = executors.compute_block
    calls = iter(range(10**9))
    lock = threading.Lock()

    def flaky(task, *lent):
        with lock:
            k = next(calls)
        if k >= n_ok:
            raise Boom(f"block {k}")
        return real(task, *lent)

    monkeypatch.setattr(executors, "compute_block", flaky)


def test_resume_after_failure_equals_uninterrupted_run(tmp_path, small_spec, small_reference,
                                                       monkeypatch):
    out = tmp_path / "c.h5"
    with monkeypatch.context() as m:
        failing_after(5, m)
        with pytest.raises(Boom):
            run_scan(small_spec, out, workers=1, progress=False, block_rows=1)
    partial = tmp_path / "c.h5.partial"
    assert partial.exists() and not out.exists()
    assert not (tmp_path / "c.h5.lock").exists()
    with h5py.File(partial) as f:
        done = int(f["_progress/Cs/done"][...].sum())
    assert 1 <= done <= 5
    report = run_scan(small_spec, out, workers=2, progress=False)
    assert report.blocks_total == 48 and report.blocks_computed == 48 - done
    assert np.array_equal(read_rate(out), small_reference)
    with h5py.File(out) as f:
        assert f.attrs["run_sessions"] == 2
        assert f["Cs/rate"].chunks == (1, 1, 1, 1, 1, 1, len(small_spec.omega_eV["Cs"]))


def test_failure_before_any_block_leaves_no_file(tmp_path, small_spec, monkeypatch):
    failing_after(0, monkeypatch)
    with pytest.raises(Boom):
        run_scan(small_spec, tmp_path / "c.h5", workers=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_partial_of_another_scan_is_refused(tmp_path, small_spec, monkeypatch):
    out = tmp_path / "c.h5"
    with monkeypatch.context() as m:
        failing_after(2, m)
        with pytest.raises(Boom):
            run_scan(small_spec, out, workers=1, progress=False)
    other = parse_scan(TWO_TARGET_SCAN)
    with pytest.raises(InputError, match="different scan") as err:
        run_scan(other, out, workers=1, progress=False)
    assert err.value.field == "output"
    run_scan(other, out, workers=1, progress=False, overwrite=True)
    with h5py.File(out) as f:
        assert f.attrs["scan_sha256"] == other.sha256


TWO_MODEL_SCAN = small_scan_text().replace(
    'channels = ["nucleus", "core"]',
    'channels = ["nucleus", "core"]\ncoulomb_models = ["thomas-fermi", "valence"]')


def test_two_coulomb_models_resume_and_axis_check(tmp_path, monkeypatch):
    spec = parse_scan(TWO_MODEL_SCAN)
    assert spec.coulomb_models == ("thomas-fermi", "valence")
    out = tmp_path / "c.h5"
    with monkeypatch.context() as m:
        failing_after(5, m)
        with pytest.raises(Boom):
            run_scan(spec, out, workers=1, progress=False, block_rows=1)
    partial = tmp_path / "c.h5.partial"
    # The partial's Coulomb-model axis must be the scan's: labels swapped is damage.
    damaged = tmp_path / "d.h5.partial"
    damaged.write_bytes(partial.read_bytes())
    with h5py.File(damaged, "r+") as f:
        f["Cs/coulomb_model"][...] = np.array(["valence", "thomas-fermi"], dtype=object)
    with pytest.raises(InputError, match="coulomb_models of target Cs differ") as err:
        run_scan(spec, tmp_path / "d.h5", workers=1, progress=False)
    assert err.value.field == "output"
    # The undamaged partial resumes to the full two-model cube.
    report = run_scan(spec, out, workers=2, progress=False)
    assert report.blocks_total == 2 * 48  # twice the lines of the one-model scan
    assert np.array_equal(read_rate(out), reference_rate(spec, "Cs"))


def test_coulomb_model_without_data_is_refused_before_any_file(tmp_path, monkeypatch):
    # Preflight runs every (target, ..., coulomb_model, phase) combination: a target the
    # valence model cannot handle fails before anything is written.
    from renp_scan.model import valence

    def no_levels(target, channel):
        raise InputError("coulomb_model", f"no valence levels for {target.name}")

    monkeypatch.setattr(valence, "valence_coulomb_eV", no_levels)
    spec = parse_scan(TWO_TARGET_SCAN.replace(
        'channels = ["nucleus"]', 'channels = ["nucleus"]\ncoulomb_models = ["valence"]'))
    renp_scan.model.spectrum._cached_model.cache_clear()
    try:
        with pytest.raises(InputError, match="no valence levels") as err:
            run_scan(spec, tmp_path / "c.h5", workers=1, progress=False)
    finally:
        renp_scan.model.spectrum._cached_model.cache_clear()
    assert err.value.field == "coulomb_model"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_shipped_coulomb_models_scan_through_the_cli(tmp_path):
    # scans/cs_coulomb_models.toml run as a user runs it; each Coulomb-model slice of
    # the cube is renp_scan.spectrum with that model, bit for bit, and valence / TF is
    # the squared ratio of the two Coulomb integrals (C = Q_w J enters F squared).
    import shutil
    import subprocess
    from pathlib import Path

    from renp_scan.model.valence import valence_coulomb_eV

    exe = shutil.which("renp-scan")
    if exe is None:
        pytest.skip("renp-scan entry point not installed")
    scan = Path(__file__).resolve().parents[1] / "scans" / "cs_coulomb_models.toml"
    out = tmp_path / "models.h5"
    proc = subprocess.run([exe, "run", str(scan), "-o", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    spec = parse_scan(scan.read_text(encoding="utf-8"))
    omega = spec.omega_eV["Cs"]
    assert omega.size > 2000
    target = renp_scan.get_target("Cs")
    squared_ratio = (valence_coulomb_eV(target, "nucleus")
                     / renp_scan.coulomb_integrals().J_N_eV(target.Z)) ** 2
    with renp_scan.open_cube(out, "Cs") as ds:
        assert list(ds["coulomb_model"].values) == ["thomas-fermi", "valence"]
        assert "units" not in ds["coulomb_model"].attrs  # CF: string labels have no units
        for nature in ("majorana", "dirac"):
            lines = {}
            for model in ("thomas-fermi", "valence"):
                stored = ds.rate.sel(coulomb_model=model, hierarchy="NH", nature=nature,
                                     channel="nucleus", m0=0.1).isel(phase=0).values
                direct = renp_scan.spectrum("Cs", omega, 0.1, hierarchy="NH",
                                            majorana=nature == "majorana", channel="nucleus",
                                            coulomb_model=model)
                assert np.array_equal(stored, direct), (nature, model)  # bit for bit
                lines[model] = stored
            tf, val = lines["thomas-fermi"], lines["valence"]
            open_ = tf > 0
            assert open_.sum() > 1000 and np.array_equal(open_, val > 0)
            np.testing.assert_allclose(val[open_] / tf[open_], squared_ratio, rtol=1e-12, atol=0)


def test_finished_output_needs_overwrite(tmp_path, small_spec):
    out = tmp_path / "c.h5"
    out.write_text("not a cube")
    with pytest.raises(InputError, match="not a finished renp_scan cube"):
        run_scan(small_spec, out, progress=False)
    run_scan(small_spec, out, progress=False, overwrite=True)
    other = parse_scan(small_scan_text().replace('name = "small"', 'name = "other"'))
    with pytest.raises(InputError, match="is a finished cube of another scan.*--overwrite"):
        run_scan(other, out, progress=False)
    before = out.read_bytes()
    report = run_scan(small_spec, out, progress=False)  # the same scan: nothing to do
    assert report.nothing_to_do and report.blocks_computed == 0
    assert out.read_bytes() == before


def test_bad_output_and_arguments_create_nothing(tmp_path, small_spec):
    with pytest.raises(InputError, match="does not exist") as err:
        run_scan(small_spec, tmp_path / "nope" / "c.h5", progress=False)
    assert err.value.field == "output"
    with pytest.raises(InputError, match="is a directory"):
        run_scan(small_spec, tmp_path, progress=False)
    with pytest.raises(InputError) as err:
        run_scan(small_spec, tmp_path / "c.h5", workers=0, progress=False)
    assert err.value.field == "workers"
    with pytest.raises(InputError) as err:
        run_scan(small_spec, tmp_path / "c.h5", workers=2, scheduler="tcp://x:1", progress=False)
    assert err.value.field == "workers"
    assert list(tmp_path.iterdir()) == []


def test_live_lock_refuses_a_second_run(tmp_path, small_spec):
    lock = tmp_path / "c.h5.lock"
    import os
    import socket

    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")
    with pytest.raises(InputError, match="being written"):
        run_scan(small_spec, tmp_path / "c.h5", progress=False)
    assert not (tmp_path / "c.h5.partial").exists()
    assert lock.exists()  # someone else's lock is left alone


# ------------------------------------------------------------------ memory bound


def test_in_flight_blocks_are_bounded(tmp_path, monkeypatch):
    # A slow writer: computed-but-unwritten blocks must stay within the hand-off
    # window plus the blocks being computed, however many blocks the cube has.
    eight_m0 = "values_eV = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.1]"
    spec = parse_scan(small_scan_text().replace("values_eV = [0.0, 0.05, 0.1]", eight_m0))
    workers = 2
    state = {"computed": 0, "written": 0, "max_backlog": 0}
    lock = threading.Lock()
    real_compute, real_write = executors.compute_block, CubeWriter.write_block

    def counting_compute(task, *lent):
        data = real_compute(task, *lent)
        with lock:
            state["computed"] += 1
            state["max_backlog"] = max(state["max_backlog"], state["computed"] - state["written"])
        return data

    def slow_write(self, target, index, data):
        time.sleep(0.01)
        real_write(self, target, index, data)
        with lock:
            state["written"] += 1

    monkeypatch.setattr(executors, "compute_block", counting_compute)
    monkeypatch.setattr(CubeWriter, "write_block", slow_write)
    report = run_scan(spec, tmp_path / "c.h5", workers=workers, progress=False, block_rows=1)
    assert report.blocks_total == 16 * 8
    assert state["written"] == report.blocks_total
    assert state["max_backlog"] <= executors.WINDOW_PER_WORKER * workers + workers + 1
    assert np.array_equal(read_rate(tmp_path / "c.h5"), reference_rate(spec, "Cs"))


# ------------------------------------------------------------------ distributed


@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        yield cluster


def test_distributed_run_equals_threaded(tmp_path, small_spec, small_reference, local_cluster):
    report = run_scan(small_spec, tmp_path / "c.h5", scheduler=local_cluster.scheduler_address,
                      progress=False, block_rows=1)
    assert report.blocks_total == 48
    assert report.blocks_computed == report.blocks_total
    assert np.array_equal(read_rate(tmp_path / "c.h5"), small_reference)


def test_unreachable_scheduler_is_input_error(tmp_path, small_spec):
    pytest.importorskip("distributed")
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        connect_scheduler("tcp://127.0.0.1:9", timeout="1s")
    assert err.value.field == "scheduler"
    assert time.perf_counter() - start < 15


def test_block_memory_is_reused_and_bounded_by_the_window(tmp_path, small_spec, monkeypatch):
    """The local runner lends each block's memory again once it is written: a run of
    many blocks allocates only about the in-flight window's worth, and the cube is the
    same as the reference."""
    allocated = []

    class CountingPool(executors.BufferPool):
        def take(self, nbytes, held):
            before = sum(len(v) for v in self._free.values())
            buffer = super().take(nbytes, held)
            if sum(len(v) for v in self._free.values()) == before:  # nothing reused
                allocated.append(nbytes)
            return buffer

    monkeypatch.setattr(executors, "BufferPool", CountingPool)
    workers = 2
    report = run_scan(small_spec, tmp_path / "c.h5", workers=workers, progress=False,
                      block_rows=1)
    assert report.blocks_total >= 48
    window = executors.WINDOW_PER_WORKER * workers + workers + 1
    assert 0 < len(allocated) <= 3 * window, (len(allocated), report.blocks_total)
    assert np.array_equal(read_rate(tmp_path / "c.h5", "Cs"), reference_rate(small_spec, "Cs"))
