"""A camera's line and zone counts from its tracked results, as Ultralytics' solutions define them.

Lines follow ``ultralytics/solutions/object_counter.py`` (``ObjectCounter`` with a two-point region,
one counter per line): each track's box centre is kept per frame it appears in (its last 30); when the
segment from its previous centre to this one touches the line, the track counts once for that line,
``in`` if it moved right across a line more vertical than horizontal (else ``in`` if it moved down),
``out`` otherwise; a track is forgotten (last centre and counted flags) when the tracker removes it.

Zones follow ``region_counter.py`` (``RegionCounter``): occupancy is the number of this frame's tracks
whose box centre is strictly inside the polygon, per class. Beyond Ultralytics: a track enters a zone
when seen inside, leaves when seen outside or removed by the tracker; ``dwell_s`` is, per class, the
longest time a track now inside has been there, and ``entered`` counts entries.

``CameraCounts.snapshot()`` is the one plain shape every consumer reads (``GET /v1/cameras/{id}/counts``,
MQTT, Home Assistant, the counts file)::

    {"lines": {line_id: {class_name: {"in": n, "out": m}}},
     "zones": {zone_id: {"occupancy": {class_name: n}, "dwell_s": {class_name: s}, "entered": {class_name: n}}}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.analytics.geometry import Point, Polygon, segments_intersect
from edge.config.analytics import LineConfig, ZoneConfig, in_pixels
from edge.inference.prediction import Prediction



@dataclass
class _Line:
    config: LineConfig
    points: tuple[Point, Point] = ((0.0, 0.0), (0.0, 0.0))
    counted: set[int] = field(default_factory=set)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def vertical(self) -> bool:
        (x1, y1), (x2, y2) = self.points
        return abs(x1 - x2) < abs(y1 - y2)


@dataclass
class _Zone:
    config: ZoneConfig
    polygon: Polygon | None = None
    inside: dict[int, tuple[str, float]] = field(default_factory=dict)  # track id -> (class, entered at)
    occupancy: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)


class CameraCounts:
    """Fed one tracked result per frame (``update``), in order; returns what happened as event dicts."""

    def __init__(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> None:
        self.lines = [_Line(c) for c in lines]
        self.zones = [_Zone(c) for c in zones]
        # each track's previous centre: all a crossing needs (Ultralytics keeps 30 of them to draw trails)
        self.last_centre: dict[int, Point] = {}
        self._frame_size: tuple[int, int] | None = None
        self.changed = False  # since the counts file was last written
        self._now = 0.0  # the last frame's time

    def __bool__(self) -> bool:
        return bool(self.lines or self.zones)

    def update(self, pred: Prediction, names: dict[int, str], removed_ids: list[int], now: float
               ) -> list[dict[str, Any]]:
        """``pred``: a tracked result (``track_ids`` set, or None when the frame has no track) in frame
        pixels; ``removed_ids``: tracks the tracker removed this frame; ``now``: epoch seconds."""
        self._place(pred.orig_shape)
        events: list[dict[str, Any]] = []
        for tid in removed_ids:  # Ultralytics' forget_tracks, before this frame's boxes
            self.last_centre.pop(tid, None)
            for line in self.lines:
                line.counted.discard(tid)
            for zone in self.zones:
                if tid in zone.inside:
                    events.append(self._leave(zone, tid, now))
        tracks = [] if pred.track_ids is None else list(zip(pred.boxes, pred.track_ids.tolist(), pred.classes.tolist()))
        for zone in self.zones:
            zone.occupancy = {}
        seen: set[int] = set()
        for box, tid, cls in tracks:
            name = names.get(int(cls), str(cls))
            b = np.asarray(box, dtype=np.float32).reshape(2, 2).mean(axis=0)  # the box centre, in float32
            centre = (float(b[0]), float(b[1]))
            prev = self.last_centre.get(tid)
            self.last_centre[tid] = centre
            seen.add(tid)
            for line in self.lines:
                if prev is not None and tid not in line.counted and segments_intersect(prev, centre, *line.points):
                    way = ("in" if centre[0] > prev[0] else "out") if line.vertical() else \
                        ("in" if centre[1] > prev[1] else "out")
                    per_class = line.counts.setdefault(name, {"in": 0, "out": 0})
                    per_class[way] += 1
                    line.counted.add(tid)
                    self.changed = True
                    events.append({"type": "line_cross", "line": line.config.id, "class": name,
                                   "track_id": tid, "direction": way})
            for zone in self.zones:
                assert zone.polygon is not None
                if zone.polygon.contains(centre):
                    zone.occupancy[name] = zone.occupancy.get(name, 0) + 1
                    if tid not in zone.inside:
                        zone.inside[tid] = (name, now)
                        zone.entered[name] = zone.entered.get(name, 0) + 1
                        self.changed = True
                        events.append({"type": "zone_enter", "zone": zone.config.id, "class": name, "track_id": tid})
                elif tid in zone.inside:
                    events.append(self._leave(zone, tid, now))
        self._now = now
        return events

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The plain counts (module docstring); ``dwell_s`` measured at ``now`` (epoch s; default: the last frame)."""
        at = self._now if now is None else now
        zones = {}
        for z in self.zones:
            dwell: dict[str, float] = {}
            for name, since in z.inside.values():
                dwell[name] = max(dwell.get(name, 0.0), round(at - since, 3))
            zones[z.config.id] = {"occupancy": dict(z.occupancy), "dwell_s": dwell, "entered": dict(z.entered)}
        return {"lines": {ln.config.id: {c: dict(v) for c, v in ln.counts.items()} for ln in self.lines},
                "zones": zones}

    def restore(self, saved: dict[str, Any]) -> list[str]:
        """Take line counts and zone entries from an earlier ``snapshot()``; returns ids no longer configured."""
        gone = []
        lines = {ln.config.id: ln for ln in self.lines}
        zones = {z.config.id: z for z in self.zones}
        for lid, per_class in (saved.get("lines") or {}).items():
            if lid not in lines:
                gone.append(lid)
                continue
            lines[lid].counts = {str(c): {"in": int(v.get("in", 0)), "out": int(v.get("out", 0))}
                                 for c, v in per_class.items()}
        for zid, z in (saved.get("zones") or {}).items():
            if zid not in zones:
                gone.append(zid)
                continue
            zones[zid].entered = {str(c): int(n) for c, n in (z.get("entered") or {}).items()}
        return gone

    def _leave(self, zone: _Zone, tid: int, now: float) -> dict[str, Any]:
        name, since = zone.inside.pop(tid)
        return {"type": "zone_leave", "zone": zone.config.id, "class": name, "track_id": tid,
                "dwell_s": round(now - since, 3)}

    def _place(self, shape: tuple[int, int]) -> None:
        """Lines and zones in pixels of this frame size (fractions resolve here; a new size re-resolves)."""
        h, w = shape
        if self._frame_size == (w, h):
            return
        self._frame_size = (w, h)
        for line in self.lines:
            a, b = in_pixels(line.config.points, w, h)
            line.points = (a, b)
        for zone in self.zones:
            zone.polygon = Polygon(in_pixels(zone.config.points, w, h))

    def shapes_in_pixels(self) -> tuple[list[tuple[str, list[Point]]], list[tuple[str, list[Point]]]]:
        """(id, points) of the lines and the zones in the last frame's pixels, for drawing."""
        return ([(ln.config.id, list(ln.points)) for ln in self.lines],
                [(z.config.id, [(float(x), float(y)) for x, y in z.polygon.contour.reshape(-1, 2).tolist()])
                 for z in self.zones if z.polygon is not None])
