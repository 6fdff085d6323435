"""A lock file ``OUT.lock`` so that two runs never write the same cube.

The lock appears atomically with its content: the owner line is written to a
private temporary file that is then hard-linked to ``OUT.lock`` (``link`` fails
if the name exists; atomic on local file systems and NFS). Where hard links are
not supported the file is created with ``O_CREAT | O_EXCL`` and then written.

The owner line is ``pid host start boot``: the process id, the host name, the
process start time (clock ticks since boot, ``/proc/<pid>/stat``) and the kernel
boot id. Policy:

* **same host, owner alive** (its pid exists, with the recorded start time):
  respected, the run is refused;
* **same host, owner gone** (pid gone, pid reused by a younger process, or the
  machine rebooted since): stale, taken over, e.g. after ``kill -9`` or a node
  crash;
* **another host**: respected, since its liveness cannot be checked from here;
  delete the lock by hand once that run is known to be gone (the error says so);
* an unreadable owner line: respected, with the same advice.
"""

from __future__ import annotations

import errno
import os
import socket
import uuid
from pathlib import Path

from ..errors import InputError


def _start_ticks(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot ("-" where /proc is unavailable)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-"
    # Field 22, counted after the parenthesised command name (which may hold spaces).
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else "-"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or "-"
    except OSError:
        return "-"


def owner_line(pid: int | None = None) -> str:
    """Return the owner line of this process (or ``pid``): ``pid host start boot``."""
    pid = os.getpid() if pid is None else pid
    return f"{pid} {socket.gethostname()} {_start_ticks(pid)} {_boot_id()}\n"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The pid exists but belongs to another user: alive.
        return True
    return True


#: Open flags that never follow a symbolic link planted at a name beside the output.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_text(path: Path) -> str:
    """Read ``path`` (at most 4 kB) without following a symbolic link (OSError then)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    try:
        return os.read(fd, 4096).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _read_owner(path: Path) -> tuple[int | None, str, str, str]:
    try:
        fields = _read_text(path).split()
    except OSError:
        return None, "", "-", "-"
    try:
        pid = int(fields[0])
    except (IndexError, ValueError):
        return None, "", "-", "-"
    host = fields[1] if len(fields) > 1 else ""
    start = fields[2] if len(fields) > 2 else "-"
    boot = fields[3] if len(fields) > 3 else "-"
    return pid, host, start, boot


def is_stale(path) -> bool:
    """Tell whether the lock at ``path`` was left by a run on this host that is gone."""
    pid, host, start, boot = _read_owner(Path(path))
    if pid is None or host != socket.gethostname():
        return False
    if boot != "-" and _boot_id() != "-" and boot != _boot_id():
        return True  # rebooted since: every process of the old boot is gone
    if not _pid_alive(pid):
        return True
    # Alive, but is it the same process? A recycled pid has a different start time.
    return start != "-" and _start_ticks(pid) not in ("-", start)


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

    def _create(self) -> bool:
        """Create the lock with our owner line; False if it exists."""
        line = owner_line()
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}")
        try:
            # O_EXCL | O_NOFOLLOW: never write through a link or into a file we did not make.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(line)
            try:
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV,
                                     errno.EMLINK):
                    raise
            # No hard links on this file system: exclusive create, then write.
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(line)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def acquire(self) -> None:
        """Take the lock, replacing a stale one; InputError if a live run holds it."""
        for _attempt in range(3):
            try:
                if self._create():
                    self.held = True
                    return
            except OSError as exc:
                raise InputError(self.field, f"cannot create lock file {self.path}: "
                                 f"{exc.strerror or exc}") from None
            if is_stale(self.path):
                # Left by a run on this host that is gone (kill -9, crash, reboot).
                self._remove_stale()
                continue
            if not self.path.exists():
                continue  # released between our attempt and the check
            pid, host, _start, _boot = _read_owner(self.path)
            who = f"pid {pid} on host {host}" if pid is not None else "an unknown process"
            raise InputError(
                self.field,
                f"{self.path} exists: the output is being written by {who}; "
                "if that run is gone, delete the lock file and rerun",
            )
        raise InputError(self.field, f"could not take the lock {self.path} (another run raced us)")

    def _remove_stale(self) -> None:
        """Remove a stale lock without ever removing a fresh one another run just made.

        The lock is first renamed to a private name; if what was moved is no longer
        the stale content (another run replaced it meanwhile), it is linked back.
        """
        try:
            stale_text = _read_text(self.path)
        except OSError:
            return
        moved = self.path.with_name(f".{self.path.name}.stale.{uuid.uuid4().hex[:12]}")
        try:
            os.rename(self.path, moved)
        except FileNotFoundError:
            return
        try:
            if _read_text(moved) != stale_text:
                try:
                    os.link(moved, self.path)
                except OSError:
                    pass  # the name is taken again: that run holds the lock now
        finally:
            moved.unlink(missing_ok=True)

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
