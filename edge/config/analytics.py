"""A camera's ``track:``, ``lines:`` and ``zones:`` in config.yaml, as frozen dataclasses.

Example::

    cameras:
      - id: door
        ...
        track: {tracker: bytetrack}          # absent: no tracking; keys below are Ultralytics' defaults
        lines:
          - {id: entrance, points: [[0.5, 0], [0.5, 1]]}   # fractions of the frame (every value <= 1)
        zones:
          - {id: porch, points: [[400, 300], [640, 300], [640, 480], [400, 480]]}   # pixels
        counts_file: /var/lib/yolo-edge/door-counts.json   # counts survive a restart

Points are pixels of the camera's frame, or fractions 0-1 of its width and height when every value of
that line or zone is at most 1. A shape that mixes the two is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.config.rules import rule as _rule
from edge.errors import ConfigError

SHAPE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TRACKERS = ("bytetrack",)


@dataclass(frozen=True)
class TrackConfig:
    """Tracking with stable ids (``edge.analytics.byte_tracker``); defaults from Ultralytics'
    ``cfg/trackers/bytetrack.yaml``."""

    tracker: str = _rule("bytetrack", lambda v: v in TRACKERS,
                         "bytetrack (the one tracker implemented; botsort needs camera-motion compensation and ReID)")
    # Detections at this score or above are matched first.
    track_high_thresh: float = _rule(0.25, lambda v: 0 <= v <= 1, "a score 0-1")
    # Detections above this (and below track_high_thresh) keep existing tracks alive.
    track_low_thresh: float = _rule(0.1, lambda v: 0 <= v <= 1, "a score 0-1")
    # An unmatched detection at this score or above starts a new track.
    new_track_thresh: float = _rule(0.25, lambda v: 0 <= v <= 1, "a score 0-1")
    # Frames a lost track is kept, to be found again with the same id.
    track_buffer: int = _rule(30, lambda v: 1 <= v <= 10000, "frames, 1-10000")
    # Largest matching cost (1 - IoU x score) accepted in the first association.
    match_thresh: float = _rule(0.8, lambda v: 0 < v <= 1, "a cost above 0 and at most 1")
    fuse_score: bool = True

    def validate(self, where: str) -> None:
        if self.track_low_thresh > self.track_high_thresh:
            raise ConfigError(f"{where}: track_low_thresh {self.track_low_thresh} is above track_high_thresh "
                              f"{self.track_high_thresh}; expected low <= high")


def _check_points(points: list[list[float]], least: int, most: int | None, where: str) -> None:
    what = "exactly 2 points [[x, y], [x, y]]" if most == 2 else f"at least {least} points [[x, y], ...]"
    if len(points) < least or (most is not None and len(points) > most):
        raise ConfigError(f"{where}.points: {len(points)} point{'s' * (len(points) != 1)}; expected {what}")
    for i, p in enumerate(points):
        if len(p) != 2:
            raise ConfigError(f"{where}.points[{i}]: {p!r} is not a point; expected [x, y]")
        if min(p) < 0:
            raise ConfigError(f"{where}.points[{i}]: {p!r} has a negative coordinate; expected pixels or fractions 0-1")
    values = [v for p in points for v in p]
    if max(values) > 1:
        fractional = [v for v in values if 0 < v < 1]
        if fractional:
            raise ConfigError(f"{where}.points: mixes fractions ({fractional[0]:g}) and pixels ({max(values):g}); "
                              "expected every value as a fraction 0-1 of the frame, or every value in pixels")
    if len({tuple(p) for p in points}) < least:
        raise ConfigError(f"{where}.points: repeats a point; expected {what} that are distinct")


@dataclass(frozen=True)
class LineConfig:
    """A counting line: objects whose box centre crosses it count in or out (Ultralytics'
    ``ObjectCounter``): for a line more vertical than horizontal, moving right is ``in``; otherwise
    moving down is ``in``."""

    id: str = _rule("", lambda v: bool(SHAPE_ID.match(v)), "an id of letters, digits, '_' and '-' (at most 64)")
    points: list[list[float]] = _rule([])

    def validate(self, where: str) -> None:
        if not self.id:
            raise ConfigError(f"{where}.id: missing; every line needs an id")
        _check_points(self.points, 2, 2, where)


@dataclass(frozen=True)
class ZoneConfig:
    """A zone: a polygon; an object is in it while its box centre is inside (Ultralytics' ``RegionCounter``)."""

    id: str = _rule("", lambda v: bool(SHAPE_ID.match(v)), "an id of letters, digits, '_' and '-' (at most 64)")
    points: list[list[float]] = _rule([])

    def validate(self, where: str) -> None:
        if not self.id:
            raise ConfigError(f"{where}.id: missing; every zone needs an id")
        _check_points(self.points, 3, None, where)


def in_pixels(points: list[list[float]], width: int, height: int) -> list[tuple[float, float]]:
    """Points as pixels of a ``width`` x ``height`` frame (fractions when every value is at most 1)."""
    if max(v for p in points for v in p) <= 1:
        return [(x * width, y * height) for x, y in points]
    return [(float(x), float(y)) for x, y in points]


def check_shapes(lines: list[LineConfig], zones: list[ZoneConfig], track: TrackConfig | None, where: str) -> None:
    """Ids unique across a camera's lines and zones; lines and zones need tracking."""
    if (lines or zones) and track is None:
        raise ConfigError(f"{where}: lines and zones count tracked objects; add track: {{tracker: bytetrack}}")
    seen: dict[str, str] = {}
    named: list[tuple[str, list[LineConfig | ZoneConfig]]] = [("lines", list(lines)), ("zones", list(zones))]
    for kind, shapes in named:
        for i, s in enumerate(shapes):
            if s.id in seen:
                raise ConfigError(f"{where}.{kind}[{i}].id: {s.id!r} is already the id of {seen[s.id]}; "
                                  "expected a unique id among this camera's lines and zones")
            seen[s.id] = f"{kind}[{i}]"
