"""The typed keys under which the application and its requests keep what several route modules share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from edge.cameras.hub import CameraHub
from edge.http.rate_limit import RateLimiter
from edge.service.media_tokens import MediaTokens
from edge.service.state import ServiceState


@dataclass
class CameraSlot:
    """Holds the camera hub once it has started (the app is frozen by then); None without cameras."""

    hub: CameraHub | None = None
    streams: int = 0  # MJPEG streams open now


STATE = web.AppKey("state", ServiceState)
LIMITER = web.AppKey("limiter", RateLimiter)  # per-key request rates (server.rate_limit_per_key)
CAMERAS = web.AppKey("cameras", CameraSlot)
MEDIA_TOKENS = web.AppKey("media_tokens", MediaTokens)  # camera image tokens for <img> (no headers)
# Extra /readyz detail (e.g. camera state): callables returning a dict merged into the body.
READY_DETAIL = web.AppKey("ready_detail", list)
# A dialect's error envelope ((message, status) -> JSON body), set on the request by that dialect's handlers.
ERROR_BODY = web.RequestKey("error_body", Callable[[str, int], dict[str, Any]])  # type: ignore[arg-type]
# What a model upload or delete changed, for the access log line of that request.
MODEL_CHANGE = web.RequestKey("model_change", str)
# Error envelopes by path, for answers no dialect handler wrote (404, 405): (path, body); a path ending
# in "/" covers everything under it. Each dialect's route module adds its own.
ERROR_BODY_BY_PATH = web.AppKey("error_body_by_path", list)
