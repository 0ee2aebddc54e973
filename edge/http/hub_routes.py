"""The Ultralytics HUB dialect: ``POST /v1/predict/{model_id}`` and ``GET /v1/models``.

A semantic or depth model's answer carries, beside ``data`` (its ``summary()``), the per-image map the
Platform dialect sends: ``semantic_mask`` or ``depth`` (``edge.inference.dense_png``; ``bits`` honoured).
"""

from __future__ import annotations

from aiohttp import web

from edge.http.app_keys import STATE
from edge.http.auth import require_key
from edge.http.predict_form import HUB, parse_options, read_field
from edge.http.prediction import dense_answer, run_prediction, server_timing
from edge.http.request_body import image_bytes, read_form
from edge.http.responses import json_response
from edge.inference.summary import summarize
from edge.service.admission import Admission


async def predict_v1(request: web.Request) -> web.Response:
    """HUB dialect: POST /v1/predict/{model_id}."""
    state = request.app[STATE]
    require_key(request)
    serving = state.serving
    model = serving.models.get(request.match_info["model_id"])
    with Admission(state):
        form = await read_form(request)
        options, output = parse_options(form, len(model.spec.names), HUB, min(640, model.max_size))
        top_k = read_field(form, "top_k")  # validated before inference, not after
        data = await image_bytes(form, "image", "url", serving.config)
        pred, timings = await run_prediction(request, serving, model, data, options)
    items = summarize(pred, model.spec.names, output.normalize, output.decimals, top_k=top_k)
    dense = await dense_answer(serving, pred, output.bits)  # semantic and depth models: their maps beside data
    return json_response({"success": True, "message": "Inference complete.", "data": items, **dense}, 200,
                         server_timing(timings))


async def list_models(request: web.Request) -> web.Response:
    require_key(request)
    models = request.app[STATE].serving.models
    return json_response({"success": True, "data": [m.describe() for m in models.models.values()]})


def add_hub_routes(app: web.Application) -> None:
    app.router.add_post("/v1/predict/{model_id}", predict_v1)
    app.router.add_get("/v1/models", list_models)
