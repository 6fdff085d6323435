"""No command clobbers: the one check every ``-o``/``--plot`` file of the CLI goes through.

``run`` has its own (it resumes partials and refuses a finished cube); ``sensitivity``,
``fit`` and ``plot`` write a new file and call :func:`check_new_output` first:

* an existing file (or link, or anything at the name) is replaced only with
  ``--overwrite``;
* the command's own inputs (the cube, the plan, the counts file) are never
  replaced, not even with ``--overwrite``: compared by ``os.path.samefile`` (a hard
  link or a link to the input counts) and by resolved path.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError


def _same(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_new_output(path, *, inputs=(), overwrite: bool = False, field: str = "output") -> None:
    """Refuse to write ``path`` over an input, or over an existing file without ``overwrite``.

    Parameters
    ----------
    path : str or Path
        File the command is about to write.
    inputs : iterable of str or Path
        Files the command reads (None entries are skipped).
    overwrite : bool
        ``--overwrite`` was given.
    field : str
        Field named by the error (the option).
    """
    out = Path(path)
    if not os.path.lexists(out):
        return
    for source in inputs:
        if source is not None and _same(out, Path(source)):
            raise InputError(field, f"{str(out)!r} is this command's input {str(source)!r}; "
                             "write the result to another file (--overwrite never replaces "
                             "an input)")
    if out.is_dir():
        raise InputError(field, f"{str(out)!r} is a directory; give a file name")
    if not overwrite:
        raise InputError(field, f"{str(out)!r} exists; pass --overwrite to replace it")
