"""The output of a run: checks before any file exists, the files beside it, failures.

A run writes ``OUT.partial`` under ``OUT.lock`` and renames it onto ``OUT`` when
finished; these checks refuse an output that cannot be written or belongs to
another scan, and decide whether a partial or a finished cube is this scan's.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..cube.layout import compression_options
from ..cube.lock import LockFile, is_stale
from ..cube.reader import check_cube, describe_cube
from ..cube.resume import check_finished
from ..cube.space import METADATA_HEADROOM, StorageError
from ..errors import ClusterError, InputError
from .executors import NoWorkersError
from .planning import estimate_scan, file_bytes_bound
from .provenance import physics_provenance, target_attributes


def check_output(out: Path, overwrite: bool, scan_sha256: str = "") -> None:
    """Refuse an output a run must not write: no folder, read-only, a link, another cube.

    A finished cube at ``out`` is refused unless ``overwrite`` (the message says whose
    cube it is, compared by ``scan_sha256``). Nothing is written.
    """
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output", f"directory {parent} does not exist")
    if hasattr(os, "ST_RDONLY") and os.statvfs(parent).f_flag & os.ST_RDONLY:
        # The environment, not the input: the same command works once it is writable.
        raise StorageError(errno.EROFS, f"the file system of {str(parent)!r} is read-only "
                           "(mounted ro); nothing was written: make it writable (or write "
                           "elsewhere) and rerun")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError("output", f"directory {parent} is not writable")
    if out.is_dir():
        raise InputError("output", f"{out} is a directory; give a file name such as {out}/cube.h5")
    if partial_path(out).is_symlink():
        raise InputError("output", f"{str(partial_path(out))!r} is a symbolic link; renp_scan "
                         "never writes through a link beside its output: remove it and rerun")
    if out.exists() and not overwrite:
        try:
            check_cube(out, field="output")
            attrs = describe_cube(out)["attrs"]
            if attrs.get("scan_sha256") == scan_sha256:
                what = ("is a finished cube of this scan file computed from other inputs "
                        "(renp_scan or its data files changed since)")
            else:
                what = (f"is a finished cube of another scan ({attrs.get('scan_name')!r}, "
                        f"sha256 {attrs.get('scan_sha256')!s:.12}...)")
        except InputError:
            what = "exists and is not a finished renp_scan cube"
        raise InputError("output", f"{out} {what}; pass --overwrite to replace it")


def resume_expectations(spec, root_attrs: dict | None = None,
                         target_attrs: dict | None = None) -> dict:
    """Return what a partial (or a finished cube) must hold to be this scan's.

    The keyword arguments of :func:`~renp_scan.cube.writer.open_partial` and
    :func:`~renp_scan.cube.writer.check_finished`:
    the same axes and the same physics data (constants, oscillation data, target
    levels, target and oscillation file hashes) as this run computes with; the scan,
    targets and oscillation file paths may differ (the same file reached from another
    directory).
    """
    if target_attrs is None:
        target_attrs = {t: target_attributes(spec.atoms[t], spec.physics) for t in spec.targets}
    if root_attrs is None:
        root_attrs = physics_provenance(spec)
    return dict(
        scan_sha256=spec.sha256, layouts=[spec.layout(t) for t in spec.targets],
        root_attrs={k: v for k, v in root_attrs.items()
                    if k not in ("scan_path", "targets_file", "oscillation_file")},
        target_attrs=target_attrs, dtype=spec.dtype,
        filters=compression_options(spec.compression, spec.compression_level, spec.shuffle))


def finished_cube_of_scan(out, spec) -> bool:
    """Tell whether ``out`` is a finished cube of ``spec`` computed from the same inputs.

    Decided like a resume (:func:`resume_expectations`): same scan sha256, axes,
    physics data and [output] settings. Anything else (no file, a partial, another
    scan, damage) is False.
    """
    out = Path(out)
    if not out.is_file():
        return False
    try:
        check_cube(out, field="output")
        if describe_cube(out)["attrs"].get("scan_sha256") != spec.sha256:
            return False
        check_finished(out, **resume_expectations(spec))
    except InputError:
        return False
    return True


def check_space(out: Path, spec, overwrite: bool, costs: dict, layouts) -> None:
    """Refuse a scan whose cube cannot fit in the free space of the output's file system.

    Where the :func:`~renp_scan.sweep.planning.file_bytes_bound` of the run's planned
    ``layouts`` fits, it does; otherwise its size comes from
    :func:`~renp_scan.sweep.planning.estimate_scan` (with the ``costs`` of the run's
    preflight), which compresses sample blocks. A partial this run resumes is already
    on disk and counts as written.
    """
    partial = partial_path(out)
    kept_bytes = partial.stat().st_size if partial.exists() and not overwrite else 0
    free = shutil.disk_usage(out.parent if str(out.parent) else ".").free
    if file_bytes_bound(spec, layouts) + 2 * METADATA_HEADROOM - kept_bytes <= free:
        return
    need = max(0, estimate_scan(spec, costs=costs).file_bytes + 2 * METADATA_HEADROOM
               - kept_bytes)
    if need > free:
        how = "" if spec.compression == "none" else f" (estimated, {spec.compression})"
        raise InputError("output", f"the cube needs about {need / 1e9:.3g} GB{how} but "
                         f"{out.parent if str(out.parent) else '.'} has {free / 1e9:.3g} GB "
                         "free; shrink the grids, free space or write elsewhere")


def environment_failure(exc, created: bool, writer, partial: Path) -> BaseException:
    """Build the error for a run the environment failed: what is kept and how to resume.

    Storage (disk full, quota, read-only, I/O), memory and cluster failures are not
    bad input: the partial keeps every block written, and the message says so.
    """
    done = writer.n_done() if writer is not None else 0
    total = writer.n_blocks() if writer is not None else 0
    code = getattr(exc, "errno", None)
    if isinstance(exc, MemoryError):
        fix = "free memory (or raise ulimit -v)"
    elif isinstance(exc, NoWorkersError):
        fix = "start workers (or run without --scheduler)"
    elif isinstance(exc, ClusterError):
        fix = "restart the scheduler (or run without --scheduler)"
    elif code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free space (or raise the limit)"
    elif code == errno.EROFS:
        fix = "make the file system writable"
    else:
        fix = "fix the cause"
    if created and done == 0:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        kept = f"nothing was kept; {fix} and run again"
    else:
        kept = (f"{done} of {total} blocks are kept in {partial}: {fix} and rerun the same "
                "command to resume")
    if isinstance(exc, MemoryError):
        detail = " ".join(str(exc).split())
        return MemoryError(f"{detail}; {kept}" if detail else kept)
    if isinstance(exc, ClusterError):
        return type(exc)(f"{exc}; {kept}")
    if isinstance(exc, StorageError):
        return type(exc)(exc.errno, f"{exc.strerror}; {kept}")
    where = f" ({exc.filename})" if exc.filename is not None else ""
    return StorageError(exc.errno, f"{exc.strerror or exc}{where}; {kept}")


def partial_path(output) -> Path:
    """``OUT.partial`` beside ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".partial")


def lock_path(output) -> Path:
    """``OUT.lock`` beside ``OUT``."""
    out = Path(output)
    return out.with_name(out.name + ".lock")


def remove_stale_lock(out) -> None:
    """Remove an ``OUT.lock`` left by a run on this host that is gone.

    A run killed between renaming its finished cube onto ``OUT`` and releasing its
    lock leaves the lock behind; a rerun that finds the cube finished removes it.
    A lock of a live run, or of another host, is left alone.
    """
    path = lock_path(out)
    if not is_stale(path):
        return
    try:
        with LockFile(path):  # takes the stale lock over (safely), then releases it
            pass
    except InputError:
        pass  # another run took the lock meanwhile: it is that run's now
