"""The ``renp-scan`` command line: run, validate, info, verify, plot, targets.

Exit status: 0 success (also a rerun whose OUT already is the scan's finished cube:
one line saying there is nothing to do); 2 bad input (one line ``renp-scan: error:
<field>: <message>`` on stderr, no traceback, nothing left on disk); 1 the environment
failed (disk full, quota, file-size limit, read-only file system, I/O error, out of
memory, the dask scheduler lost: one line; the partial is kept and the same command
resumes it once the cause is fixed); 130/143 a run stopped by SIGINT/SIGTERM (the
partial cube is kept and the same command resumes it). The mapping lives in
:mod:`renp_scan.cli.failures`.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError

PROG = "renp-scan"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one InputError line, like every other error."""

    def error(self, message):
        raise InputError("arguments", f"{message} (see {PROG} --help)")


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return f"{n} B"


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


def _cmd_run(args) -> int:
    from ..sweep.engine import run_scan
    from ..sweep.executors import WORKER_TIMEOUT_S
    from ..sweep.scanfile import load_scan
    from ..sweep.scheduler import quiet_cluster_logs

    spec = load_scan(args.spec)
    if args.scheduler:
        quiet_cluster_logs()
    if args.shard is not None or args.write_on_workers:
        from .cluster import run_cluster_command

        return run_cluster_command(args, spec)
    timeout = WORKER_TIMEOUT_S if args.worker_timeout is None else args.worker_timeout
    report = run_scan(spec, args.output, workers=args.workers, scheduler=args.scheduler,
                      overwrite=args.overwrite, progress=not args.quiet,
                      worker_timeout_s=timeout)
    if report.nothing_to_do:
        _say(args.quiet, _nothing_to_do_line(report.output, spec))
        return 0
    if report.blocks_repaired:
        n = report.blocks_repaired
        print(f"{PROG}: note: the resumed partial flagged {n} block{'s' * (n != 1)} done "
              f"without {'their' if n != 1 else 'its'} data; computed again", file=sys.stderr)
    resumed = report.blocks_total - report.blocks_computed
    note = f" ({resumed} of {report.blocks_total} blocks from the resumed partial)" \
        if resumed else ""
    _say(args.quiet, f"wrote {report.output}: {report.n_entries:,} entries, "
         f"{_bytes(report.file_bytes)}, {_seconds(report.seconds)}{note}")
    return 0


def _nothing_to_do_line(output, spec) -> str:
    """Return the one line of a rerun whose output already is the scan's finished cube."""
    return f"{PROG}: {output} is complete (scan {spec.name!r}, sha256 {spec.sha256:.12}...); " \
        "nothing to do"


def _cmd_validate(args) -> int:
    from ..cube.layout import DIMS
    from ..sweep.planning import SIZE_SAMPLE_BLOCKS, estimate_scan
    from ..sweep.scanfile import load_scan

    spec = load_scan(args.spec)
    est = estimate_scan(spec, workers=args.workers)
    print(f"scan {spec.name!r} ({spec.path}), sha256 {spec.sha256}")
    if spec.description:
        print(f"  {spec.description}")
    for lay in est.layouts:
        dims = ", ".join(f"{d}={n}" for d, n in zip(DIMS, lay.shape, strict=True))
        print(f"target {lay.name}: rate ({dims}) = {lay.n_entries:,} entries; "
              f"omega {lay.omega_eV[0]:.6g}..{lay.omega_eV[-1]:.6g} eV, "
              f"m0 {lay.m0_eV[0]:.6g}..{lay.m0_eV[-1]:.6g} eV")
        cost = est.costs[lay.name]
        print(f"  {lay.n_blocks:,} blocks of {lay.chunk_rows} m0 x {lay.chunk_cols} omega; "
              f"measured {cost.point_s * 1e9:.3g} ns/point + {cost.call_s * 1e6:.3g} us/call")
    print(f"total: {est.n_entries:,} entries, {_bytes(est.raw_bytes)} uncompressed "
          f"({spec.dtype}); estimated file size {_bytes(est.file_bytes)} with "
          f"{spec.compression} compression ({_bytes(est.data_bytes)} of data from "
          f"{SIZE_SAMPLE_BLOCKS} sample blocks per target, {_bytes(est.metadata_bytes)} of "
          "axes and provenance)")
    compile_note = ""
    if est.compile_seconds > 0:
        compile_note = (f" and {_seconds(est.compile_seconds)} of first-call kernel compile "
                        "(the Numba cache was cold; it is filled now, so runs on this "
                        "machine skip it)")
    print(f"estimated time: {_seconds(est.cpu_seconds)} of compute, "
          f"{_seconds(est.encode_seconds)} of compression/storage{compile_note}, roughly "
          f"{_seconds(est.wall_seconds)} on {est.workers} threads")
    print(f"  {_size_hint(est.layouts, est.raw_bytes, est.file_bytes)}")
    compute_wall_s = est.cpu_seconds / max(1, est.workers)
    print(f"  {_time_hint(compute_wall_s, est.encode_seconds, spec.compression)}")
    return 0


