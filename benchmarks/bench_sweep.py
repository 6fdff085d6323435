"""Sweep end to end: engine vs kernel alone vs a raw h5py write; compression; scaling.

1. ``kernel_alone``: every Gamma row of the scan computed with ``SpectrumModel.evaluate``
   into a reused buffer (no file), on 1 and 2 threads: the compute the engine must do.
2. ``engine``: :func:`renp_scan.sweep.engine.run_scan` on the scan (default workers),
   wall time including preflight, file creation, provenance and finalisation.
3. ``raw_write``: the engine's finished cube is read into memory, then written again with
   plain h5py into a new file, same shape, dtype, chunks and filters, chunk by chunk:
   the cost of storing exactly those bytes with nothing else in the way.
4. ``serial_baseline``: the whole job done the plain way on one thread: every block's
   rows computed with :func:`renp_scan.spectrum` (``out=`` a chunk buffer), each chunk
   written with plain h5py into a new file of the engine cube's shape, dtype, chunks and
   filters, then an ``fsync``. No resume, checks or provenance.
5. ``disk_floor``: the cube's file size written with ``os.write`` and fsynced: what
   getting those bytes to disk costs anything. Its ratio to the serial baseline is the
   lowest engine / serial time any engine can reach.

Goals: engine time <= 0.5x the serial baseline without compression (the engine has every
core and overlaps compute with the write); engine throughput >= 0.9x the raw write
with zstd and lzf. Each compression choice (none, gzip 1/4/6, lzf, zstd via hdf5plugin;
Blosc/Zstd in the raw write only, the engine has no Blosc option) is run through all
three, with the file size.

``scaling`` runs ``renp-scan run`` in a subprocess under ``/usr/bin/time -v`` for cube
sizes 1e6 ... 1e9 entries (m0 count varied; the same work per entry): wall time
should grow linearly and the peak RSS stay flat.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

import renp_scan
from renp_scan.cube.schema import read_layout
from renp_scan.model.spectrum import build_model
from renp_scan.sweep.engine import run_scan
from renp_scan.sweep.scanfile import parse_scan

from .common import ROOT

BASE_SCAN = ROOT / "scans" / "benchmark.toml"
#: Entries per m0 point of benchmark.toml: 3 targets x 2 hierarchies x 2 natures x 50_000.
ENTRIES_PER_M0 = 3 * 2 * 2 * 50_000
COMPRESSIONS = {
    "smoke": [("gzip", 4)],
    "quick": [("none", None), ("gzip", 1), ("gzip", 4), ("lzf", None), ("zstd", 3)],
    "full": [
        ("none", None),
        ("gzip", 1),
        ("gzip", 4),
        ("gzip", 6),
        ("lzf", None),
        ("zstd", 1),
        ("zstd", 3),
    ],
}
#: m0 count of the compression runs: 200 is benchmark.toml itself (1.2e8 entries).
SWEEP_M0 = {"smoke": 2, "quick": 40, "full": 200}
#: Seconds of repeated runs allowed per sweep measurement (gzip runs once at full size).
REPEAT_BUDGET_S = 20.0
SCALING_ENTRIES = {"smoke": [], "quick": [1e6, 1e7, 1e8], "full": [1e6, 1e7, 1e8, 1e9]}


def scan_text(m0_count=None, compression=None, level=None, shuffle=True, omega_count=None) -> str:
    """benchmark.toml with the m0 count and the [output] table replaced."""
    text = BASE_SCAN.read_text()
    if m0_count is not None:
        text = re.sub(r"(\[m0\][^\[]*?count = )[\d_]+", rf"\g<1>{int(m0_count)}", text)
    if omega_count is not None:
        text = re.sub(r"(\[omega\][^\[]*?count = )[\d_]+", rf"\g<1>{int(omega_count)}", text)
    if compression is not None:
        lines = [f'compression = "{compression}"']
        if level is not None:
            lines.append(f"compression_level = {int(level)}")
        lines.append(f"shuffle = {'true' if shuffle else 'false'}")
        text = re.sub(
            r"compression = .*\n(compression_level = .*\n)?shuffle = .*\n",
            "\n".join(lines) + "\n",
            text,
        )
    return text


def _rows(spec):
    """(model, omega) for every spectrum line of ``spec`` (one m0 at a time)."""
    for target in spec.targets:
        omega = np.ascontiguousarray(spec.omega_eV[target], dtype=np.float64)
        for hier in spec.hierarchies:
            for nature in spec.natures:
                for channel in spec.channels:
                    for phases in np.asarray(spec.majorana_phases_rad, float):
                        for m0 in spec.m0_eV:
                            model = build_model(
                                target,
                                float(m0),
                                hier,
                                nature == "majorana",
                                channel,
                                spec.physics.density_cm3,
                                spec.physics.volume_cm3,
                                spec.physics.eta,
                                tuple(phases),
                            )
                            yield model, omega


def kernel_alone(spec, threads=1) -> dict:
    """Seconds to compute every entry of ``spec`` with the kernel, no file (models prebuilt)."""
    rows = list(_rows(spec))
    n = sum(o.size for _, o in rows)
    width = max(o.size for _, o in rows)

    def work(part):
        buf = np.empty(width)
        for model, omega in part:
            model.evaluate(omega, buf[: omega.size])

    work(rows[:1])
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(work, [rows[:1]] * threads))  # threads started before the clock
        start = time.perf_counter()
        if threads == 1:
            work(rows)
        else:
            list(ex.map(work, [rows[i::threads] for i in range(threads)]))
        seconds = time.perf_counter() - start
    return {"threads": threads, "entries": n, "seconds": seconds, "entries_per_s": n / seconds}


def engine(spec, out: Path, workers=None, repeat=True) -> dict:
    """Time :func:`run_scan` (median of up to 3 runs when one run is short)."""

    def once():
        report = run_scan(
            spec, out, workers=workers, overwrite=True, progress=False, handle_signals=False
        )
        once.report = report
        return report.seconds

    first = once()
    seconds, runs = _median_runs(once, first) if repeat else (first, [first])
    report = once.report
    return {
        "entries": report.n_entries,
        "seconds": seconds,
        "runs_s": runs,
        "entries_per_s": report.n_entries / seconds,
        "file_bytes": report.file_bytes,
        "blocks": report.blocks_total,
    }


def _filters_of(dset) -> dict:
    """create_dataset keyword arguments reproducing ``dset``'s filter pipeline."""
    plist = dset.id.get_create_plist()
    kw = {}
    for i in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(i)
        if code == h5py.h5z.FILTER_SHUFFLE:
            kw["shuffle"] = True
        elif code == h5py.h5z.FILTER_DEFLATE:
            kw["compression"] = "gzip"
            kw["compression_opts"] = int(values[0])
        elif code == h5py.h5z.FILTER_LZF:
            kw["compression"] = "lzf"
        else:  # a plugin filter (zstd): pass its id and options through
            kw["compression"] = code
            kw["compression_opts"] = tuple(values)
    return kw


