"""Camera image tokens over a real socket: ``POST /v1/cameras/{id}/token`` with the key, then
``snapshot.jpg`` and ``stream.mjpg`` open with ``?token=`` alone, and nothing else does."""

from __future__ import annotations

import re

import pytest
import requests

from tests.console.conftest import CAMERA
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.shared_data]


def token_for(daemon: Daemon, camera: str = CAMERA) -> dict[str, str]:
    r = requests.post(f"{daemon.base_url}/v1/cameras/{camera}/token", headers={"x-api-key": daemon.api_key},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def test_token_opens_the_snapshot_and_the_stream(console_daemon: Daemon) -> None:
    data = token_for(console_daemon)
    assert float(data["expires_in"]) == 60 and console_daemon.api_key not in data["stream"]
    snap = requests.get(console_daemon.base_url + data["snapshot"], timeout=30)
    assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"
    with requests.get(console_daemon.base_url + data["stream"], stream=True, timeout=60) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        assert b"\xff\xd8" in next(r.iter_content(65536))


@pytest.mark.parametrize("path,headers,status,message", [
    ("/v1/cameras/{camera}/latest?token={token}", {}, 401, "missing API key"),  # only the two image routes
    ("/v1/cameras?token={token}", {}, 401, "missing API key"),
    ("/v1/cameras/garage/snapshot.jpg?token={token}", {}, 401, "another camera"),
    ("/v1/cameras/{camera}/snapshot.jpg?token={token}x", {}, 401, "not valid|malformed"),
    ("/v1/cameras/{camera}/snapshot.jpg?token=", {}, 401, "malformed"),
    ("/v1/cameras/{camera}/snapshot.jpg", {}, 401, "missing API key"),
    ("/v1/cameras/{camera}/stream.mjpg?token=abc.def", {}, 401, "malformed|not valid"),
    ("/v1/cameras/{camera}/token", {}, 401, "missing API key"),  # POST below: a token needs the key
])
def test_what_a_token_does_not_open(console_daemon: Daemon, path: str, headers: dict[str, str], status: int,
                                    message: str) -> None:
    token = token_for(console_daemon)["token"]
    url = console_daemon.base_url + path.format(camera=CAMERA, token=token)
    method = "POST" if path.endswith("/token") else "GET"
    r = requests.request(method, url, headers=headers, timeout=10)
    assert r.status_code == status, r.text
    assert re.search(message, r.json()["message"]), r.json()


def test_token_for_an_unknown_camera_is_404(console_daemon: Daemon) -> None:
    r = requests.post(f"{console_daemon.base_url}/v1/cameras/garage/token",
                      headers={"x-api-key": console_daemon.api_key}, timeout=10)
    assert r.status_code == 404 and "garage" in r.json()["message"]
