"""Managing models over the API, guarded by an admin key (``auth.admin_keys_file``):

- ``PUT /v1/models/{model_id}``: the body is a bundle archive (tar, tar.gz or zip of an Ultralytics
  OpenVINO export folder or a ``yolo-edge-convert`` bundle); the model is checked, compiled, warmed and
  swapped in (``edge.service.model_changes``). Answers the model's description.
- ``DELETE /v1/models/{model_id}``: stops serving it and removes its folder.
- ``GET /v1/models/{model_id}``: the description, upload record and report.json (any valid key).

Errors use the HUB envelope. Each change is counted in the metrics and named in the access log line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from aiohttp import web

from edge import errors
from edge.http.app_keys import MODEL_CHANGE, STATE
from edge.http.auth import api_key_of, require_admin_key, require_key
from edge.http.error_mapping import status_of
from edge.http.metrics import METRICS
from edge.http.responses import json_response
from edge.service.keys import digest
from edge.service.model_changes import delete_model, limits_of, model_description, upload_model

ARCHIVE_TYPES = ("application/x-tar", "application/tar", "application/gzip", "application/x-gzip",
                 "application/x-compressed-tar", "application/zip", "application/x-zip-compressed",
                 "application/octet-stream")


async def put_model(request: web.Request) -> web.Response:
    key = require_admin_key(request)
    state = request.app[STATE]
    model_id = request.match_info["model_id"]
    if request.content_type not in ARCHIVE_TYPES:
        raise errors.UnsupportedMediaType(f"the request body is {request.content_type!r}; send the bundle archive "
                                          "as application/x-tar, application/gzip or application/zip")
    limit = limits_of(state).max_total
    if request.content_length is not None and request.content_length > limit:
        raise errors.PayloadTooLarge(f"the bundle is {request.content_length / 2**20:.1f} MB; this device accepts "
                                     f"at most {limit / 2**20:g} MB (models.upload_max_mb)")
    timeout = state.serving.config.server.body_timeout_s
    answer = await _recorded(request, "upload", key, upload_model(state, model_id, body_chunks(request, timeout)))
    request[MODEL_CHANGE] = f"{answer['action']} {model_id} sha256={str(answer['sha256'])[:16]} key={_who(key)}"
    return json_response({"success": True, "data": answer})


async def remove_model(request: web.Request) -> web.Response:
    key = require_admin_key(request)
    model_id = request.match_info["model_id"]
    answer = await _recorded(request, "delete", key, delete_model(request.app[STATE], model_id))
    request[MODEL_CHANGE] = f"deleted {model_id} key={_who(key)}"
    return json_response({"success": True, "data": answer})


async def get_model(request: web.Request) -> web.Response:
    serving = request.app[STATE].serving
    key = api_key_of(request)
    if not (serving.admin_keys is not None and key and serving.admin_keys.check(key)):
        require_key(request)
    return json_response({"success": True, "data": await model_description(request.app[STATE],
                                                                           request.match_info["model_id"])})


async def body_chunks(request: web.Request, idle_s: float) -> AsyncIterator[bytes]:
    """The body as it arrives; SlowClient when nothing arrives for ``idle_s`` seconds."""
    while True:
        try:
            async with asyncio.timeout(idle_s):
                chunk = await request.content.readany()
        except TimeoutError:
            raise errors.SlowClient(f"no part of the bundle arrived for {idle_s:g} s (server.body_timeout_s)") from None
        if not chunk:
            return
        yield chunk


async def _recorded(request: web.Request, action: str, key: str,
                    change: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run ``change``, counting its outcome in the metrics and naming a refusal in the access log."""
    metrics = request.app[METRICS]
    started = time.perf_counter()
    try:
        answer = await change
    except errors.EdgeError as exc:
        outcome = "failed" if status_of(exc) >= 500 else "refused"
        metrics.observe_change(action, outcome, time.perf_counter() - started)
        request[MODEL_CHANGE] = f"{action} {request.match_info['model_id']} {outcome} key={_who(key)}"
        raise
    metrics.observe_change(action, str(answer["action"]), time.perf_counter() - started)
    return answer


def _who(key: str) -> str:
    """Which admin key, without the key: the first 8 hex digits of its SHA-256."""
    return digest(key).hex()[:8]


def add_model_routes(app: web.Application) -> None:
    app.router.add_put("/v1/models/{model_id}", put_model)
    app.router.add_delete("/v1/models/{model_id}", remove_model)
    app.router.add_get("/v1/models/{model_id}", get_model)

