"""A real daemon tracking and counting on a file camera: one person (cut from coco128) walks right
across a vertical line and back over a coco128 background, looping seamlessly (tests/support/tracking_video.py).

Ultralytics' ``ObjectCounter`` semantics (tests/parity/test_tracking_parity.py compares them frame by
frame) make the count exact however many loops the camera plays and however many frames it skips:
the walker's track crosses right (``in``) and is counted once for that line, so the way back does not
count. Also: ``track_id`` in ``/latest``, an annotated snapshot, a crossing event on the webhook, on
disk and on a real mosquitto (with the retained counts), the counts kept across a SIGHUP reload and, through the counts file, across a restart.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from tests.support.cameras import Mosquitto, Subscriber, WebhookReceiver
from tests.support.cameras import wait_for as poll
from tests.support.daemon import API_KEY, Daemon, link_models, start_daemon
from tests.support.shared_data import require_shared_data
from tests.support.tracking_video import pingpong_scene, write_avi

pytestmark = [pytest.mark.shared_data]

HEADERS = {"x-api-key": API_KEY}




def get(daemon: Daemon, path: str) -> Any:
    r = requests.get(daemon.base_url + path, headers=HEADERS, timeout=10)
    assert r.status_code == 200, r.text
    return r.json() if r.headers["Content-Type"].startswith("application/json") else r.content


def wait_for(check: Any, timeout: float, message: str, daemon: Daemon) -> Any:
    """tests.support.cameras.wait_for, with the daemon's last log lines when it fails."""
    try:
        return poll(check, timeout, message, interval=0.2)
    except pytest.fail.Exception:
        pytest.fail(f"{message} (after {timeout:g} s)\n{daemon.tail()}")


def person_counts(daemon: Daemon) -> dict[str, int] | None:
    return get(daemon, "/v1/cameras/walk/counts")["data"]["lines"]["mid"].get("person")


