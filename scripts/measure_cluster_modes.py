"""Measure the two distributed write modes and the shard merge (numbers in docs/cluster.md).

    python scripts/measure_cluster_modes.py scans/benchmark.toml --workers 2 --out /tmp/m

* single writer (``--scheduler``): every block travels to the client, which writes it;
* workers writing in place (``--write-on-workers``): blocks go to per-worker piece
  files, the client receives receipts and collects the pieces at the end;
* merge: the scan as 2 shards (``--shard``), then the merge alone, in s per GB.

Bytes reaching the client are the task results it receives (``Future.result``),
counted as stored bytes for blocks (already compressed for gzip) and as pickled
size for receipts. Both modes run on one ``LocalCluster`` of ``--workers``
single-thread worker processes.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path


def payload_bytes(value) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    return len(pickle.dumps(value))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("scan")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="/tmp/renp-measure")
    args = p.parse_args()

    import distributed

    from renp_scan.cube.merge import merge_shards
    from renp_scan.sweep import pieces
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.pieces import run_writing_on_workers
    from renp_scan.sweep.scanfile import load_scan
    from renp_scan.sweep.shards import run_shard

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in out.iterdir():
        f.unlink()
    spec = load_scan(args.scan)
    received = [0]
    original = distributed.Future.result

    def counting_result(self, *a, **k):
        value = original(self, *a, **k)
        received[0] += payload_bytes(value)
        return value

    distributed.Future.result = counting_result
    collect = pieces.collect_pieces
    collect_s = [0.0]

    def timed_collect(*a, **k):
        t = time.perf_counter()
        try:
            return collect(*a, **k)
        finally:
            collect_s[0] += time.perf_counter() - t

    pieces.collect_pieces = timed_collect
    print(f"scan {spec.name}: {spec.n_entries():,} entries; {args.workers} worker processes; "
          f"load average {os.getloadavg()}")
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: __import__("renp_scan").spectrum)  # import on the workers first
        for mode in ("single-writer", "write-on-workers", "single-writer", "write-on-workers"):
            cube = out / f"{mode}.h5"
            cube.unlink(missing_ok=True)
            received[0], collect_s[0] = 0, 0.0
            t = time.perf_counter()
            if mode == "single-writer":
                run_scan(spec, cube, scheduler=client, progress=False)
            else:
                run_writing_on_workers(spec, cube, scheduler=client, progress=False)
            wall = time.perf_counter() - t
            size = cube.stat().st_size
            extra = f", collecting the pieces {collect_s[0]:.1f} s" if collect_s[0] else ""
            print(f"{mode}: wall {wall:.1f} s, {received[0] / 1e6:.3f} MB reached the client "
                  f"(file {size / 1e6:.0f} MB){extra}")
    distributed.Future.result = original
    t = time.perf_counter()
    for i in (1, 2):
        run_shard(spec, out / "sharded.h5", (i, 2), merge=False, progress=False)
    shards_s = time.perf_counter() - t
    report = merge_shards(out / "sharded.h5")
    size = (out / "sharded.h5").stat().st_size
    print(f"2 shards computed in {shards_s:.1f} s (one after the other); merge "
          f"{report.seconds:.2f} s for {report.bytes_copied / 1e9:.3f} GB of chunks "
          f"(file {size / 1e9:.3f} GB): {report.seconds / (report.bytes_copied / 1e9):.2f} s/GB")


if __name__ == "__main__":
    main()
