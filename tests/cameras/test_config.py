"""The cameras: list and mqtt: section: good and bad configs side by side, each bad one with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config.cameras import resolve_classes
from edge.config.settings import config_from_dict, load_config
from edge.errors import ConfigError

CAM = {"id": "door", "source": "rtsp://10.0.0.5/stream1", "model": "yolov8n"}


def cam(**kw: Any) -> dict[str, Any]:
    return {"cameras": [{**CAM, **kw}]}


@pytest.mark.parametrize("raw, error", [
    ({}, None),
    (cam(), None),
    (cam(source=0, fps=5), None),
    (cam(source="/dev/video0", interval_s=60), None),
    (cam(events={"classes": ["person", 2], "min_confidence": 0.6, "cooldown_s": 0}), None),
    (cam(snapshots={"dir": "snaps", "max_count": 10, "max_age_days": 0.5}), None),
    (cam(webhook={"url": "https://example.invalid/hook"}), None),
    ({"mqtt": {"host": "broker", "topic_prefix": "home/edge"}, **cam()}, None),
    (cam(fps=2, interval_s=1), "cameras[0]: give fps or interval_s, not both"),
    (cam(fps=0), "cameras[0].fps: 0 is not inferences per second"),
    (cam(fps="fast"), "cameras[0].fps: 'fast' is not a number"),
    (cam(id="front door"), "cameras[0].id: 'front door' is not an id"),
    (cam(model=""), "cameras[0].model: '' is not a MODEL_ID"),
    ({"cameras": [{"id": "a", "source": "0"}]}, "cameras[0].model: missing"),
    ({"cameras": [CAM, CAM]}, "cameras[1].id: 'door' is already the id of cameras[0]"),
    ({"cameras": {"door": CAM}}, "cameras: {'door': "),
    (cam(size=4000), "cameras[0].size: 4000 is not an integer from 32 to 1280"),
    (cam(colour="red"), "cameras[0].colour: unknown key"),
    (cam(events={"classes": "person"}), "cameras[0].events.classes: 'person' is not a list"),
    (cam(events={"min_confidence": 1.5}), "cameras[0].events.min_confidence: 1.5 is not a confidence"),
    (cam(snapshots={"dir": "s", "max_count": 0}), "cameras[0].snapshots.max_count: 0 is not an integer >= 1"),
    (cam(webhook={"url": "ftp://x"}), "cameras[0].webhook.url: 'ftp://x' is not an http:// or https:// URL"),
    ({"mqtt": {"port": 0}}, "mqtt.port: 0 is not a port number"),
    ({"mqtt": {"topic_prefix": "a/#"}}, "mqtt.topic_prefix: 'a/#' is not a topic"),
    ({"mqtt": {"qos": 2}}, "mqtt.qos: 2 is not 0 or 1"),
])
def test_camera_config(raw: dict[str, Any], error: str | None, tmp_path: Path) -> None:
    if error is None:
        cfg = config_from_dict(raw, source=tmp_path / "config.yaml")
        for c in cfg.cameras:
            assert c.period_s > 0
            if c.snapshots.dir is not None:
                assert c.snapshots.dir == tmp_path / "snaps"  # relative to the config file
        return
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source=tmp_path / "config.yaml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'config.yaml'}: ")
    assert error in message


def test_defaults_and_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("cameras:\n  - id: c1\n    source: 0\n    model: m\n    fps: 4\n")
    cfg = load_config(path)
    (c,) = cfg.cameras
    assert (c.source, c.period_s, c.mqtt, c.snapshots.dir, c.webhook.url) == ("0", 0.25, True, None, None)
    assert cfg.mqtt.host is None
    assert config_from_dict({}).cameras == []


@pytest.mark.parametrize("wanted, expect", [
    (["person"], {0}),
    (["0", "car"], {0, 2}),
    (["2"], {2}),
    (["unicorn"], "'unicorn' is not a class of the model"),
    (["99"], "'99' is not a class of the model"),
])
def test_resolve_classes(wanted: list[str], expect: Any) -> None:
    names = {0: "person", 1: "bicycle", 2: "car"}
    if isinstance(expect, str):
        with pytest.raises(ConfigError, match=expect):
            resolve_classes(wanted, names, "cameras[door].events.classes")
    else:
        assert resolve_classes(wanted, names, "x") == frozenset(expect)
