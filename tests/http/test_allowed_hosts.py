"""``server.allowed_hosts``: which Host headers name this device (the middleware's 400 is exercised
through a real daemon in tests/http/test_secrets.py)."""

from __future__ import annotations

import pytest

from edge.http.allowed_hosts import allowed, host_name


@pytest.mark.parametrize("host,allow,ok", [
    ("edge.lan:8080", ["edge.lan"], True),
    ("EDGE.LAN", ["edge.lan"], True),
    ("cam.edge.lan", [".edge.lan"], True),
    ("edge.lan", [".edge.lan"], True),
    ("[::1]:8080", ["::1"], True),
    ("[::1]:8080", ["[::1]"], True),
    ("192.168.1.50:8080", ["192.168.1.50"], True),
    ("evil.example", ["edge.lan"], False),
    ("edge.lan.evil.example", ["edge.lan"], False),
    ("notedge.lan", [".edge.lan"], False),
    ("", ["edge.lan"], False),
    (None, ["edge.lan"], False),
])
def test_allowed_hosts(host: str | None, allow: list[str], ok: bool) -> None:
    assert allowed(host, allow) is ok
    assert host_name("[fe80::1]:80") == "fe80::1" and host_name("a:1") == "a"
