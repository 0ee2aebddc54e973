"""One prediction for a route: the predictor of the current ``Serving``, with its stage times recorded
(in the metrics, and for the client as a ``Server-Timing`` header, which the web console shows)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from edge.http.metrics import METRICS
from edge.inference.dense_png import dense_fields
from edge.inference.engine import LoadedModel
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.inference.predictor import Timings
from edge.service.state import Serving


async def run_prediction(request: web.Request, serving: Serving, model: LoadedModel, data: bytes,
                         options: PredictOptions) -> tuple[Prediction, Timings]:
    pred, timings = await serving.predictor.predict_bytes(model, data, options)
    request.app[METRICS].observe_stages(model.spec.model_id, timings)
    return pred, timings


def server_timing(timings: Timings) -> dict[str, str]:
    """The stage times as a standard ``Server-Timing`` header (milliseconds), for browsers and the console."""
    stages = {"decode": timings.decode, "preprocess": timings.preprocess, "inference": timings.inference,
              "postprocess": timings.postprocess}
    return {"Server-Timing": ", ".join(f"{name};dur={ms:.2f}" for name, ms in stages.items())}


async def dense_answer(serving: Serving, pred: Prediction, bits: int) -> dict[str, Any]:
    """The ``semantic_mask`` / ``depth`` PNGs of a semantic or depth prediction (``edge.inference.dense_png``),
    encoded on the predictor's executor (a 16-bit PNG of a large image takes tens of ms); {} otherwise."""
    if pred.semantic_mask is None and pred.depth is None:
        return {}
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(serving.predictor.executor, dense_fields, pred, bits)
