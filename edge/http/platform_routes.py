"""The Ultralytics Platform dialect: ``POST /api/models/{owner}/{project}/{model}/predict`` and
``POST /api/deployments/{owner}/{deployment}/predict``, as the ``ultralytics-platform`` SDK calls them.

The last path segment names the local MODEL_ID; owner and project are accepted and ignored. The key
comes in ``Authorization: Bearer <key>`` (checked against the same keys as ``x-api-key``). The image
is a multipart ``file``, or a ``source`` field holding an http(s) URL (fetched under ``url_fetch``
rules) or base64 (a ``data:image/...;base64,`` prefix is allowed). Options: ``conf`` (0.25), ``iou``
(0.7), ``imgsz`` (640), ``normalize``, ``decimals`` (5), ``classes``, ``max_det``, ``bits`` (depth: 8, 12 or
16, default 16); other fields (``vid_stride``) are ignored, as the cloud ignores fields it does not use. Without ``imgsz``
a fixed-shape model smaller than 640 (a 224 classifier) runs at its own size instead of refusing.

Success::

    {"images": [{"shape": [h, w], "speed": {"preprocess", "inference", "postprocess"} (ms),
                 "results": [summary() items],
                 "semantic_mask" | "depth": {"shape", "encoding": "png", "data", ("min", "max", "bits")}}],
     "metadata": {"imageCount", "classNames", "model", "task", "version", "functionTimeAlive",
                  "functionTimeCall"}}  (both times in ms)

Errors use the Platform envelope ``{"error": "<message>"}``; statuses come from ``error_mapping.STATUS``
(the SDK raises ``APIError`` carrying that status).
"""

from __future__ import annotations

import base64
import binascii
import platform
import re
import time
from typing import Any

from aiohttp import web

from edge import __version__, errors
from edge.config.settings import Config
from edge.http.app_keys import ERROR_BODY, STATE
from edge.http.auth import api_key_of, require_key
from edge.http.predict_form import PLATFORM, parse_options, single
from edge.http.prediction import dense_answer, run_prediction
from edge.http.request_body import read_form
from edge.http.responses import json_response
from edge.http.url_fetch import fetch_image
from edge.inference.engine import LoadedModel
from edge.inference.prediction import Prediction
from edge.inference.predictor import Timings
from edge.inference.summary import summarize
from edge.service.admission import Admission
from edge.service.state import ServiceState

CLASSIFY_TOP_K = 5
DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+(;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)


def platform_error_body(message: str, status: int) -> dict[str, Any]:
    """The Platform's error envelope (its docs: ``{"error": "Dataset not found"}``)."""
    return {"error": message}


def add_platform_routes(app: web.Application) -> None:
    app.router.add_post("/api/models/{owner}/{project}/{model}/predict", predict_platform)
    app.router.add_post("/api/deployments/{owner}/{deployment}/predict", predict_platform)


async def predict_platform(request: web.Request) -> web.Response:
    request[ERROR_BODY] = platform_error_body
    started = time.perf_counter()
    state = request.app[STATE]
    serving = state.serving
    if not api_key_of(request) and serving.keys.enabled:
        raise errors.Unauthorized("missing API key: send it as 'Authorization: Bearer <key>'")
    require_key(request)
    model_id = request.match_info.get("model") or request.match_info["deployment"]
    with Admission(state):  # before the lookup: while not ready the answer is 503, not 404
        model = serving.models.get(model_id)
        form = await read_form(request)
        options, output = parse_options(form, len(model.spec.names), PLATFORM, min(640, model.max_size))
        data = await source_bytes(form, serving.config)
        pred, timings = await run_prediction(request, serving, model, data, options)
    results = summarize(pred, model.spec.names, output.normalize, output.decimals, top_k=CLASSIFY_TOP_K)
    dense = await dense_answer(serving, pred, output.bits)
    return json_response(answer(state, model, pred, timings, results, started, dense))


def answer(state: ServiceState, model: LoadedModel, pred: Prediction, timings: Timings,
           results: list[dict[str, Any]], started: float, dense: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = model.spec
    now = time.perf_counter()
    version = {"yolo-edge": __version__, "python": platform.python_version(), "ultralytics": spec.version,
               "openvino": state.serving.engine.version}
    return {
        "images": [{"shape": list(pred.orig_shape), "speed": timings.as_speed(), "results": results, **(dense or {})}],
        "metadata": {
            "imageCount": 1,
            "classNames": [spec.names[i] for i in sorted(spec.names)],
            "model": spec.model_id,
            "task": spec.task,
            "version": {k: str(v) for k, v in version.items() if v},
            "functionTimeAlive": round((time.monotonic() - state.started_at) * 1000, 3),
            "functionTimeCall": round((now - started) * 1000, 3),
        },
    }


async def source_bytes(form: Any, config: Config) -> bytes:
    """The multipart ``file``, or the image a ``source`` field names (URL) or holds (base64)."""
    files = form.getall("file", [])
    source = single(form, "source")
    if len(files) > 1:
        raise errors.BadRequest(f"send exactly one 'file', got {len(files)}")
    if files and source:
        raise errors.BadRequest("send either a 'file' upload or a 'source', not both")
    if files:
        part = files[0]
        if isinstance(part, str):
            raise errors.BadRequest("'file' must be a file upload (multipart/form-data), not a text field")
        return part.file.read()
    if source:
        text = source.strip()
        if text[:8].lower().startswith(("http://", "https://")):
            try:
                return await fetch_image(text, config.url_fetch)
            except (errors.UrlFetchError, errors.PayloadTooLarge) as exc:  # worded for HUB's 'url' and 'image'
                message = str(exc).removeprefix("url: ").replace("the 'image' file", "the 'file' upload")
                raise type(exc)(f"source: {message}") from None
        return decode_base64(text)
    raise errors.BadRequest("no image: send it as a multipart 'file', or give a 'source' (an image URL or base64)")


def decode_base64(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional, with or without a ``data:image/...;base64,`` prefix."""
    prefix = DATA_URL.match(text)
    if prefix:
        text = text[prefix.end():]
    elif text[:5].lower() == "data:":
        raise errors.BadRequest("source: a data URL must be base64 ('data:image/<type>;base64,<data>')")
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        data = base64.b64decode(compact, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("source: neither an http(s) URL nor valid base64 image data") from None
    if not data:
        raise errors.BadRequest("source: the base64 data is empty")
    return data
