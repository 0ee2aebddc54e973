"""One access-log line per request, safe for journald and free of secrets.

Format (no timestamp: journald adds one)::

    127.0.0.1 "POST /v1/predict/yolov8n" 200 512B 0.034s ua="python-requests/2.32"
    127.0.0.1 "PUT /v1/models/yolov8n" 200 902B 2.310s ua="yolo-edge-push/0.1.0" change="replaced yolov8n sha256=... key=1a2b3c4d"

Only the path is logged: the query string is dropped (a client may put a key in ``?api_key=``),
and no header is logged except a shortened User-Agent. A model upload or delete adds what it changed
and which admin key did it (the first 8 hex digits of the key's SHA-256, never the key). Control
characters are escaped so a line can never be split or forged.
"""

from __future__ import annotations

import logging
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from edge.http.app_keys import MODEL_CHANGE

MAX_PATH = 200
MAX_AGENT = 80
_WORDS = re.compile(r"^[A-Za-z][A-Za-z ]{0,60}$")


def parse_error_kind(exc: BaseException) -> str:
    """What kind of malformed HTTP ``exc`` is, without a byte of what was sent: aiohttp's parser
    messages quote the offending line ("Invalid header value char:\n\n  b'x-api-key: <key>\x01'")."""
    text = getattr(exc, "message", "") or ""
    kind = text.split(":", 1)[0].split("\n", 1)[0].strip() if isinstance(text, str) else ""
    return kind if _WORDS.match(kind) else type(exc).__name__


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with control characters and quotes escaped."""
    text = text[:limit]
    if text.isprintable() and '"' not in text:
        return text
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


class AccessLogger(AbstractAccessLogger):
    """aiohttp access logger: address, method + path, status, body size, seconds, user agent."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        agent = request.headers.get("User-Agent", "-")
        change = request.get(MODEL_CHANGE)
        self.logger.info('%s "%s %s" %d %dB %.3fs ua="%s"%s', request.remote or "-", printable(request.method, 16),
                         printable(request.rel_url.path, MAX_PATH), response.status, response.body_length, time,
                         printable(agent, MAX_AGENT), f' change="{printable(change, MAX_PATH)}"' if change else "")


class OneLineBadHttp(logging.Filter):
    """aiohttp logs every request its parser refuses (400: a NUL in a header, a bad request line) at
    ERROR with a traceback quoting the bad line; a device on a LAN gets probed, so make that one
    WARNING line naming the kind of error only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            text = record.getMessage()
            record.msg, record.args = "%s (%s)", (text, parse_error_kind(exc))  # never the bytes sent
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
