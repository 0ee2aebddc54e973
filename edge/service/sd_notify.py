"""The systemd notify protocol (sd_notify(3)), written small: one datagram per state change.

A service started with ``Type=notify`` finds an AF_UNIX datagram socket in ``$NOTIFY_SOCKET`` (a path,
or an abstract name written with a leading ``@``) and sends newline-separated ``KEY=VALUE`` lines to it:
``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``EXTEND_TIMEOUT_USEC=...``, ``RELOADING=1`` (with
``MONOTONIC_USEC=`` for ``Type=notify-reload``), ``STOPPING=1``. Outside systemd the variable is
unset and every call here is a no-op, so the daemon runs the same from a shell.

systemd asks for ``WATCHDOG=1`` when it sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``, when given,
names the process that must send). :func:`run_watchdog` pings at half that interval, and only while a
health callable says the daemon is useful: when it stops answering true, systemd's timer runs out and
``Restart=on-failure`` restarts the service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends notify messages to ``$NOTIFY_SOCKET``; does nothing when there is no socket.

    Send errors are logged once and swallowed: a lost status line must never take the daemon down.
    """

    def __init__(self, address: str | None = None) -> None:
        self._address = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for, or a no-op one when ``NOTIFY_SOCKET`` is not set."""
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *lines: str) -> bool:
        """Send ``lines`` (each ``KEY=VALUE``) as one datagram; True when it was sent."""
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._warned:
                logger.warning("sd_notify: cannot send to %r: %s", self._address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status(status))

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float, status: str | None = None) -> bool:
        """Ask for ``seconds`` more before systemd gives up on the current start, reload or stop."""
        return self.send(f"EXTEND_TIMEOUT_USEC={max(1, int(seconds * 1_000_000))}", *_status(status))

    def reloading(self, status: str | None = None) -> bool:
        """``RELOADING=1`` stamped with CLOCK_MONOTONIC, as ``Type=notify-reload`` requires."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}", *_status(status))

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """The watchdog timeout systemd set for this process, in seconds, or None when there is none.

    ``$WATCHDOG_USEC`` is the timeout; when ``$WATCHDOG_PID`` is set and is not ``pid`` (default: this
    process), the watchdog belongs to another process and this one must not ping.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


async def run_watchdog(
    notifier: Notifier,
    interval: float,
    healthy: Callable[[], bool],
) -> None:
    """Send ``WATCHDOG=1`` every ``interval / 2`` seconds while ``healthy()`` is true; runs until cancelled.

    ``interval`` is the watchdog timeout (see :func:`watchdog_interval`). A check that raises counts as
    unhealthy. Transitions are logged once each way, so a stuck daemon says why before systemd kills it.
    """
    period = interval / 2
    was_healthy = True
    while True:
        try:
            ok = bool(healthy())
        except Exception:  # a broken health check is an unhealthy daemon
            logger.exception("watchdog: health check raised")
            ok = False
        if ok:
            notifier.watchdog()
            if not was_healthy:
                logger.warning("watchdog: healthy again, pinging systemd")
        elif was_healthy:
            logger.error("watchdog: daemon unhealthy, no longer pinging systemd (timeout %.1f s)", interval)
        was_healthy = ok
        await asyncio.sleep(period)


def _status(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return ("STATUS=" + " ".join(text.split()),)


def _socket_address(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()  # Linux abstract namespace
    return address
