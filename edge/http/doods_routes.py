"""The DOODS dialect (doods2's API), as Home Assistant's ``doods`` integration and the ``pydoods``
client call it (docs/integrations.md).

- ``GET /detectors`` -> ``{detectors: [{name, type, model, labels, width, height}]}``: ``default`` (the
  model ``dialects.detect_model`` names) and every served model that finds boxes, by MODEL_ID.
- ``POST /detect`` with JSON ``{id, detector_name, data, detect, regions}``: ``data`` is the image in
  base64 (or an http(s) URL fetched under ``url_fetch``); ``detect`` maps labels (or ``*``) to minimum
  confidences in percent; ``regions`` are ``{top, left, bottom, right, detect, covers, id}`` in 0-1
  fractions. Answer: ``{id, detections: [{top, left, bottom, right, label, confidence}], duration}``
  with coordinates as 0-1 fractions of the image, confidence in percent, best first, filtered exactly
  as doods2's ``filter_detections`` (a label named in ``detect`` is not matched by ``*``; no ``detect``
  and no ``regions`` match nothing). Thresholds below 1 % act as 1 %, the lowest the models report.

The key comes in DOODS's ``doods-auth-key`` header (or ``x-api-key`` / ``Authorization: Bearer``); with
``dialects.require_key: false`` none is needed. Errors: ``{detections: [], error}``, 400 for a bad
request as doods2 answers, and ``error_mapping.STATUS`` for the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from edge import errors
from edge.http.app_keys import ERROR_BODY, ERROR_BODY_BY_PATH, STATE
from edge.http.auth import require_dialect_key
from edge.http.platform_routes import decode_base64
from edge.http.prediction import run_prediction
from edge.http.responses import json_response
from edge.http.url_fetch import fetch_image
from edge.inference.engine import LoadedModel
from edge.inference.model_set import ModelSet
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.service.admission import Admission

KEY_WHERE = "send it in the 'doods-auth-key' header (Home Assistant: auth_key), or set dialects.require_key: false"
UNSUPPORTED = {"image": "annotated images are not drawn here; leave 'image' empty",
               "preprocess": "preprocessing is not supported here; leave 'preprocess' empty"}


def doods_error_body(message: str, status: int) -> dict[str, Any]:
    """doods2's ``DetectResponse`` with ``error`` set (``None`` fields left out, as it serves them)."""
    return {"detections": [], "error": message}


def add_doods_routes(app: web.Application) -> None:
    app.router.add_get("/detectors", detectors)
    app.router.add_post("/detect", detect)
    app.setdefault(ERROR_BODY_BY_PATH, []).extend(  # type: ignore[attr-defined]
        [("/detectors", doods_error_body), ("/detect", doods_error_body)])


def describe(name: str, model: LoadedModel) -> dict[str, Any]:
    """One doods2 ``Detector``; width/height 0 for a dynamic-shape model (any input size)."""
    h, w = (0, 0) if model.dynamic else model.spec.imgsz
    names = model.spec.names
    return {"name": name, "type": "yolo", "model": model.spec.model_id,
            "labels": [names[i] for i in sorted(names)], "width": w, "height": h}


async def detectors(request: web.Request) -> web.Response:
    request[ERROR_BODY] = doods_error_body
    serving = request.app[STATE].serving
    require_dialect_key(request, request.headers.get("doods-auth-key"), KEY_WHERE)
    models = serving.models
    found = [describe(m.spec.model_id, m) for m in models.detectors()]
    if found:
        found.insert(0, describe("default", models.default_detector(serving.config.dialects.detect_model)))
    return json_response({"detectors": found})


@dataclass(frozen=True)
class Region:
    """A doods2 ``DetectRegion``: 0-1 fractions, label -> minimum confidence in percent."""

    top: float
    left: float
    bottom: float
    right: float
    detect: dict[str, float]
    covers: bool = False
    id: str | None = None

    def holds(self, box: tuple[float, float, float, float]) -> bool:
        top, left, bottom, right = box
        if self.covers:  # the whole detection inside the region
            return self.top <= top and self.left <= left and self.bottom >= bottom and self.right >= right
        return top <= self.bottom and left <= self.right and bottom >= self.top and right >= self.left


async def detect(request: web.Request) -> web.Response:
    request[ERROR_BODY] = doods_error_body
    state = request.app[STATE]
    with Admission(state):
        serving = state.serving
        require_dialect_key(request, request.headers.get("doods-auth-key"), KEY_WHERE)
        body = await read_json(request)
        check_types(body)
        model = detector_named(serving.models, body.get("detector_name") or "default",
                               serving.config.dialects.detect_model)
        thresholds = confidences(body.get("detect"), "detect")
        regions = [region(r, i) for i, r in enumerate(listed(body.get("regions"), "regions"))]
        for name, why in UNSUPPORTED.items():
            if body.get(name):
                raise errors.BadRequest(f"{name}: {why}")
        data = await image_data(body.get("data"), serving.config)
        lowest = min([*thresholds.values(), *(v for r in regions for v in r.detect.values())], default=100.0)
        options = PredictOptions(size=min(640, model.max_size), confidence=min(1.0, max(0.01, lowest / 100)))
        started = time.perf_counter()
        pred, _ = await run_prediction(request, serving, model, data, options)
        duration = (time.perf_counter() - started) * 1000
    answer: dict[str, Any] = {"detections": matches(pred, model.spec.names, thresholds, regions),
                              "duration": round(duration, 3)}
    if body.get("id") is not None:
        answer = {"id": body["id"], **answer}
    return json_response(answer)