def _size_hint(layouts, raw_bytes: float, file_bytes: float) -> str:
    """Say which target and axes make a cube large, and what compression keeps."""
    from ..cube.layout import DIMS

    total = sum(lay.n_entries for lay in layouts) or 1
    big = max(layouts, key=lambda lay: lay.n_entries)
    axes = sorted(zip(big.shape, DIMS, strict=True), reverse=True)[:2]
    where = (f"{big.name} holds {100 * big.n_entries / total:.0f} % of the entries; its"
             if len(layouts) > 1 else "entries = product of the axes; the")
    ratio = file_bytes / raw_bytes if raw_bytes else 1.0
    return (f"size: {where} largest axes are {axes[0][1]} ({axes[0][0]:,}) and {axes[1][1]} "
            f"({axes[1][0]:,}); compression keeps {100 * ratio:.0f} % of the raw bytes")


def _time_hint(compute_wall_s: float, store_s: float, compression: str) -> str:
    """Say whether compute or compression/storage dominates the time, and what helps."""
    total = compute_wall_s + store_s
    if total <= 0:
        return "time: negligible"
    if compute_wall_s >= store_s:
        return (f"time: dominated by compute ({100 * compute_wall_s / total:.0f} %): it scales "
                "with the number of entries and falls with more workers")
    faster = {"gzip": 'compression = "lzf" or "none"', "zstd": 'compression = "lzf" or "none"',
              "lzf": 'compression = "none"'}.get(compression)
    advice = f"{faster} in [output] is faster, more workers are not" if faster else \
        "more workers do not help"
    return (f"time: dominated by compression and storage ({100 * store_s / total:.0f} %), done "
            f"by the single writer: {advice}")


def _fmt_axis(values, unit="") -> str:
    if len(values) == 0:
        return "(empty)"
    if isinstance(values[0], str):
        return ", ".join(values)
    if len(values) <= 4:
        return ", ".join(f"{v:.6g}" for v in values) + unit
    return f"{len(values)} values {values[0]:.6g} .. {values[-1]:.6g}{unit}"