def _median_runs(run_once, first_seconds, budget_s=REPEAT_BUDGET_S, most=3):
    """Medians over extra runs while they fit in ``budget_s`` (fast cases are noisier)."""
    times = [first_seconds]
    while len(times) < most and sum(times) + times[0] < budget_s:
        times.append(run_once())
    return float(np.median(times)), times


def raw_write(cube: Path, out: Path, extra_filters=None) -> dict:
    """Time writing the cube's ``rate`` arrays again with plain h5py (same chunks/filters).

    The timed region ends with an ``fsync`` of the file, as the engine's finalisation
    does, so both pay for getting the bytes to disk.
    """
    import hdf5plugin  # noqa: F401  (registers zstd/blosc for reading and writing)

    data = {}
    with h5py.File(cube, "r") as f:
        for name, group in f.items():
            if isinstance(group, h5py.Group) and "rate" in group:
                d = group["rate"]
                data[name] = (d[...], d.chunks, d.dtype, extra_filters or _filters_of(d))
    n = sum(a.size for a, *_ in data.values())

    def once():
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        with h5py.File(out, "w") as f:
            for name, (arr, chunks, dtype, filters) in data.items():
                dset = f.create_dataset(
                    f"{name}/rate",
                    shape=arr.shape,
                    dtype=dtype,
                    chunks=chunks,
                    fillvalue=np.nan,
                    **filters,
                )
                for sel in dset.iter_chunks():
                    dset[sel] = arr[sel]
        with open(out, "rb+") as fh:
            os.fsync(fh.fileno())
        return time.perf_counter() - start

    seconds, runs = _median_runs(once, once())
    return {
        "entries": n,
        "seconds": seconds,
        "runs_s": runs,
        "entries_per_s": n / seconds,
        "file_bytes": out.stat().st_size,
    }


