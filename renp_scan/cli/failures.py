"""The one table from exceptions to the CLI's one-line reports and exit statuses.

Every command of ``renp-scan`` ends through :func:`report`: whatever went wrong is
printed as a single line (user text in it escaped by
:func:`~renp_scan.errors.one_line`, so a newline in a path cannot forge a second
line) and mapped to an exit status:

=====================================================  ======  =========================
exception                                              status  line
=====================================================  ======  =========================
:class:`~renp_scan.errors.InputError`                  2       ``error: FIELD: ...``
``ScanInterrupted`` (SIGINT / SIGTERM)                 130/143 ``interrupted by ...``
``KeyboardInterrupt`` outside a run                    130     ``interrupted``
``StorageError`` (disk full, quota, read-only, I/O)    1       ``error: output: ...``
OSError with an errno of ``ENVIRONMENT_ERRNOS``        1       ``error: FILE: ...``
:class:`~renp_scan.errors.ClusterError`                1       ``error: scheduler: ...``
:class:`~renp_scan.errors.CubeDamaged` (``verify``)    1       ``error: cube: ...``
``MemoryError``                                        1       ``error: memory: ...``
any other OSError (a file that cannot be read)         2       ``error: FILE: ...``
anything else (a bug)                                  1       ``error: internal: ...``
=====================================================  ======  =========================

Status 2 means the input must change; status 1 means the environment failed and the
same command, rerun once the cause is fixed, resumes the kept partial. A
``BrokenPipeError`` (``renp-scan info CUBE | head``) ends quietly with 141. Setting
``RENP_SCAN_TRACEBACK=1`` prints the traceback of an unexpected error after its line.
"""

from __future__ import annotations

import os
import sys
import traceback

from ..errors import ENVIRONMENT_ERRNOS, ClusterError, CubeDamaged, InputError, one_line

PROG = "renp-scan"
#: Status of a stdout closed early (128 + SIGPIPE), as a shell reports a killed pipe.
BROKEN_PIPE = 141


def _os_line(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "io"
    return f"error: {where}: {exc.strerror or exc}"


def classify(exc: BaseException) -> tuple[str | None, int]:
    """Return (line without the ``renp-scan: `` prefix, exit status) for ``exc``.

    The line is None where nothing is to be printed (a closed stdout).
    """
    from ..cube.space import StorageError
    from ..sweep.interrupts import ScanInterrupted

    if isinstance(exc, InputError):
        return f"error: {exc.field}: {exc.message}", 2
    if isinstance(exc, ScanInterrupted):
        return str(exc), exc.exit_status
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, BrokenPipeError):
        return None, BROKEN_PIPE
    if isinstance(exc, StorageError):
        return f"error: output: {exc.strerror}", 1
    if isinstance(exc, ClusterError):
        return f"error: scheduler: {exc}", 1
    if isinstance(exc, CubeDamaged):
        return f"error: cube: {exc}", 1
    if isinstance(exc, MemoryError):
        detail = " ".join(str(exc).split())
        return "error: memory: out of memory" + (f"; {detail}" if detail else ""), 1
    if isinstance(exc, OSError):
        return _os_line(exc), 1 if exc.errno in ENVIRONMENT_ERRNOS else 2
    if isinstance(exc, Exception):
        detail = " ".join(str(exc).split())
        bug = "" if "please report it" in detail else " (a bug: please report it)"
        return f"error: internal: {type(exc).__name__}: {detail}{bug}", 1
    raise exc  # SystemExit, GeneratorExit: not failures of a command


def report(exc: BaseException) -> int:
    """Print ``exc``'s one line on stderr; return the exit status."""
    line, status = classify(exc)
    if isinstance(exc, BrokenPipeError):
        # stdout closed early: stop quietly, like SIGPIPE, and keep Python's exit quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if line is not None:
        print(f"{PROG}: {one_line(line)}", file=sys.stderr, flush=True)
    if os.environ.get("RENP_SCAN_TRACEBACK") and line is not None and line.startswith(
            "error: internal:"):
        traceback.print_exception(exc, file=sys.stderr)
    return status
