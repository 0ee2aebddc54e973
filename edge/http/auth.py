"""The API key of a request (``x-api-key`` or ``Authorization: Bearer``, or where a dialect carries it),
checked against the served keys, then the per-key rate limit."""

from __future__ import annotations

from aiohttp import web

from edge import errors
from edge.http.app_keys import LIMITER, STATE


def api_key_of(request: web.Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key is None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
    return key


def require_key(request: web.Request, key: str | None = None,
                where: str = "send it in the 'x-api-key' header") -> None:
    """``key``: the one a dialect found (DOODS's header, even empty); None: the request's headers.
    ``where`` finishes the message for a missing key, in the dialect's words."""
    key = key if key is not None else api_key_of(request)
    if not request.app[STATE].serving.keys.check(key):
        if key:
            raise errors.Unauthorized("the API key is not valid for this device")
        raise errors.Unauthorized(f"missing API key: {where}")
    rate_limit(request, key or request.remote or "")  # after the key check: a wrong key drains no good key's bucket


def require_admin_key(request: web.Request) -> str:
    """The request's admin key (model management); 403 when management is off or the key may only
    predict, 401 when the key is missing or unknown. Returns the key."""
    serving = request.app[STATE].serving
    key = api_key_of(request)
    if serving.admin_keys is None:
        raise errors.Forbidden("model management is off on this device: no admin key is configured (set "
                               "auth.admin_keys_file, or the systemd credential 'admin_keys', and reload)")
    if not key:
        raise errors.Unauthorized("missing admin key: send it in the 'x-api-key' header or as "
                                  "'Authorization: Bearer <key>'")
    if not serving.admin_keys.check(key):
        if serving.keys.enabled and serving.keys.check(key):
            raise errors.Forbidden("this API key may predict but not manage models: use an admin key "
                                   "(auth.admin_keys_file)")
        raise errors.Unauthorized("the admin key is not valid for this device")
    rate_limit(request, key)
    return key


def require_dialect_key(request: web.Request, key: str | None, where: str) -> None:
    """For the NVR dialects: as ``require_key``, unless ``dialects.require_key`` is false (then only the
    rate limit, per client address, applies)."""
    if request.app[STATE].serving.config.dialects.require_key:
        require_key(request, key, where)
        return
    rate_limit(request, key or api_key_of(request) or request.remote or "")


def rate_limit(request: web.Request, bucket: str) -> None:
    """Count one request against ``bucket`` (a key, a media token or a client address), when
    ``server.rate_limit_per_key`` is set; ``TooManyRequests`` past it."""
    limiter = request.app[LIMITER]
    if limiter:
        limiter.check(bucket)
