"""All cameras of the daemon: built from config, checked against the served models, started after
the engine is ready and stopped before it closes. Holds the one MQTT connection they share and, with
``mqtt.homeassistant.discovery``, announces every camera to Home Assistant on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from edge.cameras.camera_state import CameraState
from edge.cameras.events import EventSink
from edge.cameras.ha_discovery import Discovery, camera_entities, config_messages, slug
from edge.cameras.loop import CameraLoop, Daemon
from edge.cameras.mqtt_publisher import Message, MqttPublisher
from edge.cameras.source import CameraSource
from edge.config.cameras import CameraConfig, resolve_classes
from edge.config.settings import Config
from edge.errors import CameraNotFound

logger = logging.getLogger(__name__)


class CameraHub:
    def __init__(self, config: Config, daemon: Daemon, executor: Executor | None = None) -> None:
        self.config = config
        self.mqtt = MqttPublisher(config.mqtt) if config.mqtt.host and config.cameras else None
        self.loops: dict[str, CameraLoop] = {}
        for cam in config.cameras:
            source = CameraSource(cam.id, cam.source, cam.stall_timeout_s, cam.reconnect_max_s)
            events = EventSink(cam, self.mqtt, executor, config.mqtt.snapshots)
            self.loops[cam.id] = CameraLoop(cam, daemon, source, events)
        self.daemon = daemon

    def check(self) -> None:
        """Every camera's model is served and fits its settings; raises ConfigError (fail at start)."""
        for loop in self.loops.values():
            loop.options_for(self.daemon.serving.models.get(loop.config.model))

    async def start(self) -> None:
        self.check()
        if self.mqtt:
            if self.config.mqtt.homeassistant.discovery:
                self._announce(self.mqtt)
            self.mqtt.start()
        for loop in self.loops.values():
            loop.start()
        if self.loops:
            logger.info("cameras: %s", ", ".join(f"{c} ({l.config.model})" for c, l in self.loops.items()))

    def _announce(self, mqtt: MqttPublisher) -> None:
        """Home Assistant discovery: each camera's configs and state go out at every connection (and
        when Home Assistant restarts); its state follows each frame's counts and each event."""
        ha = self.config.mqtt.homeassistant
        d = Discovery(ha.prefix, slug(self.config.mqtt.client_id), self.config.mqtt.topic_prefix)
        configs: list[Message] = []
        states: list[tuple[str, CameraState]] = []
        for cid, loop in self.loops.items():
            cam = loop.config
            if not cam.mqtt:
                continue
            classes = announced_classes(cam, self.daemon.serving.models.get(cam.model).spec.names)
            lines, zones = _ids(cam, "lines"), _ids(cam, "zones")
            configs += config_messages(camera_entities(d, cid, cam.model, classes, lines, zones))
            topic = d.state_topic(cid)
            state = CameraState(classes, lines, zones, _sender(mqtt, topic))
            loop.events.state = state
            states.append((topic, state))
        mqtt.on_connect(lambda: configs + [(topic, s.payload(), True) for topic, s in states],
                        birth_topic=d.birth_topic)
        logger.info("mqtt: Home Assistant discovery: %d entities on %s/", len(configs), ha.prefix)

    async def stop(self) -> None:
        for loop in self.loops.values():
            await loop.stop()
        if self.mqtt:
            await self.mqtt.stop()

    def get(self, camera_id: str) -> CameraLoop:
        try:
            return self.loops[camera_id]
        except KeyError:
            known = ", ".join(sorted(self.loops)) or "none"
            raise CameraNotFound(f"camera {camera_id[:40]!r} is not configured; cameras on this device: {known}") from None

    def counts(self) -> dict[str, dict[str, Any]]:
        """Camera id -> ``CameraCounts.snapshot()`` (edge/analytics/counts.py) of every camera with lines or
        zones: what MQTT / Home Assistant publish."""
        return {cid: loop.analytics.snapshot() for cid, loop in self.loops.items() if loop.analytics.counts}

    def status(self) -> list[dict[str, Any]]:
        return [loop.status() for loop in self.loops.values()]

    def ready_detail(self) -> dict[str, Any]:
        """A short per-camera summary for /readyz (cameras never make the device unready)."""
        cams = {}
        for cid, loop in self.loops.items():
            s = loop.source.status()
            cams[cid] = {"connected": s["connected"], "fps_in": s["fps_in"], "last_frame_time": s["last_frame_time"],
                         "last_error": loop.last_error or s["last_error"]}
        out: dict[str, Any] = {"cameras": cams}
        if self.mqtt:
            status = self.mqtt.status()
            out["mqtt"] = {k: status[k] for k in ("connected", "protocol", "tls", "last_error")}
        return out


def announced_classes(cam: CameraConfig, names: dict[int, str]) -> list[str]:
    """The class names a camera shows in Home Assistant: its ``classes`` filter, else its event classes
    (a model's 80 classes would be 80 entities per line), in the model's order."""
    wanted = cam.classes if cam.classes is not None else cam.events.classes
    indices = resolve_classes(wanted, names, f"cameras[{cam.id}].classes")
    return [names[i] for i in sorted(indices)]


def _sender(mqtt: MqttPublisher, topic: str) -> Callable[[bytes], None]:
    """Queue a retained state message on ``topic``."""
    return lambda body: mqtt.publish_topic(topic, body, retain=True)


def _ids(cam: CameraConfig, kind: str) -> list[str]:
    """Ids of the camera's ``lines`` or ``zones`` (config of the tracking feature; none without it)."""
    return [str(item.id) for item in getattr(cam, kind, None) or ()]
