"""Events without a model: which classes fire, snapshot files and their retention, YOLO labels,
and delivery to a real webhook receiver and a real mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from edge.cameras.events import EventDetector, EventSink
from edge.cameras.mqtt_publisher import MqttPublisher
from edge.cameras.publish import WebhookPublisher
from edge.cameras.snapshot_store import SnapshotStore, stem_for
from edge.cameras.yolo_labels import label_text
from edge.config.cameras import CameraConfig, EventsConfig, SnapshotsConfig, WebhookConfig
from edge.config.mqtt import MqttConfig
from edge.inference.prediction import Prediction
from tests.support.cameras import Mosquitto, Subscriber, WebhookReceiver, await_for, wait_for
from tests.support.daemon import free_port

NAMES = {0: "person", 1: "bicycle", 2: "car"}


def pred(classes: list[int], scores: list[float], shape: tuple[int, int] = (100, 200)) -> Prediction:
    n = len(classes)
    boxes = np.tile(np.array([[20, 10, 60, 50]], np.float32), (n, 1))
    return Prediction(orig_shape=shape, boxes=boxes, scores=np.array(scores, np.float32),
                      classes=np.array(classes, np.int64))



@pytest.mark.parametrize("steps, fired", [
    # (time, classes, scores) per step, with cooldown 10 s and min_confidence 0.5, wanted {0, 2}
    ([(0, [0], [0.9])], [[0]]),
    ([(0, [0], [0.4])], [[]]),                                   # below min_confidence
    ([(0, [1], [0.9])], [[]]),                                   # not a wanted class
    ([(0, [0, 2], [0.9, 0.8])], [[0, 2]]),
    ([(0, [0], [0.9]), (5, [0], [0.9]), (10, [0], [0.9])], [[0], [], [0]]),  # cooldown
    ([(0, [0], [0.9]), (5, [0, 2], [0.9, 0.7])], [[0], [2]]),   # each class has its own cooldown
])
def test_event_detector(steps: list[tuple[float, list[int], list[float]]], fired: list[list[int]]) -> None:
    det = EventDetector(EventsConfig(classes=["person", "car"], min_confidence=0.5, cooldown_s=10))
    got = [det.fire(pred(c, s), frozenset({0, 2}), t) for t, c, s in steps]
    assert got == fired


def test_yolo_labels() -> None:
    p = pred([0, 2], [0.9, 0.8], shape=(100, 200))
    assert label_text(p) == "0 0.200000 0.300000 0.200000 0.400000\n2 0.200000 0.300000 0.200000 0.400000\n"
    p.keypoints = np.array([[[40, 20, 0.9], [50, 30, 0.1]]] * 2, np.float32)
    line = label_text(p).splitlines()[0].split()  # type: ignore[union-attr]
    assert line[5:] == ["0.200000", "0.200000", "2.000000", "0.000000", "0.000000", "0.000000"]
    assert label_text(Prediction(orig_shape=(10, 10), probs=np.array([0.1, 0.9], np.float32))) is None
    assert label_text(pred([], [])) == ""


def test_snapshot_retention_deletes_the_oldest(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "cam", max_count=3, max_age_days=1)
    t0 = time.time()
    saved = [store.save(t0 + i, "person", b"\xff\xd8jpeg", {"i": i}, "0 0.5 0.5 0.1 0.1\n") for i in range(5)]
    assert store.events() == [stem_for(t0 + i, "person") for i in (2, 3, 4)]
    for paths in saved[:2]:
        assert not any(Path(p).exists() for p in paths.values())
    for paths in saved[2:]:
        assert all(Path(p).exists() for p in paths.values())
        assert set(paths) == {"jpg", "json", "txt"}
    # age: an event from two days ago goes at the next prune, whatever the count
    old = store.save(t0 - 2 * 86400, "car", b"old", {}, None)
    assert not Path(old["jpg"]).exists()
    assert store.prune(now=t0 + 3 * 86400) == [stem_for(t0 + i, "person") for i in (2, 3, 4)]
    assert store.events() == []


def test_webhook_retries_with_backoff_then_delivers() -> None:
    receiver = WebhookReceiver(fail_first=2)

    async def run() -> WebhookPublisher:
        pub = WebhookPublisher(WebhookConfig(url=receiver.url, max_attempts=5, queue_size=4))
        pub.start()
        pub.put({"id": "e1", "classes": ["person"]})
        await await_for(lambda: pub.sent == 1, 15, "the event was not delivered")
        await pub.stop()
        return pub

    try:
        pub = asyncio.run(run())
    finally:
        receiver.stop()
    assert receiver.attempts == 3 and [json.loads(b)["id"] for b in receiver.bodies] == ["e1"]
    assert pub.dropped == 0 and "503" in (pub.last_error or "")


def test_webhook_queue_is_bounded() -> None:
    async def run() -> WebhookPublisher:
        pub = WebhookPublisher(WebhookConfig(url=f"http://127.0.0.1:{free_port()}/", queue_size=2))
        for i in range(5):  # not started: nothing drains
            pub.put({"id": i})
        return pub

    pub = asyncio.run(run())
    assert pub.queue.qsize() == 2 and pub.dropped == 3
    assert [pub.queue.get_nowait()["id"] for _ in range(2)] == [3, 4]  # the oldest went


def test_mqtt_publisher_against_mosquitto(broker: Mosquitto) -> None:
    sub = Subscriber(broker.port, "t/#")

    async def run() -> None:
        for qos in (1, 0):
            pub = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix="t", qos=qos,
                                           client_id=f"edge-q{qos}"), environ={})
            pub.start()
            pub.publish((f"q{qos}",), f"qos {qos}".encode())
            if qos:
                pub.publish(("big",), os.urandom(300_000))  # 3-byte remaining length
                pub.publish(("kept",), b"retained", retain=True)
            await await_for(lambda p=pub, n=3 if qos else 1: p.sent == n, 10, "not sent")
            await pub.stop()

    try:
        asyncio.run(run())
        wait_for(lambda: len([t for t in sub.topics() if t != "t/available"]) >= 4, 10, "messages did not arrive")
        assert [t for t in sub.topics() if t != "t/available"] == ["t/q1", "t/big", "t/kept", "t/q0"]
        assert len(sub.payloads("t/big")[0]) == 300_000
        late = Subscriber(broker.port, "t/kept")  # a new subscriber gets the retained message
        wait_for(lambda: late.messages, 10, "the retained message was not kept")
        assert late.messages[0][1:] == (b"retained", True)
        late.stop()
    finally:
        sub.stop()


def test_event_sink_saves_and_publishes(broker: Mosquitto, tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    sub = Subscriber(broker.port, "edge/#")
    camera = CameraConfig(id="door", source="0", model="m",
                          events=EventsConfig(classes=["person", "car"], min_confidence=0.5, cooldown_s=60),
                          snapshots=SnapshotsConfig(dir=tmp_path / "snaps", max_count=10),
                          webhook=WebhookConfig(url=receiver.url))
    image = np.zeros((100, 200, 3), np.uint8)

    async def run() -> list[dict | None]:
        mqtt = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix="edge"), environ={})
        sink = EventSink(camera, mqtt, None)
        mqtt.start()
        sink.start()
        out = [await sink.handle(image, time.time(), pred([0, 1, 2], [0.9, 0.9, 0.3]), NAMES, "m",
                                 frozenset({0, 2}), now=0.0),
               await sink.handle(image, time.time(), pred([0], [0.9]), NAMES, "m", frozenset({0, 2}), now=1.0)]
        await await_for(lambda: receiver.bodies and mqtt.queue.empty() and mqtt.sent >= 3, 15, "not published")
        await sink.stop()
        await mqtt.stop()
        return out

    try:
        event, cooled = asyncio.run(run())
        wait_for(lambda: "edge/available" in sub.topics()[1:], 10, "offline was not published")
    finally:
        receiver.stop()
        sub.stop()
    assert cooled is None and event is not None
    assert event["classes"] == ["person"]  # the car is below min_confidence, the bicycle not wanted
    assert [d["name"] for d in event["data"]] == ["person", "bicycle", "car"]
    hooked = json.loads(receiver.bodies[0])
    assert hooked["id"] == event["id"] and hooked["classes"] == ["person"]
    snap = event["snapshot"]
    assert Path(snap["jpg"]).read_bytes()[:2] == b"\xff\xd8"
    assert json.loads(Path(snap["json"]).read_text())["classes"] == ["person"]
    assert Path(snap["txt"]).read_text().count("\n") == 3
    topics = sub.topics()
    assert topics[0] == "edge/available" and sub.messages[0][1] == b"online"
    assert {"edge/events", "edge/door/person", "edge/door/person/snapshot"} <= set(topics)
    assert not any(t.startswith(("edge/door/car", "edge/door/bicycle")) for t in topics)
    retained = {t: p for t, p, _ in sub.messages}
    assert json.loads(retained["edge/door/person"])["id"] == event["id"]
    assert sub.messages[-1][:2] == ("edge/available", b"offline")
