"""The HUB v1 form fields -> validated ``PredictOptions``.

Values outside the documented ranges are rejected, never clamped. Unknown fields are ignored, as
the cloud does; a known field given twice is rejected (which one would we use?).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from edge.errors import BadRequest
from edge.inference.options import PredictOptions


@dataclass(frozen=True)
class OutputOptions:
    normalize: bool = False
    decimals: int = 5


def shown(raw: object, limit: int = 40) -> str:
    """``raw`` for an error message, cut short: a client may send megabytes in one field."""
    text = repr(raw)
    return text if len(text) <= limit else text[:limit] + f"... ({len(str(raw))} characters)"


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
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise BadRequest(f"{name} must be true or false, got {shown(raw)}")


def parse_classes(name: str, raw: str, num_classes: int) -> frozenset[int]:
    text = str(raw).strip()
    try:
        values = json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
        if isinstance(values, (int, float)) or not isinstance(values, list):
            values = [values]
        out = [parse_int(name, str(v).strip(), 0, num_classes - 1) for v in values]
    except (json.JSONDecodeError, BadRequest):
        raise BadRequest(f"{name} must be class indices 0-{num_classes - 1}, comma separated or a JSON list, "
                         f"got {shown(raw)}") from None
    if not out:
        raise BadRequest(f"{name} must list at least one class index")
    return frozenset(out)


def single(form: Any, name: str) -> str | None:
    """The one value of ``name`` in a multidict, None when absent; two values are an error."""
    values = form.getall(name, []) if hasattr(form, "getall") else ([form[name]] if name in form else [])
    if len(values) > 1:
        raise BadRequest(f"{name} was given {len(values)} times; give it once")
    if not values:
        return None
    value = values[0]
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a plain form field, not a file")
    return value


@dataclass(frozen=True)
class FieldNames:
    """The form field names of one API dialect, with its defaults."""

    size: str
    confidence: str
    iou: str
    default_iou: float


HUB_FIELDS = FieldNames(size="size", confidence="confidence", iou="iou", default_iou=0.45)
PLATFORM_FIELDS = FieldNames(size="imgsz", confidence="conf", iou="iou", default_iou=0.7)


def parse_options(form: Mapping[str, Any], num_classes: int, fields: FieldNames = HUB_FIELDS,
                  default_size: int = 640) -> tuple[PredictOptions, OutputOptions]:
    """``default_size`` applies when the client sends no size: the cloud's 640, or less for a fixed-input
    model smaller than that (a 224 classifier answers a request that names no size)."""
    def get(name: str, parse: Callable[[str], Any], default: Any) -> Any:
        raw = single(form, name)
        return default if raw is None else parse(raw)

    options = PredictOptions(
        size=get(fields.size, lambda r: parse_int(fields.size, r, 32, 1280), default_size),
        confidence=get(fields.confidence, lambda r: parse_float(fields.confidence, r, 0.01, 1.0), 0.25),
        iou=get(fields.iou, lambda r: parse_float(fields.iou, r, 0.0, 0.95), fields.default_iou),
        max_det=get("max_det", lambda r: parse_int("max_det", r, 1, 300), 300),
        classes=get("classes", lambda r: parse_classes("classes", r, num_classes), None),
    )
    output = OutputOptions(
        normalize=get("normalize", lambda r: parse_bool("normalize", r), False),
        decimals=get("decimals", lambda r: parse_int("decimals", r, 0, 10), 5),
    )
    return options, output
