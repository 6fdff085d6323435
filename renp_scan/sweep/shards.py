"""Job-array shards: ``renp-scan run SCAN -o CUBE --shard I/N``.

Shard ``I`` of ``N`` computes the blocks of share ``I`` (block ``g`` goes to share
``g mod N + 1``, see :func:`renp_scan.cube.merge.block_owner`; the block layout
follows from the scan alone, so every shard of one scan agrees on it) into its own
``CUBE.shard-I-of-N.h5.partial``, with the same lock, resume, kill -9 and disk-space
behaviour as a run (:func:`renp_scan.sweep.engine.run_scan` does the work). A
finished share is renamed ``CUBE.shard-I-of-N.h5`` (root attribute ``shard = "I/N"``).
The shard that finds all N finished merges them into CUBE
(:func:`renp_scan.cube.merge.merge_shards`); ``renp-scan merge CUBE`` does it by hand.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._faults import checkpoint
from ..cube.hdf5 import open_locked
from ..cube.merge import (
    SHARD_ATTR,
    MergeReport,
    block_owner,
    finished_shards,
    merge_shards,
    shard_identity,
)
from ..cube.merge import shard_path as finished_path
from ..cube.reader import describe_cube
from ..cube.schema import utc_now
from ..cube.writer import PartialWriteError
from ..errors import InputError
from .engine import run_scan

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
#: Largest N accepted: one file per shard, and a job array of more tasks is unusual.
MAX_SHARDS = 100_000


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 1 <= I <= N; InputError naming ``shard`` otherwise."""
    m = _SHARD.match(str(text))
    if not m:
        raise InputError("shard", f"must be I/N with integers 1 <= I <= N (e.g. 3/8, "
                         f"$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), got {text!r}")
    index, count = int(m[1]), int(m[2])
    if not 1 <= index <= count or count > MAX_SHARDS:
        raise InputError("shard", f"must be I/N with 1 <= I <= N <= {MAX_SHARDS}, got {text!r}")
    return index, count


@dataclass(frozen=True)
class ShardReport:
    """What :func:`run_shard` did.

    Attributes
    ----------
    shard : Path
        The finished shard file (gone again if this shard merged).
    run : RunReport or None
        The run of this share (None if the shard was already finished).
    merge : MergeReport or None
        The merge this shard did (None if shards are still missing or another
        process merged).
    cube_done : bool
        CUBE is a finished cube now.
    """

    shard: Path
    run: object | None
    merge: MergeReport | None
    cube_done: bool


def shard_masks(layouts: dict, index: int, count: int) -> dict[str, np.ndarray]:
    """Blocks of share ``index`` per target (``layouts``: target -> TargetLayout, file order)."""
    owner = block_owner(list(layouts.values()), count)
    return {name: owner[name] == index for name in layouts}


def finish_shard(writer, out: Path, index: int, count: int, masks: dict) -> Path:
    """Check the share is done and undamaged, mark the shard finished, rename it to ``out``."""
    for name, mask in masks.items():
        missing = int(np.count_nonzero(mask & ~writer.done_mask(name)))
        if missing:
            raise RuntimeError(f"shard {writer.path}: {missing} blocks of {name} not done; "
                               "refusing to finish")
    if writer.audit():
        raise InputError("output", f"the partial shard {writer.path} is damaged: blocks "
                         "flagged done have no stored chunk; pass --overwrite to start again")
    if writer.guard is not None:
        writer.guard.release()
    writer.close()
    try:
        with open_locked(writer.path, "r+") as f:
            f.attrs[SHARD_ATTR] = f"{index}/{count}"
            f.attrs["shard_finished_utc"] = utc_now()
    except OSError as exc:
        raise PartialWriteError(exc.errno or errno.EIO, f"finishing shard {writer.path} "
                                f"failed: {exc}") from exc
    checkpoint("after-mark-complete")
    fd = os.open(writer.path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(writer.path, out)
    checkpoint("after-rename")
    return out


def _is_finished_shard(path: Path, spec, index: int, count: int) -> bool:
    """Tell whether ``path`` is finished shard index/count of ``spec``; refuse a foreign one."""
    try:
        sha, shard = shard_identity(path)
    except OSError:
        raise InputError("output", f"{path} exists and is not a shard file; move it away "
                         "and rerun") from None
    if sha != spec.sha256 or shard != f"{index}/{count}":
        raise InputError("output", f"{path} is a finished shard of another scan; move it "
                         "away (or merge it with its own shards) and rerun")
    return True


def run_shard(spec, output, shard: tuple[int, int], *, merge: bool = True,
              **run_kwargs) -> ShardReport:
    """Compute share ``shard = (I, N)`` of ``spec`` into ``CUBE.shard-I-of-N.h5``; maybe merge.

    Parameters
    ----------
    spec : ScanSpec
        The scan.
    output : str or Path
        The cube the shards make up.
    shard : (int, int)
        (I, N), 1 <= I <= N.
    merge : bool
        Merge the shards into ``output`` when this one finds all N finished.
    **run_kwargs
        Passed to :func:`~renp_scan.sweep.engine.run_scan` (workers, scheduler,
        overwrite, progress, ...).
    """
    index, count = shard
    out = Path(output)
    if out.exists():
        info = describe_cube(out)
        if info["complete"] and info["attrs"].get("scan_sha256") == spec.sha256:
            return ShardReport(finished_path(out, index, count), None, None, True)
        raise InputError("output", f"{out} exists and is not the finished cube of this scan; "
                         "move it away and rerun")
    target = finished_path(out, index, count)
    report = None
    if not (target.exists() and _is_finished_shard(target, spec, index, count)):
        masks = {}

        def blocks(layouts):
            masks.update(shard_masks(layouts, index, count))
            return masks

        def finish(writer, path):
            finish_shard(writer, Path(path), index, count, masks)

        report = run_scan(spec, target, blocks=blocks, finish=finish, **run_kwargs)
    merged = None
    if merge and len(finished_shards(out).get(count, [])) == count:
        merged = merge_shards(out, count=count, busy_ok=True)
    return ShardReport(target, report, merged, out.exists())
