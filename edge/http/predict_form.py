"""A dialect's form fields -> validated ``PredictOptions`` and output options, from the one table of
request fields (``edge.config.request_fields``).

Unknown fields are ignored, as the cloud does; a known field given twice is rejected (which one
would we use?).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from edge.config.request_fields import FIELDS, RequestField
from edge.errors import BadRequest
from edge.inference.options import PredictOptions


@dataclass(frozen=True)
class OutputOptions:
    normalize: bool = False
    decimals: int = 5
    bits: int = 16  # depth models: bits per pixel of the depth PNG


@dataclass(frozen=True)
class Dialect:
    """How one API names the fields (``renamed``: table name -> its name) and where its defaults differ."""

    renamed: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ("size", "confidence", "iou", "max_det", "classes", "normalize", "decimals")

    def name(self, key: str) -> str:
        return self.renamed.get(key, key)

    def default(self, key: str) -> Any:
        return self.defaults.get(key, FIELDS[key].default)

    def items(self) -> list[tuple[str, RequestField, Any]]:
        """(the dialect's name, the field, the dialect's default) for every field it reads."""
        return [(self.name(k), FIELDS[k], self.default(k)) for k in self.fields]


HUB = Dialect(fields=Dialect.fields + ("top_k", "bits"))
PLATFORM = Dialect(renamed={"size": "imgsz", "confidence": "conf"}, defaults={"iou": 0.7},
                   fields=Dialect.fields + ("bits",))
DEEPSTACK = Dialect(renamed={"confidence": "min_confidence"}, defaults={"confidence": 0.4}, fields=("confidence",))


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


def read_field(form: Any, key: str, dialect: Dialect = HUB, num_classes: int = 0, default: Any = None) -> Any:
    """The value of table field ``key`` as ``dialect`` names it, or ``default`` (the dialect's) when absent."""
    name = dialect.name(key)
    raw = single(form, name)
    if raw is None:
        return dialect.default(key) if default is None else default
    return FIELDS[key].parse(raw, num_classes, name)


def parse_options(form: Mapping[str, Any], num_classes: int, dialect: Dialect = HUB,
                  default_size: int = 640) -> tuple[PredictOptions, OutputOptions]:
    """``default_size`` applies when the client sends no size: the cloud's 640, or less for a fixed-input
    model smaller than that (a 224 classifier answers a request that names no size)."""
    def get(key: str, default: Any = None) -> Any:
        return read_field(form, key, dialect, num_classes, default)

    options = PredictOptions(size=get("size", default_size), confidence=get("confidence"), iou=get("iou"),
                             max_det=get("max_det"), classes=get("classes"))
    bits = get("bits") if "bits" in dialect.fields else FIELDS["bits"].default
    return options, OutputOptions(normalize=get("normalize"), decimals=get("decimals"), bits=bits)
