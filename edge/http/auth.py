"""The API key of a request (``x-api-key`` or ``Authorization: Bearer``), checked against the served
keys, then the per-key rate limit."""

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


def require_key(request: web.Request) -> None:
    key = api_key_of(request)
    if not request.app[STATE].serving.keys.check(key):
        if key:
            raise errors.Unauthorized("the API key is not valid for this device")
        raise errors.Unauthorized("missing API key: send it in the 'x-api-key' header")
    limiter = request.app[LIMITER]
    if limiter:  # after the key check, so a wrong key cannot drain a good key's bucket
        limiter.check(key or request.remote or "")
