"""Results -> events: which classes fire (confidence, cooldown), and where each event goes.

An event is one frame in which at least one configured class appears at ``min_confidence`` or
more and is out of its cooldown. It is saved (JPEG + JSON + YOLO labels, ``edge.cameras.snapshot_store``),
POSTed to the camera's webhook and published to MQTT (``edge.cameras.publish``). The event body::

    {"id": "door-20261126-200351-123456", "camera": "door", "model": "yolov8n",
     "time": 1795723431.12, "time_iso": "2026-11-26T20:03:51.123456+00:00",
     "classes": ["person"], "frame": {"width": 1280, "height": 720},
     "data": [HUB items of every object in the frame], "snapshot": {"jpg": ..., "json": ..., "txt": ...}}

A camera with lines or zones (``edge.analytics.counts``) also raises one event per crossing, entry and
exit, whatever ``events.classes`` says: the same envelope with ``type`` (``line_cross``, ``zone_enter``,
``zone_leave``), ``line`` or ``zone``, ``class``, ``track_id``, and ``direction`` (in/out) or ``dwell_s``
(on leaving); ``data`` holds the tracked object only. It goes to the same places: the snapshot folder
(the frame, tagged ``line_cross_<line>_<class>``), the webhook, MQTT ``{p}/events`` and
``{p}/{camera}/lines/{line}`` or ``{p}/{camera}/zones/{zone}``; after each change the counts
(``CameraCounts.snapshot()``) are published retained on ``{p}/{camera}/counts``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import deque
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from edge.cameras.camera_state import CameraState
from edge.cameras.mqtt_publisher import MqttPublisher
from edge.cameras.publish import WebhookPublisher
from edge.cameras.snapshot_store import SnapshotStore, encode_jpeg, stem_for
from edge.cameras.yolo_labels import label_text
from edge.config.cameras import CameraConfig, EventsConfig
from edge.config.redact import redact_text
from edge.errors import EdgeError
from edge.inference.prediction import Prediction
from edge.inference.summary import summarize

logger = logging.getLogger(__name__)

RECENT = 50  # events kept in memory for a camera without a snapshot folder


class EventDetector:
    """Decides which classes fire on one camera; remembers each class's last event (monotonic s)."""

    def __init__(self, config: EventsConfig) -> None:
        self.config = config
        self.last: dict[int, float] = {}

    def fire(self, pred: Prediction, wanted: frozenset[int], now: float) -> list[int]:
        """Class indices in ``wanted`` present at ``min_confidence`` and out of cooldown, sorted."""
        if not wanted:
            return []
        if pred.probs is not None:  # classify: the top class counts as present
            top = int(np.argmax(pred.probs))
            present = {top} if top in wanted and pred.probs[top] >= self.config.min_confidence else set()
        else:
            present = {int(c) for c, s in zip(pred.classes.tolist(), pred.scores.tolist())
                       if c in wanted and s >= self.config.min_confidence}
        fired = sorted(c for c in present if now - self.last.get(c, -math.inf) >= self.config.cooldown_s)
        for c in fired:
            self.last[c] = now
        return fired


