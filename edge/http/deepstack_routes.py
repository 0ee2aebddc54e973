"""The DeepStack / CodeProject.AI dialect, as Blue Iris, Agent DVR, Frigate's ``deepstack`` detector and
Home Assistant's DeepStack components call it (docs/integrations.md).

- ``POST /v1/vision/detection``: the default detect model (``dialects.detect_model``);
  ``POST /v1/vision/custom/{MODEL_ID}``: any served model that finds boxes;
  ``POST /v1/vision/custom/list``: ``{success, models}``.
- ``GET /v1/status/{ping,version,updateavailable}`` and the same under ``/v1/server/status/``
  (CodeProject.AI's routes since 2.4), open like ``/healthz``.

A request is multipart with the file ``image``; ``min_confidence`` (default 0.4, as DeepStack) and
``api_key`` are form fields. The key is DeepStack's API-KEY mode mapped onto our keys: any served key in
``api_key`` (or in ``x-api-key`` / ``Authorization: Bearer``) passes; with ``dialects.require_key: false``
none is needed, as with CodeProject.AI.

Success is CodeProject.AI's answer, a superset of DeepStack's: ``{success, message, count, predictions:
[{label, confidence, x_min, y_min, x_max, y_max}], inferenceMs, processMs, analysisRoundTripMs, duration,
code, moduleId, ...}``, coordinates as integer pixels truncated as both do (``int(x)``), predictions best
first and at most ``dialects.deepstack_max_predictions``. Errors: ``{success: false, error, code,
duration}`` with DeepStack's statuses (400, 401, 500) and ours for the rest (``error_mapping.STATUS``).
Every answer is one JSON body with a Content-Length (never chunked: Blue Iris cannot read chunked).
"""

from __future__ import annotations

import email.utils
import socket
import time
import uuid
from typing import Any

import numpy as np
from aiohttp import web

from edge import __version__, errors
from edge.http.app_keys import ERROR_BODY, ERROR_BODY_BY_PATH, STATE
from edge.http.auth import require_dialect_key
from edge.http.predict_form import DEEPSTACK, read_field, single
from edge.http.prediction import run_prediction
from edge.http.request_body import FORM_TYPES, read_form, upload
from edge.http.responses import json_response
from edge.inference.engine import LoadedModel
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.inference.predictor import Timings
from edge.service.admission import Admission

STATUS_PREFIXES = ("/v1/status", "/v1/server/status")
KEY_WHERE = "send it in the form field 'api_key' (DeepStack's API-KEY), or set dialects.require_key: false"
MODULE = {"moduleId": "yolo-edge", "moduleName": "yolo-edge (OpenVINO)", "executionProvider": "OpenVINO",
          "canUseGPU": False}


def deepstack_error_body(message: str, status: int) -> dict[str, Any]:
    """DeepStack's ``ErrorResponse`` (``duration`` is always 0 there) with CodeProject.AI's ``code``."""
    return {"success": False, "error": message, "code": status, "duration": 0}


def add_deepstack_routes(app: web.Application) -> None:
    app.router.add_post("/v1/vision/detection", detection)
    app.router.add_post("/v1/vision/custom/list", custom_list)  # before the {model_id} route: "list" is taken
    app.router.add_post("/v1/vision/custom/{model_id}", custom)
    for prefix in STATUS_PREFIXES:
        app.router.add_get(f"{prefix}/ping", version)  # CodeProject.AI answers ping with the version
        app.router.add_get(f"{prefix}/version", version)
        app.router.add_get(f"{prefix}/updateavailable", update_available)
    app.setdefault(ERROR_BODY_BY_PATH, []).extend(  # type: ignore[attr-defined]
        (f"{p}/", deepstack_error_body) for p in ("/v1/vision", *STATUS_PREFIXES))


async def detection(request: web.Request) -> web.Response:
    return await detect(request, None, "detect")


async def custom(request: web.Request) -> web.Response:
    return await detect(request, request.match_info["model_id"], "custom")


