"""``server.allowed_hosts``: the ``Host`` header must name this device, so a web page on another origin
cannot reach the daemon through DNS rebinding (a name the attacker controls, re-pointed at the
device's LAN address, turns the browser into a client of every route that needs no key).

Empty (the default) accepts any Host. Entries are host names or addresses, compared without the port
and case-insensitively; an entry starting with a dot matches that domain and its subdomains
(``.lan`` matches ``edge.lan``). A request whose Host is not allowed gets 400, on every route; the
value it sent is not echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from edge import errors
from edge.http.app_keys import STATE


def host_name(host: str | None) -> str:
    """``host`` (a Host header value) without its port or IPv6 brackets, lower case."""
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed(host: str | None, allow: list[str]) -> bool:
    name = host_name(host)
    if not name:
        return False
    for entry in allow:
        entry = entry.strip().lower()
        if name == entry.strip("[]") or (entry.startswith(".") and (name.endswith(entry) or name == entry[1:])):
            return True
    return False


@web.middleware
async def allowed_hosts_middleware(request: web.Request,
                                   handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                                   ) -> web.StreamResponse:
    state = request.app[STATE]
    allow = (state.serving.config if state.started else state.boot_config).server.allowed_hosts
    if allow and not allowed(request.headers.get("Host"), allow):
        raise errors.BadRequest("the Host header does not name this device (server.allowed_hosts)")
    return await handler(request)
