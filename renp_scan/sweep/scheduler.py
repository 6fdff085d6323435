"""Connecting to a running dask.distributed scheduler (an optional package) from a run."""

from __future__ import annotations

import errno
import logging
import socket
import struct
import time

from ..errors import InputError

#: Largest first message accepted from a scheduler before it is trusted [bytes]
#: (a dask handshake is ~100 bytes; anything else is not a dask scheduler).
HANDSHAKE_MAX_BYTES = 2**16


def _recv_exactly(sock, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        got = sock.recv(n - len(data))
        if not got:
            raise ConnectionResetError(errno.ECONNRESET, "closed the connection")
        data += got
    return data


def probe_scheduler(address: str, timeout_s: float = 10.0) -> None:
    """Check that a dask scheduler answers at ``address`` (tcp) within ``timeout_s`` in all.

    A dask scheduler sends its handshake (a msgpack dict with ``compression``,
    ``python`` and ``pickle-protocol``, framed by 8-byte little-endian lengths) as soon
    as a connection is accepted. This reads it over a plain socket with one deadline
    for the connect *and* the handshake, so a server that never answers, or one that
    sends something else (an HTTP or SSH banner), is refused with
    :class:`InputError` before ``distributed`` waits on it without a limit or sizes
    a buffer from the banner's bytes. Other schemes (tls, ucx, inproc) are left to
    ``distributed``.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return
    host, _, port = rest.rstrip("/").rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port_n = int(port)
    except ValueError:
        raise InputError("scheduler", f"{address!r} has no port; give tcp://HOST:PORT") from None
    deadline = time.monotonic() + timeout_s
    what = f"no dask scheduler at {address!r}"
    try:
        with socket.create_connection((host, port_n), timeout=timeout_s) as sock:
            size_bytes = _recv_exactly(sock, 8, deadline)
            (size,) = struct.unpack("<Q", size_bytes)
            if not 16 <= size <= HANDSHAKE_MAX_BYTES:
                raise InputError("scheduler", f"{what}: it sent {size_bytes!r}, not a dask "
                                 "handshake (is this the scheduler's port, not the dashboard "
                                 "or another service?)")
            payload = _recv_exactly(sock, size, deadline)
    except TimeoutError:
        raise InputError("scheduler", f"{what}: it sent no dask handshake within "
                         f"{timeout_s:g} s (is this the scheduler's port?)") from None
    except OSError as exc:
        raise InputError("scheduler", f"{what}: {exc.strerror or exc}") from None
    if b"pickle-protocol" not in payload or b"compression" not in payload:
        raise InputError("scheduler", f"{what}: its first message is not a dask handshake "
                         f"({payload[:24]!r})")


def connect_scheduler(address: str, timeout: str = "10s"):
    """Connect a ``distributed.Client`` to a running scheduler; InputError if none answers.

    The connection and the handshake are bounded by ``timeout`` together
    (:func:`probe_scheduler` checks the handshake first).

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``tcp://host:8786``.
    timeout : str
        How long to keep trying to connect (dask time string).
    """
    try:
        from dask.utils import parse_timedelta
        from distributed import Client
    except ImportError:
        raise InputError("scheduler", "--scheduler needs the distributed package "
                         "(pip install distributed)") from None
    probe_scheduler(address, float(parse_timedelta(timeout)))
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("scheduler",
                         f"cannot connect to a dask scheduler at {address!r}: {exc}") from None


def quiet_cluster_logs() -> None:
    """Keep distributed's own log lines (reconnect attempts, tracebacks) off stderr.

    For the command line, whose every failure is one line; library users keep
    distributed's logging as configured.
    """
    try:
        import distributed  # noqa: F401  (configures its loggers at import; override after)
    except ImportError:
        return
    silent = logging.CRITICAL + 1
    names = [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    for name in ("distributed", "tornado", "asyncio", *names):
        logger = logging.getLogger(name)
        logger.setLevel(silent)
        for handler in logger.handlers:
            handler.setLevel(silent)
