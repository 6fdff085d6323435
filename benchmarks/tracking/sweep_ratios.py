"""Same-run ratios of the sweep, as ``asv`` track benchmarks.

``setup_cache`` runs :mod:`benchmarks.bench_sweep`'s measurements on
``scans/benchmark.toml`` cut to :data:`M0_COUNT` m0 values (6e6 entries, 48 MB
uncompressed) for each compression: the engine (:func:`~renp_scan.sweep.engine.run_scan`
on the usable cores), the raw h5py write of the engine's cube, the one-thread serial job
(``spectrum()`` rows + plain h5py) and the disk floor (the file's bytes with ``os.write``
and ``fsync``), each the median of up to three runs. The ``track_*`` functions return
ratios of those wall times, taken seconds apart in the same process.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.bench_sweep import disk_floor, engine, raw_write, scan_text, serial_baseline
from renp_scan.sweep.scanfile import parse_scan

#: m0 values of the tracked scan (benchmark.toml has 200).
M0_COUNT = 10
#: (compression, level) tracked.
COMPRESSIONS = {"none": None, "gzip": 1, "lzf": None, "zstd": 3}

PARAMS = (list(COMPRESSIONS),)
PARAM_NAMES = ("compression",)


def measure(compression: str, work: Path) -> dict:
    """Wall seconds of engine, raw write, serial job and disk floor for one compression."""
    spec = parse_scan(scan_text(M0_COUNT, compression, COMPRESSIONS[compression]))
    cube = work / f"{compression}.h5"
    eng = engine(spec, cube)
    times = {
        "engine": eng["seconds"],
        "raw": raw_write(cube, work / "raw.h5")["seconds"],
        "serial": serial_baseline(spec, cube, work / "serial.h5")["seconds"],
        "disk": disk_floor(eng["file_bytes"], work / "disk.bin")["seconds"],
    }
    for name in (cube, work / "raw.h5", work / "serial.h5"):
        name.unlink(missing_ok=True)
    return times


def setup_cache():
    work = Path(tempfile.mkdtemp(prefix="renp-asv-sweep-"))
    try:
        engine(parse_scan(scan_text(2)), work / "warmup.h5", repeat=False)  # JIT cache, imports
        return {c: measure(c, work) for c in COMPRESSIONS}
    finally:
        shutil.rmtree(work, ignore_errors=True)


setup_cache.timeout = 1800


def track_engine_over_raw_throughput(cache, compression):
    """Engine throughput / raw h5py write throughput of the same cube (goal >= 0.9 zstd, lzf)."""
    return cache[compression]["raw"] / cache[compression]["engine"]


def track_engine_over_serial_time(cache, compression):
    """Engine time / one-thread spectrum() + plain h5py time."""
    return cache[compression]["engine"] / cache[compression]["serial"]


def track_engine_over_disk_time(cache, compression):
    """Engine time / the disk floor (the file's bytes with os.write + fsync)."""
    return cache[compression]["engine"] / cache[compression]["disk"]


for _f in (track_engine_over_raw_throughput, track_engine_over_serial_time,
           track_engine_over_disk_time):
    _f.params, _f.param_names, _f.unit = PARAMS, PARAM_NAMES, "ratio"
