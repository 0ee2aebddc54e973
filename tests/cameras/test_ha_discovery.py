"""Home Assistant MQTT discovery: the configs follow Home Assistant's documented discovery schema
(topic ``<prefix>/<component>/<node_id>/<object_id>/config``, state_topic, unique_id, device,
availability), their templates read the state message the daemon publishes, and a real mosquitto
keeps them retained, sends them again when Home Assistant's birth message comes, and carries the
state as detections and events change.

With ``HOMEASSISTANT_PYTHON`` naming a Python that has the ``homeassistant`` package (not a test
dependency: ~400 MB), each config is also checked by Home Assistant's own MQTT discovery schema and
its templates rendered by Home Assistant's template engine (tests/support/ha_check.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import jinja2
import numpy as np
import pytest

from edge.cameras.camera_state import CameraState
from edge.cameras.ha_discovery import Discovery, camera_entities
from edge.cameras.hub import CameraHub
from edge.config.settings import config_from_dict
from edge.inference.prediction import Prediction
from tests.support.cameras import Mosquitto, Subscriber, await_for, wait_for

D = Discovery("homeassistant", "yolo-edge", "edge")
CLASSES, LINES, ZONES = ["person", "traffic light"], ["gate"], ["front porch"]
# The documented discovery topic: <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids
# of [a-zA-Z0-9_-]
TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")
SNAPSHOT = {"lines": {"gate": {"person": {"in": 3, "out": 1}}},
            "zones": {"front porch": {"occupancy": {"traffic light": 2}, "dwell_s": {"7": 4.5}}}}
EVENT = {"id": "door-1", "time_iso": "2026-11-26T20:03:51.123456+00:00", "classes": ["person"]}
# What each entity should show for SNAPSHOT + one person in the frame + EVENT
EXPECTED = {
    "door_last_event": "2026-11-26T20:03:51.123456+00:00",
    "door_person_count": "1", "door_person_detected": "ON",
    "door_traffic_light_count": "0", "door_traffic_light_detected": "OFF",
    "door_gate_person_in": "3", "door_gate_person_out": "1",
    "door_gate_traffic_light_in": "0", "door_gate_traffic_light_out": "0",
    "door_front_porch_person_occupancy": "0", "door_front_porch_traffic_light_occupancy": "2",
    "door_front_porch_occupied": "ON",
}


def detections(classes: list[int]) -> Prediction:
    n = len(classes)
    return Prediction(orig_shape=(100, 200), boxes=np.tile(np.array([[1, 1, 9, 9]], np.float32), (n, 1)),
                      scores=np.full(n, 0.9, np.float32), classes=np.array(classes, np.int64))


def state_after(classes: list[int], names: dict[int, str]) -> bytes:
    sent: list[bytes] = []
    state = CameraState(CLASSES, LINES, ZONES, sent.append)
    state.update_analytics(SNAPSHOT)
    state.update_prediction(detections(classes), names)
    state.update_event({**EVENT, "camera": "door"})
    return sent[-1]


def render(template: str, payload: bytes) -> str:
    """Jinja as Home Assistant's MQTT value_template sees it: ``value_json`` and a ``tojson`` filter."""
    env = jinja2.Environment()
    return env.from_string(template).render(value_json=json.loads(payload), value=payload.decode()).strip()


def test_configs_follow_the_documented_schema_and_read_the_state() -> None:
    entities = camera_entities(D, "door", "yolov8n", CLASSES, LINES, ZONES)
    payload = state_after([0, 2], {0: "person", 2: "car", 9: "traffic light"})
    shown = {}
    for topic, config in entities:
        assert TOPIC.match(topic), topic
        component, object_id = topic.split("/")[1], topic.split("/")[3]
        # required by Home Assistant's sensor/binary_sensor schema, and what discovery needs to make a device
        assert config["state_topic"] == "edge/door/state"
        assert config["unique_id"] == f"yolo-edge_{object_id}"
        assert config["device"]["identifiers"] == ["yolo-edge_door"] and config["device"]["name"] == "door"
        assert config["availability_topic"] == "edge/available"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        value = render(config["value_template"], payload)
        if component == "binary_sensor":
            assert value in ("ON", "OFF")  # the default payload_on / payload_off
        shown[object_id] = value
        if "json_attributes_template" in config:
            assert json.loads(render(config["json_attributes_template"], payload)) == EVENT
    assert shown == EXPECTED
    assert len({c["unique_id"] for _, c in entities}) == len(entities) == len(EXPECTED)


