"""The ``cameras:`` list of config.yaml, as frozen dataclasses (the ``mqtt:`` section: ``edge.config.mqtt``).

Each camera names a source, the MODEL_ID to run on it, how often to infer and what to do with
results (events -> snapshots on disk, a webhook, MQTT). ``edge.config.settings`` reads these with the same
rules as every other section (unknown keys rejected, per-field checks); ``validate`` below adds the
checks that span fields, with the same "file: key: value is not ..." messages.

Example::

    mqtt:
      host: 127.0.0.1
      topic_prefix: yolo-edge
    cameras:
      - id: door
        source: rtsp://user:pass@10.0.0.5/stream1   # or 0, /dev/video0, http://.../mjpg, clip.mp4
        model: yolov8n
        fps: 2
        events: {classes: [person, car], min_confidence: 0.5, cooldown_s: 30}
        snapshots: {dir: /var/lib/yolo-edge/snapshots, max_count: 500, max_age_days: 7}
        webhook: {url: http://10.0.0.2:8000/hook}
        track: {tracker: bytetrack}                     # tracks, lines and zones: edge/config/analytics.py
        lines: [{id: entrance, points: [[0.5, 0], [0.5, 1]]}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edge.config.analytics import LineConfig, TrackConfig, ZoneConfig, check_shapes
from edge.config.request_fields import FIELDS
from edge.config.rules import rule as _rule
from edge.errors import ConfigError

CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TRACK_CONFIDENCE = 0.1  # Ultralytics' Model.track() default




@dataclass(frozen=True)
class EventsConfig:
    """When a result becomes an event. ``classes``: class names or indices of the camera's model;
    empty means this camera raises no events."""

    classes: list[str] = _rule([])
    min_confidence: float = _rule(0.5, lambda v: 0 < v <= 1, "a confidence above 0 and at most 1")
    # After an event for a class, that class raises no new event on this camera for this long.
    cooldown_s: float = _rule(30.0, lambda v: v >= 0, "seconds, 0 or more")


@dataclass(frozen=True)
class SnapshotsConfig:
    """Where event frames are kept (JPEG + HUB JSON + YOLO label txt); no ``dir``: none are kept."""

    dir: Path | None = None
    max_count: int = _rule(1000, lambda v: v >= 1, "an integer >= 1")
    max_age_days: float = _rule(7.0, lambda v: v > 0, "days above 0")
    jpeg_quality: int = _rule(90, lambda v: 1 <= v <= 100, "an integer 1-100")


@dataclass(frozen=True)
class WebhookConfig:
    """Each event is POSTed as JSON to ``url``; failures are retried with backoff."""

    url: str | None = _rule(None, lambda v: v.startswith(("http://", "https://")), "an http:// or https:// URL")
    timeout_s: float = _rule(5.0, lambda v: 0 < v <= 120, "seconds, above 0 and at most 120")
    max_attempts: int = _rule(5, lambda v: 1 <= v <= 100, "an integer 1-100")
    # Events waiting to be sent; past this the oldest is dropped (and logged).
    queue_size: int = _rule(100, lambda v: v >= 1, "an integer >= 1")


@dataclass(frozen=True)
class CameraConfig:
    """One camera. ``source``: a V4L2 index (``0``) or device path, an rtsp:// or http(s):// stream,
    an MJPEG-over-HTTP URL (detected from its multipart/x-mixed-replace answer) or a video file
    (looped, paced at its own fps). Give ``fps`` or ``interval_s`` (default: 1 inference a second)."""

    id: str = _rule("", lambda v: bool(CAMERA_ID.match(v)), "an id of letters, digits, '_' and '-' (at most 64)")
    source: str = _rule("", lambda v: bool(v.strip()), "a device index, device path, URL or video file")
    model: str = _rule("", lambda v: bool(v.strip()), "a MODEL_ID served by this device")
    fps: float | None = _rule(None, lambda v: 0 < v <= 60, "inferences per second, above 0 and at most 60")
    interval_s: float | None = _rule(None, lambda v: 0 < v <= 86400, "seconds between inferences, above 0")
    # As the predict request's fields (edge/config/request_fields.py), same ranges and defaults.
    size: int = _rule(FIELDS["size"].default, FIELDS["size"].contains, FIELDS["size"].expect)
    # None: the predict default (0.25), or 0.1 when the camera tracks, as Ultralytics' model.track() (the
    # tracker keeps tracks alive on low scores; only detections >= track.new_track_thresh start one).
    confidence: float | None = _rule(None, FIELDS["confidence"].contains, FIELDS["confidence"].expect)
    iou: float = _rule(FIELDS["iou"].default, FIELDS["iou"].contains, FIELDS["iou"].expect)
    # Keep only these classes (names or indices); None keeps all.
    classes: list[str] | None = None
    events: EventsConfig = field(default_factory=EventsConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    mqtt: bool = True  # publish events (and, with discovery, Home Assistant entities) to the mqtt: broker
    # A source that gives no frame for this long is reopened; reopening backs off up to reconnect_max_s.
    stall_timeout_s: float = _rule(10.0, lambda v: 0.5 <= v <= 600, "seconds, 0.5-600")
    reconnect_max_s: float = _rule(10.0, lambda v: 0.1 <= v <= 3600, "seconds, 0.1-3600")
    # Tracking, counting lines and zones (edge/config/analytics.py); absent: none.
    track: TrackConfig | None = None
    lines: list[LineConfig] = _rule([])
    zones: list[ZoneConfig] = _rule([])
    # Line and zone counts are saved here (JSON, atomically, every few seconds) and read back at start.
    counts_file: Path | None = None

    @property
    def detect_confidence(self) -> float:
        """The confidence threshold the camera's model runs at."""
        if self.confidence is not None:
            return self.confidence
        return TRACK_CONFIDENCE if self.track is not None else float(FIELDS["confidence"].default)

    @property
    def period_s(self) -> float:
        """Seconds between inferences."""
        if self.fps is not None:
            return 1.0 / self.fps
        return self.interval_s if self.interval_s is not None else 1.0

    def validate(self, where: str) -> None:
        """Checks spanning fields; ``where`` is "config.yaml: cameras[0]"."""
        for name in ("id", "source", "model"):
            if not getattr(self, name):
                raise ConfigError(f"{where}.{name}: missing; every camera needs an id, a source and a model")
        if self.fps is not None and self.interval_s is not None:
            raise ConfigError(f"{where}: give fps or interval_s, not both")
        check_shapes(self.lines, self.zones, self.track, where)


def check_camera_ids(cameras: list[CameraConfig], where: str) -> None:
    """Camera ids are unique (they name URLs, topics and snapshot folders)."""
    seen: dict[str, int] = {}
    for i, cam in enumerate(cameras):
        if cam.id in seen:
            raise ConfigError(f"{where}[{i}].id: {cam.id!r} is already the id of cameras[{seen[cam.id]}]; "
                              "expected a unique id")
        seen[cam.id] = i


def resolve_classes(wanted: list[str], names: dict[int, str], where: str) -> frozenset[int]:
    """Class names or indices -> indices of a model with ``names``; unknown ones raise ConfigError."""
    by_name = {n: i for i, n in names.items()}
    out = set()
    for w in wanted:
        if w in by_name:
            out.add(by_name[w])
        elif w.isdigit() and int(w) in names:
            out.add(int(w))
        else:
            raise ConfigError(f"{where}: {w!r} is not a class of the model; it knows "
                              f"{', '.join(list(names.values())[:12])}{', ...' if len(names) > 12 else ''}")
    return frozenset(out)
