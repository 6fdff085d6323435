"""Error types shared by every layer.

:class:`InputError` is the one exception for bad user input. It is a
:class:`ValueError` (so the API contract "bad arguments raise ValueError"
holds) and carries the offending ``field`` so the CLI can print one line
naming it and exit with status 2.
"""

from __future__ import annotations


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