def disk_floor(nbytes: int, out: Path, piece: int = 4 * 2**20) -> dict:
    """Time the least any writer of ``nbytes`` pays: ``os.write`` of 4 MiB pieces, ``fsync``.

    No HDF5, no computing: the bytes of the cube (its file size) sent to the same
    file system, then made durable, as the engine's and the baselines' timed regions
    end. Where this is most of the serial baseline, no engine can be much faster than
    the serial job however many cores it has.
    """
    data = np.random.default_rng(0).bytes(min(piece, nbytes))

    def once():
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            left = nbytes
            while left > 0:
                left -= os.write(fd, data[: min(left, len(data))])
            os.fsync(fd)
        finally:
            os.close(fd)
        return time.perf_counter() - start

    seconds, runs = _median_runs(once, once())
    out.unlink()
    return {"bytes": nbytes, "seconds": seconds, "runs_s": runs,
            "bytes_per_s": nbytes / seconds}


def serial_baseline(spec, cube: Path, out: Path) -> dict:
    """Time the plain one-thread job: spectrum() rows, then a plain h5py write per chunk.

    Shape, dtype, chunks and filters are those of the engine's ``cube``; the values
    are the same (each row is the same :func:`renp_scan.spectrum` call the engine
    makes). The timed region ends with an ``fsync`` of the file, as in
    :func:`raw_write`.
    """
    import hdf5plugin  # noqa: F401  (registers zstd)

    with h5py.File(cube, "r") as f:
        names = [str(t) for t in f.attrs["targets"]]
        plan = [(read_layout(f[name]), f[name]["rate"].dtype, _filters_of(f[name]["rate"]))
                for name in names]

    def once():
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        with h5py.File(out, "w") as f:
            for lay, dtype, filters in plan:
                dset = f.create_dataset(f"{lay.name}/rate", shape=lay.shape, dtype=dtype,
                                        chunks=lay.chunks, fillvalue=np.nan, **filters)
                buf = np.empty((lay.chunk_rows, lay.chunk_cols), dtype=dtype)
                for index in range(lay.n_blocks):
                    b = lay.block_labels(index)
                    omega = np.ascontiguousarray(b["omega_eV"], dtype=np.float64)
                    rows = buf[: len(b["m0_eV"]), : omega.size]
                    for row, m0 in enumerate(b["m0_eV"]):
                        renp_scan.spectrum(
                            lay.name, omega, float(m0), hierarchy=b["hierarchy"],
                            majorana=b["nature"] == "majorana", channel=b["channel"],
                            density_cm3=spec.physics.density_cm3, volume_cm3=spec.physics.volume_cm3,
                            eta=spec.physics.eta, majorana_phases_rad=b["phases_rad"],
                            coulomb_model=b["coulomb_model"], out=rows[row])
                    dset[lay.block_selection(index)] = rows
        with open(out, "rb+") as fh:
            os.fsync(fh.fileno())
        return time.perf_counter() - start

    seconds, runs = _median_runs(once, once())
    n = sum(lay.n_entries for lay, _, _ in plan)
    return {"entries": n, "seconds": seconds, "runs_s": runs, "entries_per_s": n / seconds,
            "file_bytes": out.stat().st_size}


