"""The one place that maps errors to HTTP: ``STATUS`` gives each ``edge.errors`` class its status,
``error_middleware`` turns any exception into that status and the dialect's JSON error envelope
(HUB: ``{"success": false, "message"}``; a route module may set another through ``ERROR_BODY``, a
callable given the message and the status)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from edge import errors
from edge.http.app_keys import ERROR_BODY, ERROR_BODY_BY_PATH, STATE
from edge.http.responses import json_response

logger = logging.getLogger(__name__)

STATUS: list[tuple[type[errors.EdgeError], int]] = [  # most specific first
    (errors.SlowClient, 408),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.InvalidModel, 422),
    (errors.BadRequest, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.ModelNotFound, 404),
    (errors.CameraNotFound, 404),
    (errors.Conflict, 409),
    (errors.RateLimited, 429),
    (errors.Overloaded, 503),
    (errors.DeviceError, 503),
    (errors.StorageError, 507),
    (errors.ModelError, 500),
    (errors.EdgeError, 500),
]


ErrorBody = Callable[[str, int], dict[str, Any]]


def hub_error_body(message: str, status: int) -> dict[str, Any]:
    return {"success": False, "message": message}


def error_body(request: web.Request) -> ErrorBody:
    """The envelope the handler set; else the one registered for the path (404, 405); else HUB's."""
    body = request.get(ERROR_BODY)
    if body is not None:
        return body
    path = request.path
    for where, by_path in request.app.get(ERROR_BODY_BY_PATH, []):
        if path == where or (where.endswith("/") and path.startswith(where)):
            return by_path  # type: ignore[no-any-return]
    return hub_error_body


def status_of(exc: errors.EdgeError) -> int:
    return next(code for cls, code in STATUS if isinstance(exc, cls))


def error_response(exc: errors.EdgeError, body: ErrorBody = hub_error_body) -> web.Response:
    status = status_of(exc)
    headers = {}
    if isinstance(exc, errors.Overloaded):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return json_response(body(str(exc), status), status, headers)


def body_too_large(app: web.Application) -> errors.PayloadTooLarge:
    """The one message for a body over ``server.max_body_mb`` (said by the header check or by aiohttp)."""
    limit = app[STATE].boot_config.server.max_body_mb
    return errors.PayloadTooLarge(f"the request body is larger than this device accepts ({limit:g} MB, "
                                  "server.max_body_mb)")


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    response = await _mapped(request, handler)
    if response.status >= 400 and request.can_read_body:
        # Refused before its body was read (401, 404, 413 on Content-Length...): close instead of
        # letting aiohttp read and discard the rest, which a client may announce as 10 GB.
        response.force_close()
    return response


async def _mapped(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.EdgeError as exc:
        logged = (errors.ModelError, errors.DeviceError, errors.StorageError)
        if isinstance(exc, logged) or type(exc) is errors.EdgeError:
            logger.error("%s %s: %s", request.method, request.path, exc)
        return error_response(exc, error_body(request))
    except web.HTTPRequestEntityTooLarge:
        return error_response(body_too_large(request.app), error_body(request))
    except web.HTTPException as exc:
        if exc.status >= 400:
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None  # 405 must name them
            return json_response(error_body(request)(exc.reason, exc.status), exc.status, allow)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return json_response(error_body(request)("internal error; the daemon log has the details", 500), 500)
