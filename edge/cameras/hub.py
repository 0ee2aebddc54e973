"""All cameras of the daemon: built from config, checked against the served models, started after
the engine is ready and stopped before it closes. Holds the one MQTT connection they share."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from edge.cameras.events import EventSink
from edge.cameras.loop import CameraLoop, Daemon
from edge.cameras.publish import MqttPublisher
from edge.cameras.source import CameraSource
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
            self.mqtt.start()
        for loop in self.loops.values():
            loop.start()
        if self.loops:
            logger.info("cameras: %s", ", ".join(f"{c} ({l.config.model})" for c, l in self.loops.items()))

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
            out["mqtt"] = {"connected": self.mqtt.connected, "last_error": self.mqtt.last_error}
        return out
