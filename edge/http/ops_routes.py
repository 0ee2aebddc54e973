"""What an operator or a supervisor asks: ``GET /healthz`` (the process answers) and ``GET /readyz``
(every model compiled and warmed, plus the detail other parts add, such as camera state)."""

from __future__ import annotations

from aiohttp import web

from edge.http.app_keys import READY_DETAIL, STATE
from edge.http.responses import json_response


async def healthz(request: web.Request) -> web.Response:
    return json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    models = sorted(state.serving.models.models) if state.started else []
    body = {"ready": state.ready, "models": models}
    for detail in request.app[READY_DETAIL]:
        body.update(detail())
    return json_response(body, 200 if state.ready else 503)


def add_ops_routes(app: web.Application) -> None:
    app[READY_DETAIL] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
