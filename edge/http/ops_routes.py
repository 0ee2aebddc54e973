"""What an operator or a supervisor asks: ``GET /healthz`` (the process answers) and ``GET /readyz``
(every model compiled and warmed). Without a valid API key ``/readyz`` says ready or not and counts
only (anyone on the LAN may ask); with one it adds the model ids, ``service`` (versions, device, uptime),
the configured device and the OpenVINO devices this process sees, and the detail other parts add, such as camera state (camera
errors name hosts, even redacted)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from edge import __version__
from edge.http.app_keys import READY_DETAIL, STATE
from edge.http.auth import api_key_of
from edge.http.responses import json_response


async def healthz(request: web.Request) -> web.Response:
    return json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    models = sorted(state.serving.models.models) if state.started else []
    status = 200 if state.ready else 503
    keys = state.serving.keys if state.started else state.boot_keys
    if not keys.check(api_key_of(request)):
        return json_response({"ready": state.ready, "models": len(models),
                              "cameras": len(state.boot_config.cameras)}, status)
    body: dict[str, Any] = {"ready": state.ready, "models": models, "service": service_info(request)}
    if state.started:  # the configured device and what OpenVINO sees (name -> full name)
        body["device"] = state.serving.config.models.device
        body["devices"] = state.serving.engine.visible
    for detail in request.app[READY_DETAIL]:
        body.update(detail())
    return json_response(body, status)


def service_info(request: web.Request) -> dict[str, Any]:
    """What runs here: versions, the inference device and how long the process has been up."""
    state = request.app[STATE]
    engine = state.serving.engine if state.started else None
    return {"version": __version__, "openvino": engine.version if engine else None,
            "device": engine.device if engine else state.boot_config.models.device,
            "device_name": engine.device_name if engine else None,
            "uptime_s": round(time.monotonic() - state.started_at, 1)}


def add_ops_routes(app: web.Application) -> None:
    app[READY_DETAIL] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