def test_state_before_anything_happened_renders_too() -> None:
    state = CameraState(CLASSES, LINES, ZONES, lambda body: None)
    payload = state.payload()
    for _, config in camera_entities(D, "door", "m", CLASSES, LINES, ZONES):
        value = render(config["value_template"], payload)
        assert value in ("None", "0", "OFF"), (config["unique_id"], value)  # None: Home Assistant's "unknown"


def test_the_state_message_goes_out_only_on_change() -> None:
    sent: list[bytes] = []
    state = CameraState(["person"], [], [], sent.append)
    names = {0: "person", 1: "car"}
    for classes in ([0], [0], [0, 1], [], []):
        state.update_prediction(detections(classes), names)
    assert [json.loads(b)["detections"]["person"] for b in sent] == [1, 0]


@pytest.mark.skipif(not os.environ.get("HOMEASSISTANT_PYTHON"),
                    reason="HOMEASSISTANT_PYTHON (a Python with the homeassistant package) is not set")
def test_home_assistant_accepts_the_configs(tmp_path: Path) -> None:
    entities = camera_entities(D, "door", "yolov8n", CLASSES, LINES, ZONES)
    payload = state_after([0, 2], {0: "person", 2: "car", 9: "traffic light"})
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"entities": entities, "state": payload.decode()}))
    out = subprocess.run([os.environ["HOMEASSISTANT_PYTHON"], str(Path(__file__).parents[1] / "support" / "ha_check.py"),
                          str(job)], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["errors"] == {}
    assert result["states"] == EXPECTED


def test_discovery_over_a_real_broker(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    names = {0: "person", 1: "bicycle", 2: "car"}
    config = config_from_dict({
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "topic_prefix": "edge",
                 "homeassistant": {"discovery": True}},
        "cameras": [{"id": "door", "source": "0", "model": "m", "events": {"classes": ["person", "car"]}},
                    {"id": "yard", "source": "1", "model": "m", "mqtt": False}]})
    model = SimpleNamespace(spec=SimpleNamespace(names=names))
    daemon = SimpleNamespace(serving=SimpleNamespace(models=SimpleNamespace(get=lambda _: model)), pending=0)
    live = Subscriber(broker.port, "#")
    image = np.zeros((100, 200, 3), np.uint8)

    async def run() -> None:
        hub = CameraHub(config, daemon)  # type: ignore[arg-type]
        assert hub.mqtt is not None
        hub._announce(hub.mqtt)  # what hub.start() does before starting the publisher
        hub.mqtt.start()
        sink = hub.loops["door"].events
        await await_for(lambda: hub.mqtt.connected, 10, "not connected")
        await sink.handle(image, time.time(), detections([0, 0, 2]), names, "m", frozenset({0, 2}), now=0.0)
        await await_for(lambda: hub.mqtt.queue.empty(), 10, "not sent")
        # Home Assistant restarts: its birth message brings every config again
        configs_before = sum(t.startswith("homeassistant/") and t.endswith("/config") for t in live.topics())
        live.client.publish("homeassistant/status", b"online")
        await await_for(lambda: sum(t.startswith("homeassistant/") and t.endswith("/config")
                                    for t in live.topics()) == 2 * configs_before, 10, "not sent again")
        await hub.mqtt.stop()

    try:
        asyncio.run(run())
        late = Subscriber(broker.port, "homeassistant/#")  # Home Assistant starting later: retained configs
        expected = {t for t, _ in camera_entities(D, "door", "m", ["person", "car"], [], [])}
        wait_for(lambda: {t for t, _, _ in late.messages} >= expected, 10, "configs were not retained")
        late_state = Subscriber(broker.port, "edge/door/state")
        wait_for(lambda: late_state.messages, 10, "the state was not retained")
    finally:
        live.stop()
        broker.stop()
    assert {t for t, _, _ in late.messages} == expected
    assert all(retain for _, _, retain in late.messages)
    configs = {t: json.loads(p) for t, p, _ in late.messages}
    assert not any("/yard_" in t for t in configs)  # a camera with mqtt: false is not announced
    assert configs["homeassistant/binary_sensor/yolo-edge/door_person_detected/config"]["device_class"] == "occupancy"
    state = json.loads(late_state.messages[-1][1])
    assert state["detections"] == {"person": 2, "car": 1} and state["last_event"]["classes"] == ["person", "car"]
    assert late_state.messages[-1][2]  # retained
