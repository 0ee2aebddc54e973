"""The daemon's HTTP server, bounded against a hostile LAN: a cap on open connections, and requests
aiohttp's parser refuses answered without echoing what was sent.

- **Connection cap.** Past ``limit`` open connections a new one first closes the connection idle the
  longest (no request in progress: a keep-alive connection between requests, or one that has not
  finished its headers; nginx reuses keep-alive connections the same way); when every connection is
  busy it gets ``503`` and is closed. Either way one WARNING line per minute at most says how many,
  instead of a traceback per refused ``accept()``. ``limit`` is kept below the open-file limit so
  ``accept()`` never runs out of descriptors (``effective_limit``).
- **Parse errors.** aiohttp answers a request its parser refuses (a control character in a header,
  a broken request line) with a 400 whose body quotes the offending line, an API key included. Here
  the body names the kind of error only.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from edge.http.access_log import parse_error_kind

logger = logging.getLogger(__name__)

RESERVED_FDS = 128  # model files, camera sockets, the event loop, logs: what is not a client connection
LOG_EVERY_S = 60.0


class EveryMinute:
    """A WARNING at most once per ``LOG_EVERY_S``, carrying how many times it happened meanwhile."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self.last = -LOG_EVERY_S

    def __call__(self, detail: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= LOG_EVERY_S:
            logger.warning("%s %d time(s) in the last %.0f s (%s)", self.what, self.count,
                           min(now - self.last, LOG_EVERY_S), detail)
            self.last, self.count = now, 0


def effective_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards ``wanted`` + reserve (up to the hard limit)
    and return the connection cap that fits under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    cap = wanted if soft == resource.RLIM_INFINITY else min(wanted, soft - RESERVED_FDS)
    if cap < wanted:
        logger.warning("server.max_connections %d lowered to %d: the open-file limit is %d (LimitNOFILE=)",
                       wanted, cap, soft)
    return max(cap, 8)


def refusal(message: str) -> bytes:
    body = ('{"success": false, "message": "%s"}' % message).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler with the cap applied at ``connection_made`` and quiet parse errors."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        assert isinstance(server, GuardedServer)
        if not server.make_room():
            server.refused(f"every one of {server.limit} connections has a request in progress")
            transport.write(refusal(f"too many open connections ({server.limit}); retry shortly"))  # type: ignore[attr-defined]
            transport.close()
            self._manager = None  # never counted: connection_lost has nothing to undo
            return
        super().connection_made(transport)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            message = f"Bad Request: {parse_error_kind(exc)}"
        return super().handle_error(request, status, exc, message)


class GuardedServer(web.Server):
    """``web.Server`` whose connections are ``GuardedHandler``s, at most ``limit`` open at once."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit
        self.evicted = EveryMinute(f"connections: at the cap of {limit}, closed the longest-idle connection")
        self.refused = EveryMinute(f"connections: at the cap of {limit}, refused a new connection with 503")

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, **self._kwargs)

    def make_room(self) -> bool:
        """True when a new connection may open, after closing the longest-idle one if at the cap."""
        if len(self._connections) < self.limit:  # far below the cap: no scan (every connection comes here)
            return True
        open_now = [(h, t) for h, t in self._connections.items() if not t.is_closing()]
        if len(open_now) < self.limit:
            return True
        for handler, transport in open_now:  # oldest first (insertion order)
            if not handler._request_in_progress:
                transport.abort()
                self.evicted(f"{len(open_now)} open")
                return True
        return False


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` serving through a ``GuardedServer`` with ``max_connections``."""

    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return GuardedServer(plain.request_handler, request_factory=plain.request_factory, loop=plain._loop,
                             handler_cancellation=plain.handler_cancellation, limit=self.max_connections,
                             **plain._kwargs)


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs ``socket.accept() out of system resource`` with a traceback on every failed accept
    (it retries each second per listening socket); make that one WARNING line per minute."""
    out_of_fds = EveryMinute("accept() ran out of descriptors (EMFILE/ENFILE); retrying")

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message", "").startswith("socket.accept() out of system resource"):
            out_of_fds(str(context.get("exception", ""))[:120])
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
