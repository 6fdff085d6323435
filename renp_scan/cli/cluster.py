"""Command-line pieces of cluster runs: ``run --shard I/N`` and ``merge``."""

from __future__ import annotations

import sys

PROG = "renp-scan"


def run_cluster_command(args, spec) -> int:
    """``renp-scan run`` with ``--shard`` or ``--write-on-workers``."""
    from ..errors import InputError

    if args.write_on_workers:
        if args.scheduler is None:
            raise InputError("write_on_workers", "needs --scheduler (workers of a running "
                             "dask scheduler write the pieces)")
        if args.shard is not None:
            raise InputError("write_on_workers", "cannot be combined with --shard")
        return _run_on_workers(args, spec)
    return _run_shard(args, spec)


def _run_on_workers(args, spec) -> int:
    from ..sweep.pieces import run_writing_on_workers

    report, _ = run_writing_on_workers(spec, args.output, scheduler=args.scheduler,
                                       overwrite=args.overwrite, progress=not args.quiet)
    if not args.quiet:
        resumed = report.blocks_total - report.blocks_computed
        note = f" ({resumed} of {report.blocks_total} blocks from earlier runs)" if resumed else ""
        print(f"wrote {report.output}: {report.n_entries:,} entries, {report.blocks_computed} "
              f"blocks stored by the workers, {report.seconds:.3g} s{note}", flush=True)
    return 0


def _run_shard(args, spec) -> int:
    """``renp-scan run SCAN -o CUBE --shard I/N``: compute one share, merge if it is the last."""
    from ..sweep.shards import parse_shard, run_shard

    index, count = parse_shard(args.shard)
    result = run_shard(spec, args.output, (index, count), workers=args.workers,
                       scheduler=args.scheduler, overwrite=args.overwrite,
                       progress=not args.quiet)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    if result.run is None and result.cube_done and result.merge is None:
        say(f"{args.output} is already finished (shard {index}/{count}: nothing to do)")
        return 0
    if result.run is not None:
        say(f"shard {index}/{count}: {result.run.blocks_computed} of "
            f"{result.run.blocks_total} blocks computed into {result.shard}")
    if result.merge is not None:
        m = result.merge
        say(f"merged {m.shards} shards into {m.output}: {m.blocks_copied} blocks, "
            f"{m.bytes_copied / 1e6:.3g} MB in {m.seconds:.3g} s")
    elif not result.cube_done:
        say(f"shard {index}/{count} finished; {args.output} is merged by the last shard to "
            f"finish (or `{PROG} merge {args.output}`)")
    return 0


def _cmd_merge(args) -> int:
    from ..cube.merge import merge_shards

    report = merge_shards(args.cube)
    if report is None:
        print(f"{args.cube} is already a finished cube (nothing to merge)", file=sys.stderr)
        return 0
    print(f"merged {report.shards} shards into {report.output}: {report.blocks_copied} blocks, "
          f"{report.bytes_copied / 1e6:.3g} MB in {report.seconds:.3g} s")
    return 0


def add_merge_command(sub) -> None:
    """Add ``merge CUBE`` to the sub-command parsers ``sub``."""
    p = sub.add_parser("merge", help="assemble CUBE from its finished shards "
                       "CUBE.shard-I-of-N.h5 (run --shard)")
    p.add_argument("cube", metavar="CUBE", help="the cube to write")
    p.set_defaults(func=_cmd_merge)