def _cmd_info(args) -> int:
    from ..cube.layout import DIMS, RATE_NORMALISATION
    from ..cube.reader import describe_cube

    info = describe_cube(args.cube)
    attrs = info["attrs"]
    frac = info["blocks_done"] / info["blocks_total"] if info["blocks_total"] else 1.0
    state = "complete" if info["complete"] else (
        f"PARTIAL: {info['blocks_done']} of {info['blocks_total']} blocks done ({100 * frac:.1f}%)")
    print(f"{info['path']}: {attrs.get('format')} v{attrs.get('format_version')}, "
          f"{_bytes(info['file_bytes'])}, {state}")
    print(f"scan {attrs.get('scan_name')!r}: {attrs.get('scan_description', '')}")
    print(f"  scan file {attrs.get('scan_path') or '(text only)'}, "
          f"sha256 {attrs.get('scan_sha256')}")
    print(f"  density {attrs.get('density_cm3'):g} cm^-3, volume {attrs.get('volume_cm3'):g} cm^3, "
          f"eta {attrs.get('eta'):g}")
    print(f"  rate scale: {attrs.get('rate_normalisation', RATE_NORMALISATION)}")
    for t in info["targets"]:
        a, ax = t["attrs"], t["axes"]
        print(f"target {t['name']}: {a.get('isotope', '')} Z={a.get('Z')} N={a.get('N')} "
              f"eps_eg={a.get('eps_eg_eV')} eV, "
              f"level ratio {a.get('level_ratio', '(not recorded)')}")
        print(f"  rate {t['shape']} {t['dtype']} [Hz] on ({', '.join(DIMS)}), "
              f"chunks {t['chunks']}, {t['compression']}")
        phases = "; ".join(f"({p[0]:.4g}, {p[1]:.4g})" for p in ax["phase"][:6])
        more = " ..." if len(ax["phase"]) > 6 else ""
        lines = {
            "hierarchy": _fmt_axis(ax["hierarchy"]),
            "nature": _fmt_axis(ax["nature"]),
            "channel": _fmt_axis(ax["channel"]),
            "coulomb_model": _fmt_axis(ax["coulomb_model"]),
            "phase": f"{len(ax['phase'])} rows (alpha21, alpha31) rad: {phases}{more}",
            "m0": _fmt_axis(ax["m0"], " eV"),
            "omega": _fmt_axis(ax["omega"], " eV"),
        }
        width = max(len(dim) for dim in DIMS) + 1
        for dim in DIMS:
            print(f"  {dim + ':':<{width}} {lines[dim]}")
    # "oscillation_" since format version 3, "oscillation." before.
    osc = {k[len("oscillation_"):]: v for k, v in attrs.items()
           if k[:len("oscillation_")] in ("oscillation_", "oscillation.")
           and not k.startswith("oscillation_file")}
    if osc:
        print("oscillation data: " + ", ".join(f"{k}={v}" for k, v in sorted(osc.items())
                                               if not isinstance(v, str)))
        if "source" in osc:
            print(f"  source: {osc['source']}")
    print(f"created {attrs.get('created_utc')} on {attrs.get('host')} by renp_scan "
          f"{attrs.get('package_version')} (python {attrs.get('python_version')}, numpy "
          f"{attrs.get('numpy_version')}, numba {attrs.get('numba_version')}, hdf5 "
          f"{attrs.get('hdf5_version')}); sessions: {attrs.get('run_sessions')}"
          + (f"; finished {attrs['finished_utc']}" if "finished_utc" in attrs else ""))
    print(_info_size_hint(info))
    took = _elapsed_s(attrs.get("created_utc"), attrs.get("finished_utc"))
    if took is not None:
        sessions = int(attrs.get("run_sessions") or 1)
        print(f"time: {_seconds(took) if took >= 1 else 'under 1 s'} from creation to "
              f"completion over {sessions} "
              f"session{'s' * (sessions != 1)}" + (" (includes the pauses between them)"
                                                   if sessions > 1 else ""))
    return 0


def _cmd_verify(args) -> int:
    from ..cube.reader import damage_message, verify_cube
    from ..errors import CubeDamaged

    report = verify_cube(args.cube)
    if report["bad"]:
        raise CubeDamaged(damage_message(args.cube, report))
    rate = report["bytes"] / report["seconds"] / 1e9 if report["seconds"] > 0 else float("inf")
    print(f"{args.cube}: OK: {report['blocks']:,} blocks, {_bytes(report['bytes'])} stored, "
          f"every CRC-32 matches ({_seconds(report['seconds'])}, {rate:.3g} GB/s)")
    return 0


def _info_size_hint(info: dict) -> str:
    """Say what a cube's bytes are: rate chunks (per target, compression) or the rest."""
    import math

    stored = sum(t["stored_bytes"] for t in info["targets"])
    raw = sum(math.prod(t["shape"]) * (4 if t["dtype"] == "float32" else 8)
              for t in info["targets"])
    total = info["file_bytes"] or 1
    big = max(info["targets"], key=lambda t: t["stored_bytes"])
    per_target = (f", {100 * big['stored_bytes'] / max(stored, 1):.0f} % of it {big['name']}'s"
                  if len(info["targets"]) > 1 else "")
    keeps = f"; compression keeps {100 * stored / raw:.0f} % of the raw bytes" if raw else ""
    return (f"size: rate data {_bytes(stored)} ({100 * stored / total:.0f} % of the file"
            f"{per_target}){keeps}; the rest is coordinates, bookkeeping and provenance "
            "(scan and data-file texts)")


def _elapsed_s(start, end) -> float | None:
    import datetime as dt

    try:
        return (dt.datetime.fromisoformat(str(end)) - dt.datetime.fromisoformat(str(start))) \
            .total_seconds()
    except (TypeError, ValueError):
        return None


def _cmd_plot(args) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("plot", "needs matplotlib (pip install matplotlib)") from None
    from ..plotting import plot_cube
    from .outputs import check_new_output

    check_new_output(args.output, inputs=(args.cube,), overwrite=args.overwrite)
    labels = plot_cube(args.cube, args.output, target=args.target, hierarchies=args.hierarchy,
                       natures=args.nature, channel=args.channel,
                       coulomb_model=args.coulomb_model, phase=args.phase,
                       m0_eV=args.m0, omega_min_eV=args.omega_min, omega_max_eV=args.omega_max,
                       logy=args.logy, thresholds=args.thresholds, title=args.title)
    print(f"wrote {args.output}: {len(labels)} lines")
    return 0


