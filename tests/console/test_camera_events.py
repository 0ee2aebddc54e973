"""A camera's recent events over a real socket: ``GET /v1/cameras/{id}/events`` lists what the camera
saved (the JSON files and JPEGs in its snapshot folder are the reference), the frames open with the key
or a token for that camera, and bad requests get a clear error."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests

from tests.console.conftest import CAMERA
from tests.console.test_camera_tokens import token_for
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.shared_data]


def events(daemon: Daemon, limit: int = 50) -> list[dict[str, Any]]:
    def listed() -> list[dict[str, Any]]:
        r = requests.get(f"{daemon.base_url}/v1/cameras/{CAMERA}/events?limit={limit}",
                         headers={"x-api-key": daemon.api_key}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["data"]  # type: ignore[no-any-return]
    deadline = time.monotonic() + 60
    while not (found := listed()) and time.monotonic() < deadline:  # the first person event
        time.sleep(0.5)
    assert found, "no event within 60 s"
    return found


def test_events_are_what_the_camera_saved(console_daemon: Daemon) -> None:
    listed = events(console_daemon)
    folder = console_daemon.config_path.parent / "snapshots" / CAMERA
    saved = {json.loads(p.read_text())["id"]: p for p in folder.glob("*.json")}
    assert [e["id"] for e in listed] == sorted((i for i in [e["id"] for e in listed] if i in saved), reverse=True)
    for event in listed:
        body = json.loads(saved[event["id"]].read_text())
        assert event == {**{k: v for k, v in body.items() if k not in ("success", "message", "snapshot")},
                         "image": f"/v1/cameras/{CAMERA}/events/{event['id']}.jpg"}
        assert "person" in event["classes"] and event["camera"] == CAMERA
    newest = listed[0]
    jpg = saved[newest["id"]].with_suffix(".jpg").read_bytes()
    by_key = requests.get(console_daemon.base_url + newest["image"], headers={"x-api-key": console_daemon.api_key},
                          timeout=10)
    by_token = requests.get(f"{console_daemon.base_url}{newest['image']}?token={token_for(console_daemon)['token']}",
                            timeout=10)
    for r in (by_key, by_token):
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg" and r.content == jpg
    assert len(events(console_daemon, limit=1)) == 1


@pytest.mark.parametrize("path,key,status,message", [
    ("events", False, 401, "missing API key"),
    ("events?limit=0", True, 400, "limit: '0' is not a whole number from 1 to 50"),
    ("events?limit=51", True, 400, "from 1 to 50"),
    ("events?limit=ten", True, 400, "'ten' is not a whole number"),
    ("events/{camera}-20990101-000000-000000.jpg", True, 404, "no saved frame for event"),
    ("events/{camera}-..%2F..%2Fconfig.jpg", True, 404, "no saved frame for event"),
    ("events/garage-20990101-000000-000000.jpg", True, 404, "no saved frame"),
    ("events/{newest}.jpg", False, 401, "missing API key"),
    ("events/{newest}.jpg?token=garage", False, 401, "malformed"),
])
def test_bad_event_requests(console_daemon: Daemon, path: str, key: bool, status: int, message: str) -> None:
    newest = events(console_daemon, limit=1)[0]["id"]
    url = f"{console_daemon.base_url}/v1/cameras/{CAMERA}/" + path.format(camera=CAMERA, newest=newest)
    r = requests.get(url, headers={"x-api-key": console_daemon.api_key} if key else {}, timeout=10)
    assert r.status_code == status, r.text
    assert re.search(re.escape(message), r.json()["message"]), r.json()


def test_a_token_for_another_camera_does_not_open_an_event(console_daemon: Daemon) -> None:
    from edge.service.media_tokens import MediaTokens

    newest = events(console_daemon, limit=1)[0]
    forged = MediaTokens().issue(CAMERA)  # signed with another secret, as after a restart
    r = requests.get(f"{console_daemon.base_url}{newest['image']}?token={forged}", timeout=10)
    assert r.status_code == 401 and "not valid on this device" in r.json()["message"]
    r = requests.get(f"{console_daemon.base_url}/v1/cameras/nope/events", headers={"x-api-key": console_daemon.api_key},
                     timeout=10)
    assert r.status_code == 404 and "nope" in r.json()["message"]
