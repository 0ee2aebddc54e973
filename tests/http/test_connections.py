"""Connections bounded: a daemon started under an open-file limit of 1024 (as a default shell or a unit
without ``LimitNOFILE`` gives it), 2,000 idle and half-open connections against it, and a good predict
still answered; the log stays a few lines (no ``socket.accept() out of system resource`` storm)."""

from __future__ import annotations

import resource
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.daemon import API_KEY, ServerProcess, free_port, link_models, write_config
from tests.support.in_process import MODEL_ID, MODEL_SRC, good_jpeg, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]
IDLE = 2000


def test_two_thousand_idle_connections_leave_room_for_a_good_request(tmp_path: Path) -> None:
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 200:
        pytest.skip(f"this process may open at most {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, IDLE + 200), hard))
    port = free_port()
    config = write_config(tmp_path, link_models(tmp_path, {MODEL_ID: MODEL_SRC}), port)
    daemon = ServerProcess("daemon", ["prlimit", "--nofile=1024:1024", sys.executable, "-m", "edge.cli", "serve",
                                      "--config", str(config)], port, tmp_path / "daemon.log")
    idle: list[socket.socket] = []
    try:
        for i in range(IDLE):  # half of them never finish their headers, half never send a byte
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            idle.append(sock)
        t = time.perf_counter()
        resp = requests.post(f"{daemon.base_url}/v1/predict/{MODEL_ID}", files={"image": ("a.jpg", good_jpeg())},
                             headers={"x-api-key": API_KEY}, timeout=60)
        seconds = time.perf_counter() - t
        assert resp.status_code == 200, resp.text
        assert requests.get(f"{daemon.base_url}/healthz", timeout=30).status_code == 200
        still_open = sum(1 for s in idle if _open(s))
    finally:
        for sock in idle:
            sock.close()
        daemon.stop()
    log = daemon.log()
    lines = log.splitlines()
    print(f"connections: {IDLE} idle, {still_open} still open at the end, good predict in {seconds:.3f} s; "
          f"log {len(lines)} lines, {len(log)} bytes")
    assert "out of system resource" not in log and "Traceback" not in log, log[-3000:]
    assert "server.max_connections 1024 lowered to 896" in log  # the cap fits under the 1024 descriptors
    assert sum("closed the longest-idle connection" in line for line in lines) == 1  # one line a minute
    assert len(lines) < 40, log[-3000:]
    assert still_open <= 896


def _open(sock: socket.socket) -> bool:
    """False once the daemon has closed ``sock`` (a read returns EOF or the reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
