"""A camera's recent events, read-only, for the console and for anyone who missed the webhook:

- ``GET /v1/cameras/{id}/events?limit=N``: the newest events first (at most 50; 10 by default), each
  the event body the webhook and MQTT get (``edge.cameras.events``) with ``image``: the URL of its
  saved frame, or null when the camera keeps no snapshots (``snapshots.dir``). With a snapshot folder
  the list is read from disk, so it outlives a restart; without one it holds the events since start.
- ``GET /v1/cameras/{id}/events/{event_id}.jpg``: that saved frame; like ``snapshot.jpg`` it also
  accepts ``?token=`` from ``POST /v1/cameras/{id}/token`` (an ``<img>`` cannot send the key).

The server paths of the files are not shown (the webhook body has them; a browser has no use for them).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from edge import errors
from edge.config.request_fields import shown
from edge.http.camera_routes import hub_for
from edge.http.responses import json_response

DEFAULT_LIMIT = 10
MAX_LIMIT = 50


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise errors.BadRequest(f"limit: {shown(raw)} is not a whole number from 1 to {MAX_LIMIT}")
    return limit


async def list_events(request: web.Request) -> web.Response:
    loop = hub_for(request).get(request.match_info["camera_id"])
    limit = _limit(request)
    events = await asyncio.get_running_loop().run_in_executor(None, loop.events.recent, limit)
    base = f"/v1/cameras/{loop.config.id}/events"
    data: list[dict[str, Any]] = [
        {**{k: v for k, v in e.items() if k != "snapshot"},
         "image": f"{base}/{e['id']}.jpg" if e.get("snapshot") else None} for e in events]
    return json_response({"success": True, "camera": loop.config.id, "data": data})


async def event_jpg(request: web.Request) -> web.Response:
    loop = hub_for(request, token_ok=True).get(request.match_info["camera_id"])
    event_id = request.match_info["event_id"]
    path = loop.events.image_of(event_id)
    if path is None:
        raise errors.CameraNotFound(f"camera {loop.config.id!r} has no saved frame for event {shown(event_id)}"
                                    + ("" if loop.events.store else " (it keeps no snapshots: snapshots.dir)"))
    try:
        body = await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
    except OSError:  # retention deleted it since the listing
        raise errors.CameraNotFound(f"event {shown(event_id)} of camera {loop.config.id!r} was deleted") from None
    return web.Response(body=body, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def add_camera_event_routes(app: web.Application) -> None:
    app.router.add_get("/v1/cameras/{camera_id}/events", list_events)
    app.router.add_get("/v1/cameras/{camera_id}/events/{event_id}.jpg", event_jpg)