class EventSink:
    """Everything one camera does with an event. ``handle`` never blocks on disk or network."""

    def __init__(self, camera: CameraConfig, mqtt: MqttPublisher | None, executor: Executor | None,
                 mqtt_snapshots: bool = True) -> None:
        self.camera = camera
        self.detector = EventDetector(camera.events)
        self.mqtt = mqtt if camera.mqtt else None
        self.mqtt_snapshots = mqtt_snapshots
        self.executor = executor
        snap = camera.snapshots
        self.store = SnapshotStore(snap.dir / camera.id, snap.max_count, snap.max_age_days) if snap.dir else None
        self.webhook = WebhookPublisher(camera.webhook, f"webhook {camera.id}") if camera.webhook.url else None
        self.count = 0
        self.analytics_count = 0  # line and zone events
        self.last_event: dict[str, Any] | None = None
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.last_error: str | None = None
        # Home Assistant's view of this camera (set by the hub when discovery is on): counts per
        # frame and the last event, published when they change.
        self.state: CameraState | None = None

    def start(self) -> None:
        if self.webhook:
            self.webhook.start()
        if self.store:
            self.store.prune()

    async def stop(self) -> None:
        if self.webhook:
            await self.webhook.stop()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "analytics_count": self.analytics_count, "last": self.last_event and {
            k: self.last_event[k] for k in ("id", "time", "classes")}, "last_error": self.last_error}
        if self.webhook:
            out["webhook"] = self.webhook.status()
        return out

    def update_analytics(self, snapshot: dict[str, Any]) -> None:
        """The tracker's counts of this camera (``{"lines": ..., "zones": ...}``, see
        ``edge.cameras.camera_state``) for Home Assistant; nothing without discovery."""
        if self.state is not None:
            self.state.update_analytics(snapshot)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Blocking (reads the snapshot folder when there is one, so events outlive a restart): the
        newest ``limit`` event bodies, newest first; ``snapshot`` is None when no JPEG was saved."""
        if self.store is not None:
            return [{k: v for k, v in body.items() if k not in ("success", "message")}
                    for body in self.store.recent(limit)]
        return list(self._recent)[::-1][:limit]

    def image_of(self, event_id: str) -> Path | None:
        """The saved JPEG of event ``event_id`` (``door-20261126-200351-123456``), or None."""
        prefix = f"{self.camera.id}-"
        if self.store is None or not event_id.startswith(prefix):
            return None
        return self.store.image_of(event_id[len(prefix):])

    async def handle(self, image: np.ndarray, when: float, pred: Prediction, names: dict[int, str],
                     model_id: str, wanted: frozenset[int], now: float) -> dict[str, Any] | None:
        """Check one result; if it is an event, save and publish it and return its body."""
        if self.state is not None:
            self.state.update_prediction(pred, names)
        fired = self.detector.fire(pred, wanted, now)
        if not fired:
            return None
        classes = [names.get(c, str(c)) for c in fired]
        stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc)
        event: dict[str, Any] = {
            "id": f"{self.camera.id}-{stem_for(when, '')}", "camera": self.camera.id, "model": model_id,
            "time": when, "time_iso": stamp.isoformat(), "classes": classes,
            "frame": {"width": image.shape[1], "height": image.shape[0]},
            "data": summarize(pred, names), "snapshot": None,
        }
        self.count += 1
        jpeg: bytes | None = None
        if self.store or (self.mqtt and self.mqtt_snapshots):
            jpeg = await self._save_frame(image, when, classes, event, pred)
        self.last_event = event
        body = self._deliver(event)
        if body is not None:
            for name in classes:
                self.mqtt.publish((self.camera.id, name), body, retain=True)
                if jpeg is not None and self.mqtt_snapshots:
                    self.mqtt.publish((self.camera.id, name, "snapshot"), jpeg, retain=True)
        if self.state is not None:
            self.state.update_event(event)
        logger.info("camera %s: event %s (%s)", self.camera.id, event["id"], ", ".join(classes))
        return event

    async def handle_analytics(self, image: np.ndarray, when: float, happened: list[dict[str, Any]],
                               pred: Prediction, names: dict[int, str], model_id: str,
                               counts: dict[str, Any]) -> list[dict[str, Any]]:
        """Publish line and zone events (``CameraCounts.update``'s dicts) of one frame and the counts
        after them; returns the full event bodies."""
        if not happened:
            return []
        stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc)
        items = summarize(pred, names)
        out = []
        for n, what in enumerate(happened):
            shape = what.get("line") or what.get("zone")
            event: dict[str, Any] = {
                "id": f"{self.camera.id}-{stem_for(when, '')}-{n}", "camera": self.camera.id, "model": model_id,
                "time": when, "time_iso": stamp.isoformat(), **what,
                "frame": {"width": image.shape[1], "height": image.shape[0]},
                "data": [i for i in items if i.get("track_id") == what["track_id"]], "snapshot": None,
            }
            if self.store:
                await self._save_frame(image, when, [f"{what['type']}_{shape}_{what['class']}"], event, pred)
            body = self._deliver(event)
            if body is not None:
                self.mqtt.publish((self.camera.id, "lines" if "line" in what else "zones", str(shape)), body)
            logger.info("camera %s: %s %s %s (track %s)", self.camera.id, what["type"], shape, what["class"],
                        what["track_id"])
            out.append(event)
        self.analytics_count += len(out)
        if self.mqtt:
            self.mqtt.publish((self.camera.id, "counts"), orjson.dumps(counts), retain=True)
        return out

    async def _save_frame(self, image: np.ndarray, when: float, tags: list[str], event: dict[str, Any],
                          pred: Prediction) -> bytes | None:
        """The event's JPEG, saved with its files off the loop (``event["snapshot"]`` set when stored);
        None when saving failed (logged, kept as ``last_error``: the event still goes out)."""
        try:
            jpeg, event["snapshot"] = await asyncio.get_running_loop().run_in_executor(
                self.executor, self._save, image, when, tags, event, pred)
            return jpeg
        except EdgeError as exc:
            self.last_error = redact_text(str(exc))
            logger.warning("camera %s: %s", self.camera.id, self.last_error)
            return None

    def _deliver(self, event: dict[str, Any]) -> bytes | None:
        """Keep ``event`` for the events route and hand it to the webhook and to MQTT's ``events`` topic;
        returns its JSON when MQTT is on (for the caller's own topics)."""
        self._recent.append(event)
        if self.webhook:
            self.webhook.put(event)
        if not self.mqtt:
            return None
        body = orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY)
        self.mqtt.publish(("events",), body)
        return body

    def _save(self, image: np.ndarray, when: float, classes: list[str], event: dict[str, Any],
              pred: Prediction) -> tuple[bytes, dict[str, str] | None]:
        jpeg = encode_jpeg(image, self.camera.snapshots.jpeg_quality)
        if self.store is None:
            return jpeg, None
        body = {"success": True, "message": "Inference complete.", **event}
        return jpeg, self.store.save(when, "+".join(classes), jpeg, body, label_text(pred))