def _cmd_targets(args) -> int:
    from ..model.targets import available_targets, get_target

    for key in available_targets():
        t = get_target(key)
        print(f"{key:8s} {t.isotope:8s} Z={t.Z:<3d} N={t.N:<3d} {t.scheme:13s} "
              f"eps_eg={t.eps_eg_eV:.6g} eV  A_ug={t.A_ug_per_s:.4g} /s")
    return 0


def _split(values):
    """Accept both ``--nature majorana dirac`` and ``--nature majorana,dirac``."""
    if values is None:
        return None
    return [v for item in values for v in item.split(",") if v]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``renp-scan``."""
    from .._version import __version__

    parser = _Parser(prog=PROG, description="Parameter scans of RENP spectra "
                     "(Yoshimura & Sasao, arXiv:1310.6472) into HDF5 cubes.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="compute a scan into a cube (resumes OUT.partial)")
    p.add_argument("spec", metavar="SPEC", help="scan file (TOML)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="cube file to write (.h5)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="threads of the embedded dask scheduler (default: usable cores)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="address of a running dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--worker-timeout", type=float, metavar="SECONDS",
                   help="with --scheduler: stop (exit 1, partial kept) when the scheduler has "
                   "had no worker for this long (default 300; inf waits for ever)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished OUT and discard a partial of another scan")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--shard", metavar="I/N",
                   help="compute share I of N of the blocks into OUT.shard-I-of-N.h5 (job "
                        "arrays); the shard that finds all N finished merges them into OUT")
    p.add_argument("--write-on-workers", action="store_true",
                   help="with --scheduler: each worker process stores its blocks in a piece "
                        "file beside OUT (a folder shared with the workers) instead of "
                        "sending them to this process, which collects the pieces at the end")
    p.set_defaults(func=_cmd_run)

    from .cluster import add_merge_command  # merge (job-array shards)

    add_merge_command(sub)

    p = sub.add_parser("validate", help="check a scan file; print sizes, file size and time")
    p.add_argument("spec", metavar="SPEC", help="scan file (TOML)")
    p.add_argument("--workers", type=int, metavar="N", help="threads assumed for the time estimate")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("info", help="axes, sizes, completion and provenance of a cube or partial")
    p.add_argument("cube", metavar="CUBE")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("verify", help="check every block of a finished cube against its CRC-32 "
                       "(exit 0 intact, 1 damaged)")
    p.add_argument("cube", metavar="CUBE")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("plot", help="plot spectra of a cube (needs matplotlib)")
    p.add_argument("cube", metavar="CUBE")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="image to write (.png)")
    p.add_argument("--target", help="target group (default: first)")
    p.add_argument("--hierarchy", nargs="+", metavar="H", help="NH and/or IH (default: all)")
    p.add_argument("--nature", nargs="+", metavar="N", help="majorana and/or dirac (default: all)")
    p.add_argument("--channel", help="nucleus or core (default: first in the cube)")
    p.add_argument("--coulomb-model", metavar="MODEL",
                   help="thomas-fermi or valence (default: first in the cube)")
    p.add_argument("--phase", type=int, default=0, help="Majorana phase row index (default 0)")
    p.add_argument("--m0", nargs="+", type=float, metavar="EV",
                   help="smallest neutrino masses [eV], each within half a grid step of a "
                        "grid value of the cube (default: all)")
    p.add_argument("--omega-min", type=float, metavar="EV",
                   help="lower photon energy [eV], inside the cube's range")
    p.add_argument("--omega-max", type=float, metavar="EV",
                   help="upper photon energy [eV], inside the cube's range")
    p.add_argument("--logy", action="store_true", help="logarithmic rate axis")
    p.add_argument("--thresholds", action=argparse.BooleanOptionalAction, default=None,
                   help="mark the thresholds omega_ij (default: when at most 4 lines)")
    p.add_argument("--title", help="axes title")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing image (never the cube itself)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("targets", help="list the available targets")
    p.set_defaults(func=_cmd_targets)

    from .sensitivity import add_subcommands  # sensitivity, fit (analysis layer)

    add_subcommands(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of ``renp-scan``; returns the exit status.

    Every failure ends in one line and an exit status from the single table of
    :mod:`renp_scan.cli.failures`.
    """
    from .failures import report

    try:
        args = build_parser().parse_args(argv)
        if args.command == "plot":
            args.hierarchy, args.nature = _split(args.hierarchy), _split(args.nature)
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())
