"""Error types shared by every layer.

:class:`InputError` is the one exception for bad user input. It is a
:class:`ValueError` (so the API contract "bad arguments raise ValueError"
holds) and carries the offending ``field`` so the CLI can print one line
naming it and exit with status 2. :class:`ClusterError` and the OSErrors of
:data:`ENVIRONMENT_ERRNOS` are failures of the environment (exit status 1); the
CLI's one table of exception classes to lines and exit statuses is
:mod:`renp_scan.cli.failures`.
"""

from __future__ import annotations

import errno

#: errno values that mean the environment failed (storage or memory), not the input:
#: the CLI exits with status 1 and the partial is kept for a resume.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO,
                                errno.ENOMEM, errno.ESTALE, errno.ENOLINK})


class InputError(ValueError):
    """Bad user input: an argument, a scan-file key, a data-file field or a file.

    Parameters
    ----------
    field : str
        Name of the offending argument or key (e.g. ``"m0_eV"``,
        ``"scan.m0.stop"``, ``"targets.Cs.Z"``).
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ClusterError(Exception):
    """The dask cluster failed a run (scheduler lost or not a dask scheduler); work is kept.

    Not bad input: the CLI reports it on one line naming ``scheduler`` with exit
    status 1, and the same command resumes the partial once the cluster is back.
    """


def one_line(text) -> str:
    r"""``text`` with every control character escaped, so that it prints as one line.

    Newlines, carriage returns, NULs, escape sequences and the other C0/C1 control
    characters of user-supplied text (a path, a scan-file string) become ``\n``,
    ``\x00``, ...: a message can never forge a second line or reach a terminal raw.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else
                   ch.encode("unicode_escape").decode("ascii") for ch in text)


class CubeDamaged(Exception):
    """A finished cube whose stored data no longer match their CRC-32s (``renp-scan verify``).

    The file was damaged after it was written (disk, copy, transfer): the CLI reports
    it on one line naming the block, with exit status 1.
    """
