"""Test-only fault injection: make a run SIGKILL itself at a named stage.

Set ``RENP_SCAN_TEST_KILL_AT=<stage>`` and the process kills itself with SIGKILL
(no cleanup at all, like ``kill -9``) when it reaches that stage, so the
reliability tests can stop a run at exact points, including inside the final
rename, which a kill from outside could never hit reliably. Set
``RENP_SCAN_TEST_OSERROR_AT=<stage>:<ERRNO>`` (e.g. ``after-block-3:EROFS``) and the
process raises ``OSError(ERRNO)`` there instead, as the file system would on its
next write (a read-only remount, an I/O error). Never set either in production.
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
"""

from __future__ import annotations

import errno
import os
import signal

#: Environment variable naming the stage at which the process kills itself.
KILL_ENV = "RENP_SCAN_TEST_KILL_AT"
#: Environment variable ``<stage>:<ERRNO name>``: raise that OSError at the stage.
OSERROR_ENV = "RENP_SCAN_TEST_OSERROR_AT"

#: Every stage name (``after-chunk`` and ``after-block`` take a ``-N`` suffix).
STAGES = ("after-lock", "after-create", "after-chunk", "after-block", "before-finalize",
          "after-mark-complete", "after-fsync", "after-rename", "before-lock-release")


def kill_point(stage: str, count: int | None = None) -> None:
    """SIGKILL this process if ``RENP_SCAN_TEST_KILL_AT`` names ``stage`` (test-only).

    Parameters
    ----------
    stage : str
        One of :data:`STAGES`.
    count : int, optional
        For the per-block stages: the block's 1-based number within this session;
        the variable then has to read ``<stage>-<count>``.
    """
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
