"""A camera's state for Home Assistant: one retained JSON message on ``<topic_prefix>/<camera>/state``
that every discovered entity (``edge.cameras.ha_discovery``) reads with its ``value_template``::

    {"detections": {"person": 1, "car": 0},
     "last_event": {"id": "door-20261126-200351-123456", "time_iso": "2026-11-26T20:03:51.123456+00:00",
                    "classes": ["person"]} | null,
     "lines": {"gate": {"person": {"in": 3, "out": 1}, "car": {"in": 0, "out": 0}}},
     "zones": {"porch": {"occupancy": {"person": 1, "car": 0}, "entered": {"person": 4, "car": 0}}}}

``lines``/``zones`` take the per-camera analytics snapshot as the tracker gives it
(``{"lines": {line_id: {class: {"in": n, "out": m}}}, "zones": {zone_id: {"occupancy": {class: n},
"dwell_s": {...}}}}``); every announced line, zone and class is present, with zeros where the snapshot
has nothing, so no template meets a missing key. A message goes out only when the state changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from edge.inference.prediction import Prediction


class CameraState:
    """Holds one camera's state and hands each change to ``send`` (the retained state payload)."""

    def __init__(self, classes: list[str], lines: list[str], zones: list[str], send: Callable[[bytes], None]) -> None:
        self.classes, self.lines, self.zones = classes, lines, zones
        self.send = send
        self.detections = {c: 0 for c in classes}
        self.last_event: dict[str, Any] | None = None
        self.analytics: dict[str, Any] = {}
        self._sent: bytes | None = None

    def payload(self) -> bytes:
        snap_lines = self.analytics.get("lines") or {}
        snap_zones = self.analytics.get("zones") or {}
        lines = {line: {c: {"in": int(((snap_lines.get(line) or {}).get(c) or {}).get("in", 0)),
                            "out": int(((snap_lines.get(line) or {}).get(c) or {}).get("out", 0))}
                        for c in self.classes} for line in self.lines}
        zones = {}
        for zone in self.zones:
            snap = snap_zones.get(zone) or {}
            occupancy = snap.get("occupancy") or {}
            # dwell_s is left out: it grows every frame, and a state message per frame would flood the broker
            zones[zone] = {"occupancy": {c: int(occupancy.get(c, 0)) for c in self.classes},
                           "entered": {c: int((snap.get("entered") or {}).get(c, 0)) for c in self.classes}}
        return orjson.dumps({"detections": self.detections, "last_event": self.last_event,
                             "lines": lines, "zones": zones}, option=orjson.OPT_SERIALIZE_NUMPY)

    def update_prediction(self, pred: Prediction, names: dict[int, str]) -> None:
        """Counts per announced class in the latest frame (classify: 1 for the top class)."""
        if pred.probs is not None:
            top = names.get(int(np.argmax(pred.probs)))
            counts = {c: int(c == top) for c in self.classes}
        else:
            found = [names.get(int(k), str(k)) for k in pred.classes.tolist()]
            counts = {c: found.count(c) for c in self.classes}
        if counts != self.detections:  # every frame comes here: build and compare the payload only on a change
            self.detections = counts
            self._maybe_send()

    def update_event(self, event: dict[str, Any]) -> None:
        self.last_event = {"id": event["id"], "time_iso": event["time_iso"], "classes": event["classes"]}
        self._maybe_send()

    def update_analytics(self, snapshot: dict[str, Any]) -> None:
        """The tracker's per-camera counts (the shape in the module docstring)."""
        self.analytics = snapshot
        self._maybe_send()

    def _maybe_send(self) -> None:
        body = self.payload()
        if body != self._sent:
            self._sent = body
            self.send(body)
