"""The camera routes, and the cleanup context that runs the cameras after the engine is ready.

- ``GET /v1/cameras``: every camera and its state
- ``GET /v1/cameras/{id}/latest``: the last result in the HUB format, with time and frame size
  (``?normalize=true``, ``?decimals=N`` as for predict)
- ``GET /v1/cameras/{id}/counts``: per-class in/out counts of its lines, occupancy and dwell of its zones
  (``CameraCounts.snapshot()``, ``edge.analytics.counts``), and the time of the frame they are at
- ``GET /v1/cameras/{id}/snapshot.jpg``: the newest frame; ``?annotate=1``: the last inferred frame
  with its boxes, masks and keypoints drawn
- ``GET /v1/cameras/{id}/stream.mjpg``: annotated frames as MJPEG, one per inference
- ``POST /v1/cameras/{id}/token``: a short-lived token for that camera's snapshot.jpg and stream.mjpg,
  which then also accept ``?token=`` instead of the key header (an ``<img>`` cannot send headers;
  ``edge.service.media_tokens``)

Same API key as predict. Snapshots go through admission (``server.max_pending``) as predictions do;
at most a quarter of ``max_pending`` MJPEG streams are open at once. Errors are ``edge.errors``
exceptions; ``error_mapping`` maps them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from edge import errors
from edge.cameras.hub import CameraHub
from edge.cameras.loop import CameraLoop, CameraResult
from edge.cameras.snapshot_store import encode_jpeg
from edge.config.request_fields import parse_bool
from edge.http.app_keys import CAMERAS, MEDIA_TOKENS, READY_DETAIL, STATE, CameraSlot
from edge.http.auth import rate_limit, require_key
from edge.http.predict_form import read_field
from edge.http.responses import json_response
from edge.inference.summary import summarize
from edge.service.admission import Admission
from edge.service.media_tokens import MediaTokens

logger = logging.getLogger(__name__)

CLOSING = web.AppKey("cameras_closing", asyncio.Event)
BOUNDARY = "yoloedgeframe"
STREAM_IDLE_S = 30.0  # a stream with no new result for this long ends (the client may reconnect)


def hub_for(request: web.Request, token_ok: bool = False) -> CameraHub:
    """The running cameras, once the request's key (or, where ``token_ok``, its ``?token=``) is good."""
    token = request.query.get("token") if token_ok else None
    if token is None:
        require_key(request)
    else:
        request.app[MEDIA_TOKENS].check(token, request.match_info["camera_id"])
        rate_limit(request, token)
    hub = request.app[CAMERAS].hub
    if hub is None:
        if not request.app[STATE].boot_config.cameras:  # none configured: not "starting" forever
            raise errors.CameraNotFound(f"camera {request.match_info.get('camera_id', '')[:40]!r} is not configured; "
                                        "this device has no cameras (cameras: in config.yaml)")
        raise errors.NotReady("cameras are starting; retry shortly", retry_after=2)
    return hub


async def list_cameras(request: web.Request) -> web.Response:
    if not request.app[STATE].boot_config.cameras:
        require_key(request)
        return json_response({"success": True, "data": []})
    return json_response({"success": True, "data": hub_for(request).status()})


async def latest(request: web.Request) -> web.Response:
    loop = hub_for(request).get(request.match_info["camera_id"])
    normalize, decimals = read_field(request.query, "normalize"), read_field(request.query, "decimals")
    result = loop.latest
    if result is None:
        raise errors.NotReady(f"camera {loop.config.id!r} has no result yet "
                              f"({loop.source.last_error or 'waiting for the first frame'})", retry_after=2)
    h, w = result.frame.image.shape[:2]
    return json_response({
        "success": True, "message": "Inference complete.", "camera": loop.config.id, "model": result.model_id,
        "time": result.time, "frame_time": result.frame.time, "frame": {"width": w, "height": h},
        "speed": result.timings.as_speed(),
        "data": summarize(result.prediction, result.names, normalize, decimals),
    })


async def counts(request: web.Request) -> web.Response:
    loop = hub_for(request).get(request.match_info["camera_id"])
    latest = loop.latest
    return json_response({"success": True, "camera": loop.config.id, "tracking": loop.config.track is not None,
                          "time": latest.frame.time if latest else None, "data": loop.analytics.snapshot()})


async def issue_token(request: web.Request) -> web.Response:
    loop = hub_for(request).get(request.match_info["camera_id"])  # a key, and a camera that exists
    tokens = request.app[MEDIA_TOKENS]
    token = tokens.issue(loop.config.id)
    base = f"/v1/cameras/{loop.config.id}"
    return json_response({"success": True, "data": {
        "token": token, "expires_in": tokens.ttl_s,
        "snapshot": f"{base}/snapshot.jpg?token={token}", "stream": f"{base}/stream.mjpg?token={token}"}})


