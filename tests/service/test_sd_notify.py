"""The notify protocol on a real AF_UNIX datagram socket, as systemd would receive it."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.service.sd_notify import Notifier, run_watchdog, watchdog_interval


class Listener:
    """A bound datagram socket standing in for systemd's notify socket."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address  # as it would appear in $NOTIFY_SOCKET

    def recv(self, timeout: float = 2.0) -> list[str]:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode().split("\n")

    def record(self) -> list[tuple[float, list[str]]]:
        """Start stamping each datagram with its arrival time on the running loop; returns the log."""
        log: list[tuple[float, list[str]]] = []
        self.sock.setblocking(False)

        def on_readable() -> None:
            log.append((time.monotonic(), self.sock.recv(4096).decode().split("\n")))

        asyncio.get_running_loop().add_reader(self.sock.fileno(), on_readable)
        return log

    def stop_recording(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Listener]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        path = str(tmp_path / "notify.sock")
        sock.bind(path)
        yield Listener(sock, path)
    else:
        name = f"yolo-edge-test-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name.encode())
        yield Listener(sock, "@" + name)
    sock.close()


def test_messages_arrive_in_order_with_their_fields(listener: Listener) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": listener.address})
    assert n.enabled
    assert n.extend_timeout(90, status="compiling yolov8n on CPU")
    assert n.ready(status="serving yolov8n on 127.0.0.1:8080\n(CPU)")
    assert n.watchdog()
    before = time.monotonic_ns() // 1000
    assert n.reloading()
    after = time.monotonic_ns() // 1000
    assert n.status("draining 3 requests")
    assert n.stopping()

    assert listener.recv() == ["EXTEND_TIMEOUT_USEC=90000000", "STATUS=compiling yolov8n on CPU"]
    assert listener.recv() == ["READY=1", "STATUS=serving yolov8n on 127.0.0.1:8080 (CPU)"]
    assert listener.recv() == ["WATCHDOG=1"]
    reloading, stamp = listener.recv()
    assert reloading == "RELOADING=1"
    key, value = stamp.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after  # CLOCK_MONOTONIC, as systemd reads it
    assert listener.recv() == ["STATUS=draining 3 requests"]
    assert listener.recv() == ["STOPPING=1"]
    n.close()


@pytest.mark.parametrize(
    ("env", "pid", "expected"),
    [
        ({}, 10, None),
        ({"WATCHDOG_USEC": "30000000"}, 10, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "10"}, 10, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "11"}, 10, None),  # someone else's watchdog
        ({"WATCHDOG_USEC": "0"}, 10, None),
        ({"WATCHDOG_USEC": "soon"}, 10, None),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "x"}, 10, None),
    ],
)
def test_watchdog_interval_from_env(env: dict[str, str], pid: int, expected: float | None) -> None:
    assert watchdog_interval(env, pid=pid) == expected


def test_no_socket_is_a_silent_no_op() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert not n.ready("x") and not n.watchdog() and not n.stopping()


def test_unreachable_socket_does_not_raise(tmp_path: Path) -> None:
    n = Notifier(str(tmp_path / "nobody-listens.sock"))
    assert n.enabled
    assert n.ready() is False
    assert n.watchdog() is False


def test_from_env_defaults_to_process_environment(monkeypatch: pytest.MonkeyPatch, listener: Listener) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 2.0
    assert Notifier.from_env().watchdog()
    assert listener.recv() == ["WATCHDOG=1"]


async def test_watchdog_pings_at_half_interval_and_stops_while_unhealthy(listener: Listener) -> None:
    """Healthy: a ping every interval/2. Stuck: silence (systemd would kill us). Recovered: pings again."""
    interval = 0.4
    healthy = True
    log = listener.record()
    start = time.monotonic()
    task = asyncio.create_task(run_watchdog(Notifier(listener.address), interval, lambda: healthy))
    await asyncio.sleep(1.05)  # pings at ~0, 0.2, 0.4, 0.6, 0.8, 1.0
    healthy_pings, log[:] = list(log), []
    healthy = False
    stuck_at = time.monotonic()
    await asyncio.sleep(1.0)  # longer than two full intervals
    stuck_pings, log[:] = list(log), []
    healthy = True
    await asyncio.sleep(0.3)
    recovered_pings = list(log)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    listener.stop_recording()

    assert all(lines == ["WATCHDOG=1"] for _, lines in healthy_pings)
    assert 4 <= len(healthy_pings) <= 7, healthy_pings
    gaps = [b[0] - a[0] for a, b in zip(healthy_pings, healthy_pings[1:])]
    # cadence: half the interval, never anywhere near the full timeout
    assert all(gap < interval * 0.9 for gap in gaps), gaps
    assert healthy_pings[0][0] - start < interval / 2
    # at most the one ping already due when health flipped; then silence
    assert all(t - stuck_at < interval / 2 for t, _ in stuck_pings), stuck_pings
    assert len(recovered_pings) >= 1


async def test_watchdog_treats_a_raising_health_check_as_unhealthy(listener: Listener) -> None:
    def broken() -> bool:
        raise RuntimeError("engine gone")

    log = listener.record()
    task = asyncio.create_task(run_watchdog(Notifier(listener.address), 0.2, broken))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    listener.stop_recording()
    assert log == []
