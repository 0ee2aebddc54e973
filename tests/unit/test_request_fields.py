"""One table of request fields: README's table, the OpenAPI forms and camera options all agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.config.cameras import CameraConfig
from edge.config.request_fields import FIELDS
from edge.config.settings import config_from_dict
from edge.errors import BadRequest, ConfigError
from edge.http.openapi import HUB_FORM, PLATFORM_FORM

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rows() -> dict[str, tuple[str, str]]:
    """README's predict field table: field -> (range, default)."""
    text = README.read_text()
    table = text[text.index("| field | range | default |"):]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_readme_table_is_the_field_table() -> None:
    rows = readme_rows()
    assert set(rows) == set(FIELDS)
    for name, field in FIELDS.items():
        shown_range, shown_default = rows[name]
        if field.low is not None:
            low, high = (float(v) for v in re.split(r"[–-]", shown_range))
            assert (low, high) == (field.low, field.high), name
            assert float(shown_default) == field.default, name
        elif field.kind == "boolean":
            assert shown_default == str(field.default).lower(), name


@pytest.mark.parametrize("form, renamed, defaults", [
    (HUB_FORM, {}, {}),
    (PLATFORM_FORM, {"size": "imgsz", "confidence": "conf"}, {"iou": 0.7}),
])
def test_openapi_forms_come_from_the_table(form: dict, renamed: dict[str, str], defaults: dict[str, float]) -> None:
    props = form["properties"]
    for name, field in FIELDS.items():
        if field.low is None or name not in {*props, *renamed}:
            continue
        schema = props[renamed.get(name, name)]
        assert (schema["minimum"], schema["maximum"]) == (field.low, field.high)
        assert schema["default"] == defaults.get(name, field.default)


@pytest.mark.parametrize("name, raw, expected", [
    ("size", "320", 320), ("size", "31", BadRequest), ("size", "1281", BadRequest), ("size", "3.5", BadRequest),
    ("confidence", "0.01", 0.01), ("confidence", "0", BadRequest), ("confidence", "nan", BadRequest),
    ("iou", "0.95", 0.95), ("iou", "0.96", BadRequest), ("normalize", "yes", True), ("normalize", "maybe", BadRequest),
    ("classes", "0,2", frozenset({0, 2})), ("classes", "[1]", frozenset({1})), ("classes", "80", BadRequest),
    ("classes", "[" * 5000 + "]" * 5000, BadRequest),  # nesting a parser cannot follow is a 400, not a 500
    ("top_k", "1000", 1000), ("top_k", "0", BadRequest),
])
def test_parse(name: str, raw: str, expected: object) -> None:
    if expected is BadRequest:
        with pytest.raises(BadRequest, match=name):
            FIELDS[name].parse(raw, num_classes=80)
    else:
        assert FIELDS[name].parse(raw, num_classes=80) == expected


@pytest.mark.parametrize("name", ["size", "confidence", "iou"])
def test_camera_options_share_range_and_default(name: str) -> None:
    field = FIELDS[name]
    default = CameraConfig().detect_confidence if name == "confidence" else getattr(CameraConfig(), name)
    assert default == field.default  # confidence: unless the camera tracks (0.1, as model.track())
    camera = {"id": "c", "source": "x.mp4", "model": "m", name: field.high * 2}
    with pytest.raises(ConfigError, match=f"cameras\\[0\\].{name}: .* is not {field.expect}"):
        config_from_dict({"cameras": [camera]})