async def read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BadRequest("the body must be a JSON detect request ({\"data\": <base64 image>, ...})") from None
    if not isinstance(body, dict):
        raise errors.BadRequest("the body must be a JSON object (a detect request)")
    return body


KIND_WORDS = {str: "a string", float: "a number", list: "a list", dict: "an object"}
TYPES: dict[str, tuple[type, ...]] = {"id": (str,), "detector_name": (str,), "data": (str,), "image": (str,),
                                      "throttle": (int, float), "preprocess": (list,), "detect": (dict,),
                                      "regions": (list,)}


def check_types(body: dict[str, Any]) -> None:
    """doods2's ``DetectRequest`` field types (null allowed); unknown fields are ignored, as it does."""
    for name, kinds in TYPES.items():
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise errors.BadRequest(f"{name} must be {KIND_WORDS[kinds[-1]]}")


def detector_named(models: ModelSet, name: Any, preferred: str) -> LoadedModel:
    if not isinstance(name, str):
        raise errors.BadRequest("detector_name must be a string")
    if name == "default":
        return models.default_detector(preferred)
    if name not in models.models or models.models[name] not in models.detectors():
        known = ", ".join(["default"] + [m.spec.model_id for m in models.detectors()])
        raise errors.BadRequest(f"unknown detector name: {name[:80]}; detectors here: {known}")
    return models.models[name]


def listed(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.BadRequest(f"{name} must be a list")
    return value


def confidences(value: Any, name: str) -> dict[str, float]:
    """A ``detect`` map: label (or ``*``) -> minimum confidence in percent, 0-100."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.BadRequest(f"{name} must map labels to confidences in percent, e.g. {{\"*\": 50}}")
    for label, conf in value.items():
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 <= conf <= 100:
            raise errors.BadRequest(f"{name}[{label[:40]!r}] must be a confidence in percent, 0 to 100")
    return {k: float(v) for k, v in value.items()}


def region(value: Any, i: int) -> Region:
    where = f"regions[{i}]"
    if not isinstance(value, dict):
        raise errors.BadRequest(f"{where} must be an object with top, left, bottom, right and detect")
    sides = {}
    for side in ("top", "left", "bottom", "right"):
        v = value.get(side)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise errors.BadRequest(f"{where}.{side} must be a number (a 0-1 fraction of the image)")
        sides[side] = float(v)
    rid, covers = value.get("id"), value.get("covers", False)
    if rid is not None and not isinstance(rid, str):
        raise errors.BadRequest(f"{where}.id must be a string")
    if not isinstance(covers, bool):
        raise errors.BadRequest(f"{where}.covers must be true or false")
    if "detect" not in value:
        raise errors.BadRequest(f"{where}.detect is required: labels to confidences in percent")
    return Region(**sides, detect=confidences(value["detect"], f"{where}.detect"), covers=covers, id=rid)


async def image_data(data: Any, config: Any) -> bytes:
    if not isinstance(data, str) or not data.strip():
        raise errors.BadRequest("data: send the image as base64 in 'data'")
    text = data.strip()
    if text[:8].lower().startswith(("http://", "https://")):
        return await fetch_image(text, config.url_fetch)
    if "://" in text[:10]:
        raise errors.BadRequest("data: only base64 images or http(s) URLs are read here, not streams")
    try:
        return decode_base64(text)
    except errors.BadRequest as exc:
        raise errors.BadRequest(str(exc).replace("source:", "data:", 1)) from None


def matches(pred: Prediction, names: dict[int, str], detect: dict[str, float], regions: list[Region]
            ) -> list[dict[str, Any]]:
    """doods2's ``filter_detections``: the global ``detect`` first (a named label is not matched by
    ``*``), then the first region that holds the box and admits the label."""
    h, w = pred.orig_shape
    out = []
    for cls, score, (x1, y1, x2, y2) in zip(pred.classes.tolist(), pred.scores.tolist(), pred.boxes.tolist()):
        label = names.get(cls, str(cls))
        confidence = round(score * 100, 3)
        box = (y1 / h, x1 / w, y2 / h, x2 / w)
        item = {"top": box[0], "left": box[1], "bottom": box[2], "right": box[3], "label": label,
                "confidence": confidence}
        if admits(detect, label, confidence):
            out.append(item)
            continue
        for r in regions:
            if r.holds(box) and admits(r.detect, label, confidence):
                out.append({"region_id": r.id, **item} if r.id is not None else item)
                break
    return out


def admits(detect: dict[str, float], label: str, confidence: float) -> bool:
    if label in detect:
        return confidence >= detect[label]
    return "*" in detect and confidence >= detect["*"]
