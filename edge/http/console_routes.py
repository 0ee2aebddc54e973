"""The web console: the static files of ``edge/http/console/`` served at ``/`` (``index.html``) and
``/console/{name}`` (its scripts and styles).

No key is needed to load the page (it holds no data; every API call it makes sends the key the user
typed). Every answer carries a strict Content-Security-Policy: scripts and styles only from this
origin, no inline script, no framing, images only from this origin or the page's own blobs, so a
hostile label or model name can never run. The files are read once at start (a few tens of kB) and
revalidated by ETag, so a browser reloads them only after an upgrade.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from edge import errors

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).with_name("console")
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; media-src 'self' blob:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_console(folder: Path = CONSOLE_DIR) -> dict[str, StaticFile]:
    """Every file of the console by name; a missing folder is an installation error, said at start."""
    if not (folder / "index.html").is_file():
        raise errors.ConfigError(f"the web console is missing from the installation ({folder}/index.html): "
                               "reinstall yolo-edge (the package data edge/http/console/*)")
    files = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in CONTENT_TYPES and path.is_file():
            body = path.read_bytes()
            files[path.name] = StaticFile(body, CONTENT_TYPES[path.suffix],
                                          '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    logger.debug("console: %d files, %d bytes", len(files), sum(len(f.body) for f in files.values()))
    return files


def _answer(request: web.Request, file: StaticFile) -> web.Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": file.etag}  # revalidate, 304 if same
    if file.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=file.body, content_type=file.content_type, charset="utf-8", headers=headers)


def add_console_routes(app: web.Application, folder: Path = CONSOLE_DIR) -> None:
    files = load_console(folder)

    async def index(request: web.Request) -> web.Response:
        return _answer(request, files["index.html"])

    async def asset(request: web.Request) -> web.Response:
        file = files.get(request.match_info["name"])
        if file is None:
            raise web.HTTPNotFound(reason="no such console file")  # the same 404 as an unknown route
        return _answer(request, file)

    app.router.add_get("/", index)
    app.router.add_get("/console/{name}", asset)