async def snapshot_jpg(request: web.Request) -> web.Response:
    loop = hub_for(request, token_ok=True).get(request.match_info["camera_id"])
    annotated = parse_bool("annotate", request.query["annotate"]) if "annotate" in request.query else False
    with Admission(request.app[STATE]):  # each snapshot is a JPEG encode: a flood waits its turn like predicts
        body, stamp = await _snapshot(loop, annotated)
    return web.Response(body=body, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store", "X-Frame-Time": f"{stamp:.6f}"})


async def _snapshot(loop: CameraLoop, annotated: bool) -> tuple[bytes, float]:
    ev = asyncio.get_running_loop()
    if annotated:
        result = loop.latest
        if result is None:
            raise errors.NotReady(f"camera {loop.config.id!r} has no result yet", retry_after=2)
        body = await ev.run_in_executor(None, loop.annotated_jpeg, result)
        stamp = result.frame.time
    else:
        frame = loop.source.latest()
        if frame is None:
            raise errors.NotReady(f"camera {loop.config.id!r} has no frame yet "
                                  f"({loop.source.last_error or 'connecting'})", retry_after=2)
        body = await ev.run_in_executor(None, encode_jpeg, frame.image, 85)
        stamp = frame.time
    return body, stamp


async def stream_mjpg(request: web.Request) -> web.StreamResponse:
    loop = hub_for(request, token_ok=True).get(request.match_info["camera_id"])
    slot = request.app[CAMERAS]
    limit = max(2, request.app[STATE].serving.config.server.max_pending // 4)
    if slot.streams >= limit:  # each viewer costs one JPEG encode per inference, for as long as it stays
        raise errors.Overloaded(f"{slot.streams} MJPEG streams are open (at most {limit}, a quarter of "
                                "server.max_pending); retry later")
    slot.streams += 1
    try:
        return await _stream(request, loop)
    finally:
        slot.streams -= 1


async def _stream(request: web.Request, loop: CameraLoop) -> web.StreamResponse:
    closing = request.app[CLOSING]
    resp = web.StreamResponse(headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                       "Cache-Control": "no-store"})
    await resp.prepare(request)
    ev = asyncio.get_running_loop()
    result = loop.latest
    try:
        while not closing.is_set():
            if result is not None:
                jpeg = await ev.run_in_executor(None, loop.annotated_jpeg, result)
                await resp.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                 .encode() + jpeg + b"\r\n")
            result = await _next_or_closing(loop.next_result(STREAM_IDLE_S), closing)
            if result is None:
                break
    except ConnectionResetError:  # the viewer went away (aiohttp's ClientConnectionResetError is one)
        pass
    return resp


async def _next_or_closing(waiter: Coroutine[Any, Any, CameraResult | None], closing: asyncio.Event
                           ) -> CameraResult | None:
    task = asyncio.ensure_future(waiter)
    stop = asyncio.ensure_future(closing.wait())
    done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    for t in (task, stop):
        if t not in done:
            t.cancel()
    return task.result() if task in done else None


async def cameras_ctx(app: web.Application) -> AsyncIterator[None]:
    """After ``serving_ctx``: check cameras against the models (a misfit fails the start), run them."""
    state = app[STATE]
    if not state.boot_config.cameras:
        yield
        return
    hub = CameraHub(state.boot_config, state, state.serving.predictor.executor)
    await hub.start()
    app[CAMERAS].hub = hub
    app[READY_DETAIL].append(hub.ready_detail)
    try:
        yield
    finally:
        app[CAMERAS].hub = None
        await hub.stop()


async def _on_shutdown(app: web.Application) -> None:
    app[CLOSING].set()  # end open MJPEG streams so they do not hold up the drain


def add_camera_routes(app: web.Application) -> None:
    app[CAMERAS] = CameraSlot()
    app[MEDIA_TOKENS] = MediaTokens()
    app[CLOSING] = asyncio.Event()
    app.cleanup_ctx.append(cameras_ctx)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_get("/v1/cameras", list_cameras)
    app.router.add_get("/v1/cameras/{camera_id}/latest", latest)
    app.router.add_get("/v1/cameras/{camera_id}/counts", counts)
    app.router.add_get("/v1/cameras/{camera_id}/snapshot.jpg", snapshot_jpg)
    app.router.add_get("/v1/cameras/{camera_id}/stream.mjpg", stream_mjpg)
    app.router.add_post("/v1/cameras/{camera_id}/token", issue_token)
