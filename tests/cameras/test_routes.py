"""The daemon with two cameras on the real yolov8n INT8 model: a coco128 video file and an MJPEG
camera that drops and comes back, events to a real webhook receiver and a real mosquitto, and
predict requests answered while the cameras run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import web

from edge import __version__
from edge.config.settings import config_from_dict
from edge.errors import ConfigError, EdgeError, ModelNotFound
from edge.http.app import create_app
from edge.service.keys import KeyRing, digest
from tests.support.cameras import (
    GIRAFFE,
    PERSON,
    MjpegCamera,
    Mosquitto,
    Subscriber,
    WebhookReceiver,
    await_for,
    coco128_images,
    jpeg_frames,
    write_video,
)
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.shared_data]

KEY = "camera-test-key"
HEADERS = {"x-api-key": KEY}
MIN_CONF = 0.5


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = require_shared_data() / "models" / "yolov8n_int8_openvino_model"
    if not model.is_dir():
        pytest.skip(f"{model} is not there")
    root = tmp_path_factory.mktemp("models")
    (root / "yolov8n").symlink_to(model)
    return root


@pytest.fixture(scope="module")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    images = coco128_images(classes_wanted={PERSON}, classes_absent={GIRAFFE}, limit=6)
    return write_video(tmp_path_factory.mktemp("video") / "people.mp4", images, size=(640, 480), fps=10, repeat=10)




@pytest.fixture
def mjpeg_camera() -> Iterator[MjpegCamera]:
    with MjpegCamera(jpeg_frames(coco128_images(limit=4), size=(320, 240)), fps=10) as cam:
        yield cam


def make_config(tmp: Path, models_dir: Path, cameras: list[dict[str, Any]], mqtt_port: int | None = None) -> Any:
    raw: dict[str, Any] = {"models": {"dir": str(models_dir), "cache_dir": str(models_dir.parent / "ov-cache")},
                           "cameras": cameras}
    if mqtt_port:
        raw["mqtt"] = {"host": "127.0.0.1", "port": mqtt_port, "topic_prefix": "edge",
                       "homeassistant": {"discovery": True}}
    return config_from_dict(raw, source=tmp / "config.yaml")


async def read_parts(resp: Any, count: int) -> list[bytes]:
    """The first ``count`` JPEGs of a multipart/x-mixed-replace answer."""
    boundary = resp.headers["Content-Type"].split("boundary=")[1].encode()
    parts: list[bytes] = []
    while len(parts) < count:
        line = await resp.content.readline()
        assert line, "the stream ended early"
        if line.strip() == b"--" + boundary:
            headers = {}
            while (h := (await resp.content.readline()).strip()):
                k, _, v = h.decode().partition(":")
                headers[k.lower()] = v.strip()
            parts.append(await resp.content.readexactly(int(headers["content-length"])))
    return parts


async def test_cameras_end_to_end(aiohttp_client: Any, tmp_path: Path, models_dir: Path, person_video: Path,
                                  broker: Mosquitto, hook: WebhookReceiver, mjpeg_camera: MjpegCamera) -> None:
    snaps = tmp_path / "snaps"
    config = make_config(tmp_path, models_dir, [
        {"id": "vid", "source": str(person_video), "model": "yolov8n", "fps": 4,
         "events": {"classes": ["person", "giraffe"], "min_confidence": MIN_CONF, "cooldown_s": 0},
         "snapshots": {"dir": str(snaps), "max_count": 3}, "webhook": {"url": hook.url}},
        {"id": "mj", "source": mjpeg_camera.url, "model": "yolov8n", "fps": 2, "size": 320,
         "stall_timeout_s": 2, "reconnect_max_s": 1, "mqtt": False},
    ], mqtt_port=broker.port)
    sub = Subscriber(broker.port, "edge/#")
    client = await aiohttp_client(create_app(config, KeyRing([digest(KEY)])))
    try:
        assert (await client.get("/v1/cameras")).status == 401  # same auth as predict
        assert (await client.get("/v1/cameras/nope/latest", headers=HEADERS)).status == 404

        # events: at least 5, so retention (max_count 3) has had to delete
        await await_for(lambda: len(hook.bodies) >= 5, 90, "fewer than 5 events reached the webhook")
        events = [json.loads(b) for b in hook.bodies]
        for ev in events:
            assert ev["camera"] == "vid" and "person" in ev["classes"] and set(ev["classes"]) <= {"person", "giraffe"}
            assert ev["frame"] == {"width": 640, "height": 480}
            for cls in ev["classes"]:
                assert any(d["name"] == cls and d["confidence"] >= MIN_CONF for d in ev["data"])
        kept = sorted(p.name for p in (snaps / "vid").glob("*.jpg"))
        assert len(kept) <= 3
        newest_stems = {Path(ev["snapshot"]["jpg"]).name for ev in events[-len(kept):] if ev["snapshot"]}
        assert Path(events[0]["snapshot"]["jpg"]).name not in kept  # the oldest went first
        assert set(kept) <= newest_stems | {Path(ev["snapshot"]["jpg"]).name for ev in events}
        stem = snaps / "vid" / kept[-1][:-4]
        label_lines = Path(f"{stem}.txt").read_text().splitlines()
        assert any(line.split()[0] == str(PERSON) for line in label_lines)
        await await_for(lambda: "edge/vid/person" in sub.topics(), 20, "no MQTT message on edge/vid/person")
        assert "edge/events" in sub.topics() and not any(t.startswith("edge/mj/") for t in sub.topics())
        # Home Assistant discovery (edge/vid/state and retained configs of the vid camera only)
        await await_for(lambda: any(json.loads(p)["detections"]["person"] >= 1 for p in sub.payloads("edge/vid/state")),
                        20, "no state with a person")
        ha = Subscriber(broker.port, "homeassistant/#")
        await await_for(lambda: len(ha.messages) >= 5, 10, "no retained discovery configs")
        found = {t.split("/")[3] for t, _, retained in ha.messages if retained}
        assert found == {"vid_last_event", "vid_person_count", "vid_person_detected", "vid_giraffe_count",
                         "vid_giraffe_detected"}
        ha.stop()

        # the API
        cams = (await (await client.get("/v1/cameras", headers=HEADERS)).json())["data"]
        assert [c["id"] for c in cams] == ["vid", "mj"]
        vid = cams[0]
        assert vid["frames_inferred"] >= 5 and vid["frames_in"] > vid["frames_inferred"]
        assert vid["events"]["count"] >= 5 and vid["events"]["webhook"]["sent"] >= 5
        latest = await (await client.get("/v1/cameras/vid/latest", headers=HEADERS)).json()
        assert latest["success"] and latest["frame"] == {"width": 640, "height": 480} and latest["time"] > 0
        assert any(d["name"] == "person" for d in latest["data"])
        assert set(latest["data"][0]) == {"name", "class", "confidence", "box"}
        for query, size in (("", (240, 320)), ("?annotate=1", (240, 320))):
            resp = await client.get(f"/v1/cameras/mj/snapshot.jpg{query}", headers=HEADERS)
            assert resp.status == 200 and resp.content_type == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(await resp.read(), np.uint8), cv2.IMREAD_COLOR)
            assert image.shape[:2] == size
        resp = await client.get("/v1/cameras/vid/stream.mjpg", headers=HEADERS)
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        parts = await asyncio.wait_for(read_parts(resp, 2), 30)
        assert all(cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3) for p in parts)
        resp.close()
        ready = await (await client.get("/readyz", headers=HEADERS)).json()
        assert ready["ready"] and set(ready["cameras"]) == {"vid", "mj"} and ready["mqtt"]["connected"]
        assert ready["service"]["version"] == __version__ and ready["service"]["device"] == "CPU"

        # recent events: what the webhook got, newest first, within retention, each with its saved frame
        listed = (await (await client.get("/v1/cameras/vid/events?limit=50", headers=HEADERS)).json())["data"]
        sent = {ev["id"]: ev for ev in (json.loads(b) for b in hook.bodies)}
        assert 1 <= len(listed) <= 3 and [e["id"] for e in listed] == sorted((e["id"] for e in listed), reverse=True)
        compared = [ev for ev in listed if ev["id"] in sent]  # the webhook may lag behind the disk by a moment
        assert compared
        for ev in compared:
            assert {k: v for k, v in ev.items() if k != "image"} == {k: v for k, v in sent[ev["id"]].items()
                                                                     if k != "snapshot"}
        resp = await client.get(listed[0]["image"], headers=HEADERS)  # the newest: retention deletes the oldest
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        frame = cv2.imdecode(np.frombuffer(await resp.read(), np.uint8), cv2.IMREAD_COLOR)
        assert frame.shape == (480, 640, 3)
        assert (await (await client.get("/v1/cameras/mj/events", headers=HEADERS)).json())["data"] == []
        assert await (await client.get("/readyz")).json() == {"ready": True, "models": 1, "cameras": 2}  # no key

        # predict is answered while both cameras run
        image = coco128_images(classes_wanted={PERSON}, limit=1)[0]
        for _ in range(3):
            form = {"image": image.read_bytes(), "confidence": "0.25"}
            resp = await client.post("/v1/predict/yolov8n", data=form, headers=HEADERS)
            body = await resp.json()
            assert resp.status == 200 and body["success"] and any(d["name"] == "person" for d in body["data"])

        # the MJPEG camera drops, and the loop recovers once it is back
        mjpeg_camera.drop()
        await await_for(lambda: not hub_status(client, "mj")["connected"], 20, "the drop was not noticed")
        assert (await client.get("/readyz")).status == 200  # a camera never makes the device unready
        down = await (await client.get("/v1/cameras", headers=HEADERS)).json()
        mj = next(c for c in down["data"] if c["id"] == "mj")
        assert mj["last_error"] and not mj["connected"]
        inferred = mj["frames_inferred"]
        mjpeg_camera.restore()
        await await_for(lambda: hub_status(client, "mj")["connected"]
                        and hub_status(client, "mj")["frames_inferred"] >= inferred + 2, 30, "did not recover")
    finally:
        sub.stop()


def hub_status(client: Any, camera_id: str) -> dict[str, Any]:
    from edge.http.app_keys import CAMERAS
    hub = client.server.app[CAMERAS].hub
    return hub.get(camera_id).status()


@pytest.mark.parametrize("camera, message", [
    ({"classes": ["unicorn"]}, "cameras[c].classes: 'unicorn' is not a class of the model"),
    ({"events": {"classes": ["person", "dragon"]}}, "'dragon' is not a class of the model"),
    ({"model": "yolov9000"}, "model 'yolov9000' is not served here"),
    ({"size": 1280}, "cameras[c].size: 1280 is larger than model 'yolov8n' can run"),
])
async def test_a_camera_that_does_not_fit_fails_the_start(tmp_path: Path, models_dir: Path, person_video: Path,
                                                          camera: dict[str, Any], message: str) -> None:
    config = make_config(tmp_path, models_dir, [{"id": "c", "source": str(person_video), "model": "yolov8n",
                                                 **camera}])
    runner = web.AppRunner(create_app(config, KeyRing([digest(KEY)])))
    with pytest.raises(EdgeError) as info:
        await runner.setup()
    await runner.cleanup()
    assert message in str(info.value)
    assert isinstance(info.value, ModelNotFound if "not served" in message else ConfigError)
