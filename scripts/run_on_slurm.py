"""Run a scan on SLURM worker jobs submitted by dask-jobqueue (docs/cluster.md).

Run this in a small job (or on a login node if allowed): it starts a dask
scheduler here, submits ``--jobs`` worker jobs of ``--cores`` threads each, and
computes the scan with ``renp_scan.sweep.engine.run_scan``. The worker jobs run
the Python that runs this script (``sys.executable``, so the same virtual
environment) with this process's environment (SLURM's default ``--export=ALL``).
Rerunning the same command after any stop (a client killed by its wall-time
limit, say) resumes: finished blocks, and the pieces written by workers, are kept.

    python scripts/run_on_slurm.py scan.toml -o /scratch/me/cube.h5 \\
        --jobs 8 --cores 32 --memory 16GB --walltime 02:00:00 \\
        --queue compute --account myproject
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scan", help="scan file (TOML)")
    p.add_argument("-o", "--output", required=True, help="cube file (.h5) on a shared file system")
    p.add_argument("--jobs", type=int, default=1, help="worker jobs (nodes)")
    p.add_argument("--cores", type=int, default=1, help="threads per worker job")
    p.add_argument("--memory", default="2GB", help="memory per worker job")
    p.add_argument("--walltime", default="01:00:00", help="wall-time limit of a worker job")
    p.add_argument("--queue", help="SLURM partition")
    p.add_argument("--account", help="SLURM account")
    p.add_argument("--interface", help="network interface of scheduler and workers (e.g. ib0)")
    p.add_argument("--log-directory", help="folder for the worker jobs' output files")
    p.add_argument("--write-on-workers", action="store_true",
                   help="workers store their blocks in piece files beside the output (its "
                        "folder must be shared with the worker nodes, at the same path)")
    return p.parse_args(argv)


def make_cluster(args):
    """The SLURMCluster of the recipe: one worker process per job, the client's Python."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        queue=args.queue, account=args.account,
        cores=args.cores, processes=1,  # one worker process per job, --cores threads
        memory=args.memory, walltime=args.walltime,
        python=sys.executable,          # the workers run this very Python (venv)
        interface=args.interface, log_directory=args.log_directory,
    )


def main(argv=None) -> int:
    from distributed import Client

    from renp_scan.errors import InputError
    from renp_scan.sweep.engine import run_scan
    from renp_scan.sweep.pieces import run_writing_on_workers
    from renp_scan.sweep.scanfile import load_scan

    args = parse_args(argv)
    try:
        spec = load_scan(args.scan)  # a bad scan fails here, before any job is submitted
    except InputError as exc:
        print(f"run_on_slurm: error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    cluster = make_cluster(args)
    try:
        cluster.scale(jobs=args.jobs)
        with Client(cluster) as client:
            client.wait_for_workers(1)  # the queue may take a while
            if args.write_on_workers:
                report, _ = run_writing_on_workers(spec, args.output, scheduler=client,
                                                   progress=False)
            else:
                report = run_scan(spec, args.output, scheduler=client, progress=False)
        print(f"wrote {report.output}: {report.blocks_computed} of {report.blocks_total} "
              f"blocks computed in {report.seconds:.3g} s")
    finally:
        cluster.close()
    return 0

if __name__ == "__main__":
    sys.exit(main())
