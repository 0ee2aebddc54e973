"""The request fields of a prediction, declared once: name, type, range, default and description.

Form parsing (``edge.http.predict_form``), the OpenAPI document (``edge.http.openapi``), camera
options in config.yaml (``edge.config.cameras``) and README's field table (checked by a test) are all
derived from ``FIELDS``. Values outside a range are rejected, never clamped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from edge.errors import BadRequest

BOOL_TRUE = ("true", "1", "yes", "on")
BOOL_FALSE = ("false", "0", "no", "off", "")


def shown(raw: object, limit: int = 40) -> str:
    """``raw`` for an error message, cut short: a client may send megabytes in one field."""
    text = repr(raw)
    return text if len(text) <= limit else text[:limit] + f"... ({len(str(raw))} characters)"


@dataclass(frozen=True)
class RequestField:
    """One field. ``kind``: "integer", "number", "boolean" or "classes" (class indices, comma separated
    or a JSON list; bounded by the model's class count, so it has no static range)."""

    name: str
    kind: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[int, ...] | None = None  # the only values allowed within the range, when not every one is

    def contains(self, value: Any) -> bool:
        """Whether an already typed ``value`` is in range (config values arrive typed from YAML)."""
        if self.low is None or self.high is None:
            return True
        if self.choices is not None and value not in self.choices:
            return False
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high

    @property
    def expect(self) -> str:
        """The words a person reads when a value is out of range."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        kind = "an integer" if self.kind == "integer" else "a number"
        return f"{kind} from {self.low:g} to {self.high:g}"

    def parse(self, raw: str, num_classes: int = 0, name: str | None = None) -> Any:
        """``raw`` (a form or query value) -> the typed value; ``name`` is what the client called it."""
        label = name or self.name
        if self.kind == "boolean":
            return parse_bool(label, raw)
        if self.kind == "classes":
            return parse_classes(label, raw, num_classes)
        if self.kind == "integer":
            value = parse_int(label, raw, int(self.low), int(self.high))  # type: ignore[arg-type]
            if self.choices is not None and value not in self.choices:
                raise BadRequest(f"{label} must be {self.expect}, got {shown(raw)}")
            return value
        return parse_float(label, raw, self.low, self.high)  # type: ignore[arg-type]


FIELDS: dict[str, RequestField] = {f.name: f for f in (
    RequestField("size", "integer", 640, "inference size, rounded up to a multiple of the stride", 32, 1280),
    RequestField("confidence", "number", 0.25, "confidence threshold", 0.01, 1.0),
    RequestField("iou", "number", 0.45, "NMS IoU threshold", 0.0, 0.95),
    RequestField("normalize", "boolean", False, "coordinates as 0–1 fractions of the image width/height"),
    RequestField("classes", "classes", None, "only these classes, e.g. `0,2` or `[0, 2]`"),
    RequestField("max_det", "integer", 300, "most detections returned", 1, 300),
    RequestField("decimals", "integer", 5, "rounding of every number", 0, 10),
    RequestField("top_k", "integer", 5, "classify models: how many classes to return", 1, 1000),
    RequestField("bits", "integer", 16, "depth models: bits per pixel of the depth PNG (8, 12 or 16)", 8, 16,
                 choices=(8, 12, 16)),
)}


def parse_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {shown(raw)}") from None
    if not math.isfinite(value) or value != int(value):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {shown(raw)}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, got {shown(raw)}")
    return int(value)


def parse_float(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a number from {low} to {high}, got {shown(raw)}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number from {low} to {high}, got {shown(raw)}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, got {shown(raw)}")
    return value


def parse_bool(name: str, raw: str) -> bool:
    text = str(raw).strip().lower()
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    raise BadRequest(f"{name} must be true or false, got {shown(raw)}")


def parse_classes(name: str, raw: str, num_classes: int) -> frozenset[int]:
    text = str(raw).strip()
    try:
        values = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
        if isinstance(values, (int, float)) or not isinstance(values, list):
            values = [values]
        out = [parse_int(name, str(v).strip(), 0, num_classes - 1) for v in values]
    except (json.JSONDecodeError, BadRequest, RecursionError):
        raise BadRequest(f"{name} must be class indices 0-{num_classes - 1}, comma separated or a JSON list, "
                         f"got {shown(raw)}") from None
    if not out:
        raise BadRequest(f"{name} must list at least one class index")
    return frozenset(out)