def test_tracking_counting_events_reload_and_restart(tmp_path: Path, hook: WebhookReceiver, broker: Mosquitto) -> None:
    model = require_shared_data() / "models" / "yolov8n_int8_openvino_model"
    video = write_avi(tmp_path / "walk.avi", pingpong_scene(), fps=20)  # a loop: 198 frames, 9.9 s
    counts_file = tmp_path / "state" / "walk-counts.json"
    camera = {"id": "walk", "source": str(video), "model": "yolov8n", "fps": 20, "track": {"tracker": "bytetrack"},
              "lines": [{"id": "mid", "points": [[0.5, 0], [0.5, 1]]}],
              "zones": [{"id": "right", "points": [[0.6, 0], [1, 0], [1, 1], [0.6, 1]]}],
              "counts_file": str(counts_file), "webhook": {"url": hook.url}, "classes": ["person"],
              "snapshots": {"dir": str(tmp_path / "snaps")}}
    models = link_models(tmp_path, {"yolov8n": model})
    mqtt = {"host": "127.0.0.1", "port": broker.port, "topic_prefix": "edge", "homeassistant": {"discovery": True}}
    sub = Subscriber(broker.port, "edge/#")
    daemon = start_daemon(tmp_path, models, {"cameras": [camera], "mqtt": mqtt})
    try:
        assert requests.get(daemon.base_url + "/v1/cameras/walk/counts", timeout=10).status_code == 401
        assert requests.get(daemon.base_url + "/v1/cameras/nope/counts", headers=HEADERS, timeout=10).status_code == 404
        wait_for(lambda: person_counts(daemon), 90, "the walker was never counted", daemon)
        wait_for(lambda: len(hook.bodies) >= 1, 20, "no crossing event reached the webhook", daemon)
        time.sleep(11)  # more than one loop of the video: the way back does not count
        assert person_counts(daemon) == {"in": 1, "out": 0}

        latest = get(daemon, "/v1/cameras/walk/latest")
        people = [d for d in latest["data"] if d["name"] == "person"]
        assert people and all(isinstance(d["track_id"], int) for d in latest["data"])
        assert list(people[0]) == ["name", "class", "confidence", "box", "track_id"]  # summary()'s order
        walker = people[0]["track_id"]
        jpeg = get(daemon, "/v1/cameras/walk/snapshot.jpg?annotate=1")
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)

        events = [json.loads(b) for b in hook.bodies]
        crossings = [e for e in events if e.get("type") == "line_cross" and e["class"] == "person"]
        assert [(e["line"], e["class"], e["direction"], e["track_id"]) for e in crossings] == \
            [("mid", "person", "in", walker)]
        assert crossings[0]["data"][0]["track_id"] == walker and crossings[0]["camera"] == "walk"
        assert ("zone_enter", "right", "person") in {(e["type"], e.get("zone"), e["class"]) for e in events}
        wait_for(lambda: "edge/walk/lines/mid" in sub.topics(), 20, "no MQTT message on edge/walk/lines/mid", daemon)
        on_line = [json.loads(m) for t, m, _ in sub.messages if t == "edge/walk/lines/mid"]
        assert any(e["class"] == "person" and e["track_id"] == walker for e in on_line)
        retained = [(json.loads(m), r) for t, m, r in sub.messages if t == "edge/walk/counts"]
        assert retained and retained[-1][0]["lines"]["mid"]["person"]["in"] == 1
        # Home Assistant's entities read the camera's retained state: the line count reaches it too
        ha_state = [json.loads(m) for t, m, r in sub.messages if t == "edge/walk/state"]
        assert ha_state and ha_state[-1]["lines"]["mid"]["person"] == {"in": 1, "out": 0}
        assert any("line_cross_mid_person" in p.name for p in (tmp_path / "snaps" / "walk").glob("*.jpg"))
        zone = get(daemon, "/v1/cameras/walk/counts")["data"]["zones"]["right"]
        assert zone["entered"].get("person", 0) >= 1

        # a reload (SIGHUP) keeps the cameras and their counts (compiling the model again starves the camera
        # loop for a while, so the walker may come back as a new track: counts only grow)
        before = get(daemon, "/v1/cameras/walk/counts")["data"]
        frames_before = camera_frames(daemon)
        mark = len(daemon.log())
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload: now serving" in daemon.log()[mark:], 120, "the reload did not finish", daemon)
        after = get(daemon, "/v1/cameras/walk/counts")["data"]
        # the same camera loop (a restarted one counts its frames, and its lines, from 0 again)
        assert camera_frames(daemon) >= frames_before > 0
        for way in ("in", "out"):
            assert after["lines"]["mid"]["person"][way] >= before["lines"]["mid"]["person"][way]
        assert after["zones"]["right"]["entered"]["person"] >= before["zones"]["right"]["entered"]["person"]
    finally:
        daemon.stop()
        sub.stop()

    saved = json.loads(counts_file.read_text())["counts"]  # written at stop
    for way in ("in", "out"):
        assert saved["lines"]["mid"]["person"][way] >= after["lines"]["mid"]["person"][way]

    # a restart reads the counts back (the file starts the walker at the left: ~2.5 s from the line), and the
    # new tracker's first track of the walker counts on top of them
    daemon = start_daemon(tmp_path, models, {"cameras": [camera], "mqtt": mqtt})
    try:
        assert person_counts(daemon) == saved["lines"]["mid"]["person"]
        wait_for(lambda: person_counts(daemon)["in"] > saved["lines"]["mid"]["person"]["in"], 90,
                 "the new crossing was not counted on top of the saved counts", daemon)
    finally:
        daemon.stop()


def camera_frames(daemon: Daemon) -> int:
    (walk,) = [c for c in get(daemon, "/v1/cameras")["data"] if c["id"] == "walk"]
    return int(walk["frames_inferred"])
