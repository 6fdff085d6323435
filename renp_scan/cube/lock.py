"""A lock file ``OUT.lock`` so that two runs never write the same cube.

The file is created with ``O_CREAT | O_EXCL`` (atomic on local file systems and on
NFSv3+) and holds ``pid host``. A lock left behind by a killed run is *stale* when
its host is this host and its pid no longer exists; a stale lock is taken over.
A lock from another host cannot be checked and is always respected: remove the
file by hand once that run is known to be gone.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from ..errors import InputError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The pid exists but belongs to another user: alive.
        return True
    return True


def _read_owner(path: Path) -> tuple[int | None, str]:
    try:
        fields = path.read_text(encoding="utf-8").split()
    except OSError:
        return None, ""
    try:
        return int(fields[0]), (fields[1] if len(fields) > 1 else "")
    except (IndexError, ValueError):
        return None, ""


class LockFile:
    """Exclusive lock on an output path, held from :meth:`acquire` to :meth:`release`.

    Parameters
    ----------
    path : str or Path
        The lock file itself (``OUT.lock``).
    field : str
        InputError field named when the lock cannot be taken.
    """

    def __init__(self, path, field: str = "output"):
        self.path = Path(path)
        self.field = field
        self.held = False

    def acquire(self) -> None:
        """Take the lock, replacing a stale one; InputError if a live run holds it."""
        host = socket.gethostname()
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid, owner_host = _read_owner(self.path)
                if pid is not None and owner_host == host and not _pid_alive(pid):
                    # Stale: left by a run on this host that was killed.
                    self.path.unlink(missing_ok=True)
                    continue
                who = f"pid {pid} on host {owner_host}" if pid is not None else "an unknown process"
                raise InputError(
                    self.field,
                    f"{self.path} exists: the output is being written by {who}; "
                    "if that run is gone, delete the lock file and rerun",
                ) from None
            except OSError as exc:
                raise InputError(self.field, f"cannot create lock file {self.path}: "
                                 f"{exc.strerror or exc}") from None
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {host}\n")
            self.held = True
            return
        raise InputError(self.field, f"could not take the lock {self.path} (another run raced us)")

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self.held:
            try:
                self.path.unlink()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()
