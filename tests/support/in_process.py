"""Shared helpers for tests that run a real daemon: data lookup, a one-model config, request bodies.

In-process daemons (``create_app`` under pytest-aiohttp) use ``make_config``; subprocess daemons use
``tests.support.daemon``, which writes the same config. No fixtures here: ``conftest.py`` owns those.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from edge.config.settings import Config, config_from_dict
from tests.support.daemon import API_KEY, daemon_config
from tests.support.shared_data import REPO, shared_data_dir

DATA = shared_data_dir() or REPO.parent / "shared" / "data"
MODEL_SRC = DATA / "models" / "yolov8n_int8_openvino_model"
MODEL_ID = "yolov8n"
IMAGES = DATA / "coco8" / "images" / "val"

needs_model = pytest.mark.skipif(not (MODEL_SRC / "metadata.yaml").is_file(),
                                 reason=f"no test model at {MODEL_SRC} (set YOLO_EDGE_TEST_DATA)")


def model_dir(tmp: Path) -> Path:
    """A models.dir holding only the yolov8n export (a symlink), so startup compiles one model."""
    models = tmp / "models"
    models.mkdir(exist_ok=True)
    link = models / MODEL_ID
    if not link.exists():
        link.symlink_to(MODEL_SRC, target_is_directory=True)
    return models


def make_config(tmp: Path, server: dict[str, Any] | None = None, url_fetch: dict[str, Any] | None = None
                ) -> Config:
    """A daemon config over ``tmp``: one model, one API key (``API_KEY``), no compile cache."""
    extra = {"server": server or {}, "models": {"cache_dir": None}, "url_fetch": url_fetch or {}}
    return config_from_dict(daemon_config(tmp, model_dir(tmp), 8080, extra))


def good_jpeg() -> bytes:
    """A real COCO photo (bus.jpg-like scene from coco8 val)."""
    return sorted(IMAGES.glob("*.jpg"))[0].read_bytes()


def small_png(width: int = 64, height: int = 48) -> bytes:
    import cv2
    import numpy as np
    ok, buf = cv2.imencode(".png", np.full((height, width, 3), 127, np.uint8))
    assert ok
    return buf.tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose IHDR claims ``width`` x ``height`` (a decompression bomb header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def form(image: bytes | None = None, filename: str = "image.jpg", content_type: str = "image/jpeg",
         fields: list[tuple[str, str]] | None = None) -> FormData:
    data = FormData()
    if image is not None:
        data.add_field("image", io.BytesIO(image), filename=filename, content_type=content_type)
    for name, value in fields or []:
        data.add_field(name, value)
    return data


def headers(key: str | None = API_KEY) -> dict[str, str]:
    return {"x-api-key": key} if key is not None else {}


class ImageSite:
    """A real HTTP server on 127.0.0.1 for ``url`` tests, in a thread.

    ``/good.jpg`` serves ``image``; ``/big.jpg`` serves ``big_bytes`` bytes; ``/redirect?to=<url>``
    answers 302 to ``to``; ``/missing`` is 404. ``silent_url`` names a second socket that accepts
    connections (kernel backlog) and never answers.
    """

    def __init__(self, image: bytes, big_bytes: int = 0) -> None:
        import socket
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/good.jpg":
                    self._send(200, image, {"Content-Type": "image/jpeg"})
                elif parts.path == "/big.jpg":
                    self._send(200, b"\xff" * big_bytes, {"Content-Type": "image/jpeg"})
                elif parts.path == "/redirect":
                    self._send(302, b"", {"Location": parse_qs(parts.query)["to"][0]})
                else:
                    self._send(404, b"not here", {"Content-Type": "text/plain"})

            def _send(self, status: int, body: bytes, extra: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(64)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def silent_url(self) -> str:
        return f"http://127.0.0.1:{self.silent.getsockname()[1]}/never.jpg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.silent.close()