def compression_table(mode, workdir: Path) -> list:
    rows = []
    for compression, level in COMPRESSIONS[mode]:
        spec = parse_scan(scan_text(SWEEP_M0[mode], compression, level))
        cube = workdir / f"cube_{compression}{level or ''}.h5"
        eng = engine(spec, cube)
        raw = raw_write(cube, workdir / "raw.h5")
        (workdir / "raw.h5").unlink()
        serial = serial_baseline(spec, cube, workdir / "serial.h5")
        (workdir / "serial.h5").unlink()
        disk = disk_floor(eng["file_bytes"], workdir / "disk.bin")
        rows.append(
            {
                "compression": compression,
                "level": level,
                "shuffle": True,
                "engine": eng,
                "raw_write": raw,
                "serial_baseline": serial,
                "disk_floor": disk,
                "engine_over_raw_throughput": eng["entries_per_s"] / raw["entries_per_s"],
                "engine_over_serial_time": eng["seconds"] / serial["seconds"],
                "engine_over_disk_time": eng["seconds"] / disk["seconds"],
                "disk_over_serial_time": disk["seconds"] / serial["seconds"],
                "compression_ratio": raw["entries"] * 8 / eng["file_bytes"],
            }
        )
        if compression == "zstd":  # Blosc/Zstd, raw write only (no engine option)
            import hdf5plugin

            blosc = hdf5plugin.Blosc(cname="zstd", clevel=level, shuffle=hdf5plugin.Blosc.SHUFFLE)
            raw_b = raw_write(cube, workdir / "raw.h5", extra_filters=dict(blosc))
            rows.append(
                {
                    "compression": "blosc-zstd",
                    "level": level,
                    "shuffle": True,
                    "engine": None,
                    "raw_write": raw_b,
                    "compression_ratio": raw_b["entries"] * 8 / raw_b["file_bytes"],
                }
            )
            (workdir / "raw.h5").unlink()
        cube.unlink()
    return rows


def _time_v(argv, cwd) -> dict:
    proc = subprocess.run(
        ["/usr/bin/time", "-v"] + argv, cwd=cwd, capture_output=True, text=True, timeout=3600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr)
    parts = [float(p) for p in wall.group(1).split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {"peak_rss_MiB": int(rss.group(1)) / 1024, "wall_s": seconds}


def scaling(mode, workdir: Path) -> list:
    exe = Path(sys.executable).with_name("renp-scan")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "renp_scan"]
    rows = []
    for target in SCALING_ENTRIES[mode]:
        m0_count = max(2, round(target / ENTRIES_PER_M0))
        need = m0_count * ENTRIES_PER_M0 * 8 * 0.6  # gzip-4 files are ~half the raw bytes
        if shutil.disk_usage(workdir).free < need * 1.5:
            rows.append({"entries": m0_count * ENTRIES_PER_M0, "skipped": "not enough disk"})
            continue
        toml = workdir / f"scale_{m0_count}.toml"
        toml.write_text(scan_text(m0_count))
        out = workdir / "scale.h5"
        res = _time_v(cmd + ["run", str(toml), "-o", str(out), "--quiet", "--overwrite"], ROOT)
        res["entries"] = m0_count * ENTRIES_PER_M0
        res["m0_count"] = m0_count
        res["file_bytes"] = out.stat().st_size
        res["entries_per_s"] = res["entries"] / res["wall_s"]
        rows.append(res)
        out.unlink()
    return rows


def run(mode="quick", workdir=None) -> dict:
    tmp = tempfile.mkdtemp(prefix="renp-sweep-bench-", dir=workdir)
    work = Path(tmp)
    try:
        spec = parse_scan(scan_text(SWEEP_M0[mode]))
        engine(parse_scan(scan_text(2)), work / "warmup.h5", repeat=False)  # JIT cache, imports
        (work / "warmup.h5").unlink()
        result = {
            "scan": f"scans/benchmark.toml with m0 count {SWEEP_M0[mode]}",
            "entries": spec.n_entries(),
            "kernel_alone": [kernel_alone(spec, 1), kernel_alone(spec, 2)],
            "compression": compression_table(mode, work),
            "scaling": scaling(mode, work),
            "workers": len(os.sched_getaffinity(0)),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    default = next(
        (r for r in result["compression"] if r["compression"] == "gzip" and r["level"] == 4), None
    )
    if default is not None:
        k2 = result["kernel_alone"][1]["entries_per_s"]
        result["default_gzip4"] = {
            "engine_over_raw_throughput": default["engine_over_raw_throughput"],
            "engine_over_kernel_2t_throughput": default["engine"]["entries_per_s"] / k2,
        }
    return result
