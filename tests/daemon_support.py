"""Shared helpers for tests that run a real daemon: data lookup, a one-model config, request bodies.

In-process daemons (``create_app`` under pytest-aiohttp) use ``make_config``; subprocess daemons use
``tests.daemon_process``. No fixtures here: ``conftest.py`` owns those.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from edge.config import Config, config_from_dict
from tests.daemon_process import API_KEY
from tests.shared_data import REPO, shared_data_dir

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
    keys = tmp / "api_keys"
    keys.write_text(API_KEY + "\n")
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 8080, **(server or {})},
        "models": {"dir": str(model_dir(tmp)), "cache_dir": None},
        "auth": {"api_keys_file": str(keys)},
        "url_fetch": url_fetch or {},
    }
    return config_from_dict(raw)


def write_config_yaml(tmp: Path, port: int, server: dict[str, Any] | None = None) -> Path:
    """The same config as ``make_config`` as a file, for a ``yolo-edge serve`` subprocess."""
    import yaml
    make_config(tmp)  # writes the key file and model folder
    raw = {"server": {"host": "127.0.0.1", "port": port, **(server or {})},
           "models": {"dir": str(model_dir(tmp)), "cache_dir": None},
           "auth": {"api_keys_file": str(tmp / "api_keys")}}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


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
