"""Test-only fault injection: the one checkpoint production code calls.

Every test seam of the package is a call ``checkpoint(stage)`` (or
``checkpoint(stage, count)``) at a named point of a run; nothing else in the package
reads a test variable, and no function exists only to be monkeypatched. Unless one of
the three variables below is set, a checkpoint costs one dictionary lookup per variable.

Set ``RENP_SCAN_TEST_KILL_AT=<stage>`` and the process kills itself with SIGKILL
(no cleanup at all, like ``kill -9``) when it reaches that stage, so the
reliability tests can stop a run at exact points, including inside the final
rename, which a kill from outside could never hit reliably. Set
``RENP_SCAN_TEST_OSERROR_AT=<stage>:<ERRNO>`` (e.g. ``after-block-3:EROFS``) and the
process raises ``OSError(ERRNO)`` there instead, as the file system would on its
next write (a read-only remount, an I/O error). Set
``RENP_SCAN_TEST_BLOCK_DELAY=<seconds>`` and every block task sleeps that long at its
``block-computed`` checkpoint, so that tests can stop a run mid-way. Never set any of
them in production.
Stages, in the order a run meets them (see ``docs/reliability.md``):

``after-lock``
    ``OUT.lock`` taken, no partial created or opened yet.
``after-create``
    ``OUT.partial`` created (or reopened for a resume), no block written yet.
``after-chunk-N``
    the N-th block of this session (1-based) has its chunk stored and flushed
    but its done flag is not set yet.
``after-block-N``
    the N-th block of this session is stored and its done flag flushed.
``before-finalize``
    every block stored; the completeness checks have not run.
``after-mark-complete``
    ``complete = 1`` written and the partial closed; not yet fsynced.
``after-fsync``
    the partial fsynced; not yet renamed.
``after-rename``
    renamed onto ``OUT``; the directory not yet fsynced, the lock not released.
``before-lock-release``
    everything done except removing ``OUT.lock``.
``block-computed``
    (in the block task, on the worker) a block is computed and checked finite, not
    yet encoded or handed to the writer; only the delay applies here.
"""

from __future__ import annotations

import errno
import os
import signal
import time

#: Environment variable naming the stage at which the process kills itself.
KILL_ENV = "RENP_SCAN_TEST_KILL_AT"
#: Environment variable ``<stage>:<ERRNO name>``: raise that OSError at the stage.
OSERROR_ENV = "RENP_SCAN_TEST_OSERROR_AT"
#: Environment variable: seconds every block task sleeps at ``block-computed``.
DELAY_ENV = "RENP_SCAN_TEST_BLOCK_DELAY"

#: Every stage name (``after-chunk`` and ``after-block`` take a ``-N`` suffix).
STAGES = ("after-lock", "after-create", "after-chunk", "after-block", "before-finalize",
          "after-mark-complete", "after-fsync", "after-rename", "before-lock-release",
          "block-computed")


def checkpoint(stage: str, count: int | None = None) -> None:
    """Apply the test fault named for ``stage``, if any (test-only; no-op otherwise).

    SIGKILL this process if ``RENP_SCAN_TEST_KILL_AT`` names the stage, raise the
    ``OSError`` that ``RENP_SCAN_TEST_OSERROR_AT`` names for it, and at
    ``block-computed`` sleep ``RENP_SCAN_TEST_BLOCK_DELAY`` seconds.

    Parameters
    ----------
    stage : str
        One of :data:`STAGES`.
    count : int, optional
        For the per-block stages: the block's 1-based number within this session;
        the variable then has to read ``<stage>-<count>``.
    """
    if stage == "block-computed":
        delay = os.environ.get(DELAY_ENV)
        if delay:
            time.sleep(float(delay))
        return
    wanted = os.environ.get(KILL_ENV)
    failing = os.environ.get(OSERROR_ENV)
    if not wanted and not failing:
        return
    name = stage if count is None else f"{stage}-{count}"
    if wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if failing and failing.rpartition(":")[0] == name:
        code = getattr(errno, failing.rpartition(":")[2])
        raise OSError(code, os.strerror(code))