async def detect(request: web.Request, model_id: str | None, command: str) -> web.Response:
    request[ERROR_BODY] = deepstack_error_body
    started = time.perf_counter()
    state = request.app[STATE]
    with Admission(state):  # before the lookup: while not ready the answer is 503, not 404
        serving = state.serving
        form = await read_form(request)
        require_dialect_key(request, single(form, "api_key") or None, KEY_WHERE)  # Frigate sends "" for none
        dialects = serving.config.dialects
        models = serving.models
        model = models.detector(model_id) if model_id else models.default_detector(dialects.detect_model)
        confidence = read_field(form, "confidence", DEEPSTACK)
        data = upload(form, "image")
        if data is None:
            raise errors.BadRequest("No valid image file found: send the image as the multipart file 'image'")
        options = PredictOptions(size=min(640, model.max_size), confidence=confidence,
                                 max_det=dialects.deepstack_max_predictions)
        pred, timings = await run_prediction(request, serving, model, data, options)
    return json_response(answer(model, pred, timings, command, started))


def predictions(pred: Prediction, names: dict[int, str]) -> list[dict[str, Any]]:
    """Best first; coordinates truncated to integer pixels as DeepStack and CodeProject.AI do (``int(x)``;
    boxes are clipped to the image, so never negative)."""
    corners = np.trunc(pred.boxes.astype(np.float64)).astype(np.int64).tolist()
    scores = np.round(pred.scores.astype(np.float64), 5).tolist()
    return [{"label": names.get(c, str(c)), "confidence": s, "x_min": b[0], "y_min": b[1], "x_max": b[2],
             "y_max": b[3]} for c, s, b in zip(pred.classes.tolist(), scores, corners)]


def summary(items: list[dict[str, Any]]) -> str:
    """CodeProject.AI's message: the first three labels, then "..."."""
    if not items:
        return "No objects found"
    labels = ", ".join(p["label"] for p in items[:3])
    return f"Found {labels}..." if len(items) > 3 else f"Found {labels}"


def answer(model: LoadedModel, pred: Prediction, timings: Timings, command: str, started: float
           ) -> dict[str, Any]:
    items = predictions(pred, model.spec.names)
    process_ms = timings.decode + timings.preprocess + timings.inference + timings.postprocess
    return {
        "success": True, "message": summary(items), "count": len(items), "predictions": items,
        "inferenceMs": int(timings.inference), "processMs": int(process_ms), "duration": 0,
        **module_fields(command, model.device, started),
    }


def module_fields(command: str, device: str, started: float) -> dict[str, Any]:
    """What CodeProject.AI's module runner and server add to every answer."""
    return {
        "code": 200, "command": command, "requestId": uuid.uuid4().hex, "inferenceDevice": device, **MODULE,
        "analysisRoundTripMs": int((time.perf_counter() - started) * 1000), "processedBy": "localhost",
        "timestampUTC": email.utils.formatdate(usegmt=True),
    }


async def custom_list(request: web.Request) -> web.Response:
    """POST /v1/vision/custom/list: the MODEL_IDs ``/v1/vision/custom/{MODEL_ID}`` runs."""
    request[ERROR_BODY] = deepstack_error_body
    started = time.perf_counter()
    serving = request.app[STATE].serving
    key = None
    if request.content_type in FORM_TYPES and request.can_read_body:  # CodeProject.AI clients post nothing
        key = single(await read_form(request), "api_key") or None
    require_dialect_key(request, key, KEY_WHERE)
    models = [m.spec.model_id for m in serving.models.detectors()]
    return json_response({"success": True, "models": models,
                          **module_fields("list-custom", serving.config.models.device, started)})


def version_info() -> dict[str, Any]:
    """Our version in CodeProject.AI's ``VersionInfo`` shape."""
    core, _, pre = __version__.partition("-")
    parts = [int(p) if p.isdigit() else 0 for p in core.split(".")[:3]] + [0, 0, 0]
    return {"major": parts[0], "minor": parts[1], "patch": parts[2], "preRelease": pre or None,
            "securityUpdate": False, "build": 0, "file": None, "releaseNotes": None}


def server_fields() -> dict[str, Any]:
    return {"success": True, "code": 200, "hostname": socket.gethostname()}


async def version(request: web.Request) -> web.Response:
    """GET .../ping and .../version: CodeProject.AI's ``VersionResponse``."""
    return json_response({**server_fields(), "message": __version__, "version": version_info()})


async def update_available(request: web.Request) -> web.Response:
    """GET .../updateavailable: a device updates through its package, so this is always current."""
    info = version_info()
    return json_response({**server_fields(), "message": "This is the current version", "version": info,
                          "updateAvailable": False, "latest": info, "current": info})
