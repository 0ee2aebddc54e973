"""A corpus of bad inputs against one real daemon: each gets its documented status and message
(docs/errors.md), and a good request right after each still succeeds on the same daemon."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests
from PIL import Image

from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.in_process import MODEL_ID, MODEL_SRC, ImageSite, good_jpeg, needs_model, png_claiming

pytestmark = [needs_model, pytest.mark.shared_data]

MAX_BODY_MB = 3
URL_MAX_MB = 1


@pytest.fixture(scope="module")
def site() -> Iterator[ImageSite]:
    s = ImageSite(good_jpeg(), big_bytes=2 * 1024 * 1024)
    yield s
    s.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, site: ImageSite) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("bad-inputs")
    d = start_daemon(tmp, link_models(tmp, {MODEL_ID: MODEL_SRC}), extra={
        "server": {"max_body_mb": MAX_BODY_MB, "body_timeout_s": 5},
        "url_fetch": {"allow": ["127.0.0.1", "169.254.169.254"], "timeout_s": 1.5, "max_mb": URL_MAX_MB},
    })
    yield d
    d.stop()


def encoded(ext: str, **kw: Any) -> bytes:
    ok, buf = cv2.imencode(ext, np.full((48, 64, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def animated(fmt: str) -> bytes:
    frames = [Image.fromarray(np.full((40, 60, 3), v, np.uint8)) for v in (0, 255)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


JPEG = good_jpeg() if MODEL_SRC.exists() else b""
Case = Callable[[ImageSite], dict[str, Any]]


def upload(data: bytes, name: str = "image.jpg", fields: dict[str, Any] | list[tuple[str, str]] | None = None,
           field: str = "image") -> Case:
    return lambda site: {"files": {field: (name, data)}, "data": fields or {}}


def fields_only(fields: dict[str, str] | Callable[[ImageSite], dict[str, str]]) -> Case:
    return lambda site: {"data": fields(site) if callable(fields) else fields}


HUB = "/v1/predict/" + MODEL_ID
PLATFORM = f"/api/models/me/proj/{MODEL_ID}/predict"

# id, path, request, headers (None: the good key), status, message fragment
CASES: list[tuple[str, str, Case, dict[str, str] | None, int, str]] = [
    # good inputs, side by side with the bad
    ("good-jpeg", HUB, upload(JPEG), None, 200, "Inference complete."),
    ("good-png", HUB, upload(encoded(".png"), "a.png"), None, 200, "Inference complete."),
    ("good-webp", HUB, upload(encoded(".webp"), "a.webp"), None, 200, "Inference complete."),
    ("good-bmp", HUB, upload(encoded(".bmp"), "a.bmp"), None, 200, "Inference complete."),
    ("animated-png-first-frame", HUB, upload(animated("PNG"), "a.png"), None, 200, "Inference complete."),
    ("animated-webp-first-frame", HUB, upload(animated("WEBP"), "a.webp"), None, 200, "Inference complete."),
    ("good-url", HUB, fields_only(lambda s: {"url": s.url("/good.jpg")}), None, 200, "Inference complete."),
    ("redirect-on-list", HUB, fields_only(lambda s: {"url": s.url("/redirect?to=" + s.url("/good.jpg"))}),
     None, 200, "Inference complete."),
    # the image itself
    ("zero-bytes", HUB, upload(b""), None, 400, "the image is empty (0 bytes)"),
    ("truncated-jpeg", HUB, upload(JPEG[: len(JPEG) // 2]), None, 400, "the JPEG is truncated"),
    ("png-bomb-60000x60000", HUB, upload(png_claiming(60000, 60000), "bomb.png"), None, 413,
     "the image is 60000x60000 = 3600.0 megapixels"),
    ("gif", HUB, upload(b"GIF89a" + b"\x00" * 64, "a.gif"), None, 415, "the upload is a GIF file"),
    ("pdf", HUB, upload(b"%PDF-1.7\n" + b"x" * 64, "a.pdf"), None, 415, "the upload is a PDF file"),
    ("random-bytes", HUB, upload(bytes(range(256)) * 4, "a.bin"), None, 415, "an unrecognised file"),
    ("corrupt-png", HUB, upload(encoded(".png")[:40] + b"\x00" * 100, "a.png"), None, 400, "could not be decoded"),
    ("wrong-content-type", HUB, lambda s: {"data": JPEG, "headers": {"Content-Type": "image/jpeg"}}, None, 415,
     "the request body is 'image/jpeg'"),
    ("image-as-text-field", HUB, fields_only({"image": "not a file"}), None, 400, "must be a file upload"),
    ("missing-image", HUB, fields_only({"confidence": "0.5"}), None, 400, "no image"),
    ("two-images", HUB, lambda s: {"files": [("image", ("a.jpg", JPEG)), ("image", ("b.jpg", JPEG))]}, None, 400,
     "send exactly one 'image' file, got 2"),
    ("body-over-cap", HUB, upload(b"\xff\xd8\xff" + b"\x00" * (MAX_BODY_MB * 1024 * 1024 + 1)), None, 413,
     f"larger than this device accepts ({MAX_BODY_MB} MB"),
    # the fields
    ("text-in-size", HUB, upload(JPEG, fields={"size": "abc"}), None, 400, "size must be an integer from 32 to 1280"),
    ("text-in-confidence", HUB, upload(JPEG, fields={"confidence": "high"}), None, 400,
     "confidence must be a number from 0.01 to 1.0, got 'high'"),
    ("nan-confidence", HUB, upload(JPEG, fields={"confidence": "nan"}), None, 400, "must be a finite number"),
    ("infinite-iou", HUB, upload(JPEG, fields={"iou": "Infinity"}), None, 400, "must be a finite number"),
    ("infinite-size", HUB, upload(JPEG, fields={"size": "inf"}), None, 400, "size must be an integer"),
    ("confidence-out-of-range", HUB, upload(JPEG, fields={"confidence": "1.5"}), None, 400,
     "confidence must be from 0.01 to 1.0"),
    ("size-out-of-range", HUB, upload(JPEG, fields={"size": "4000"}), None, 400, "size must be from 32 to 1280"),
    ("size-fractional", HUB, upload(JPEG, fields={"size": "640.5"}), None, 400, "size must be an integer"),
    ("max-det-zero", HUB, upload(JPEG, fields={"max_det": "0"}), None, 400, "max_det must be from 1 to 300"),
    ("class-out-of-range", HUB, upload(JPEG, fields={"classes": "0,80"}), None, 400, "classes must be class indices 0-79"),
    ("bad-bool", HUB, upload(JPEG, fields={"normalize": "maybe"}), None, 400, "normalize must be true or false"),
    ("top-k-zero", HUB, upload(JPEG, fields={"top_k": "0"}), None, 400, "top_k must be from 1 to 1000"),
    ("duplicate-field", HUB, upload(JPEG, fields=[("confidence", "0.5"), ("confidence", "0.6")]), None, 400,
     "confidence was given 2 times"),
    ("enormous-field", HUB, upload(JPEG, fields={"iou": "9" * 100_000}), None, 413,
     "text fields are limited to 64 KB"),
    ("large-bad-value-is-not-echoed", HUB, upload(JPEG, fields={"iou": "9" * 60_000}), None, 400,
     "(60000 characters)"),
    # who and what
    ("unknown-model", "/v1/predict/nosuchmodel", upload(JPEG), None, 404,
     "model 'nosuchmodel' is not served here; models on this device: yolov8n"),
    ("wrong-key", HUB, upload(JPEG), {"x-api-key": "wrong"}, 401, "the API key is not valid for this device"),
    ("missing-key", HUB, upload(JPEG), {}, 401, "missing API key"),
    ("unknown-route", "/v2/predict", upload(JPEG), None, 404, "Not Found"),
    # the url field
    ("url-host-off-list", HUB, fields_only({"url": "http://127.0.0.2:9/x.jpg"}), None, 400,
     "url: host '127.0.0.2' (127.0.0.2) is not in url_fetch.allow"),
    ("url-metadata-always-blocked", HUB, fields_only({"url": "http://169.254.169.254/latest/meta-data/"}), None,
     400, "is not in url_fetch.allow"),
    ("url-redirect-off-list", HUB,
     fields_only(lambda s: {"url": s.url(f"/redirect?to=http://127.0.0.2:{s.port}/good.jpg")}), None, 400,
     "url: host '127.0.0.2' (127.0.0.2) is not in url_fetch.allow"),
    ("url-never-answers", HUB, fields_only(lambda s: {"url": s.silent_url}), None, 400,
     "url: no complete answer within 1.5 s"),
    ("url-not-http", HUB, fields_only({"url": "file:///etc/passwd"}), None, 400, "is not an http(s) URL"),
    ("url-bad-port", HUB, fields_only({"url": "http://127.0.0.1:99999/x.jpg"}), None, 400, "is not a valid URL"),
    ("url-404", HUB, fields_only(lambda s: {"url": s.url("/missing")}), None, 400, "the server answered 404"),
    ("url-too-big", HUB, fields_only(lambda s: {"url": s.url("/big.jpg")}), None, 413,
     f"the limit is {URL_MAX_MB * 1024 * 1024} bytes"),
    ("url-and-image", HUB, lambda s: {"files": {"image": ("a.jpg", JPEG)}, "data": {"url": s.url("/good.jpg")}},
     None, 400, "not both"),
    # the Platform dialect answers in its own envelope
    ("platform-good", PLATFORM, upload(JPEG, field="file"), {"Authorization": "Bearer {key}"}, 200, ""),
    ("platform-nan", PLATFORM, upload(JPEG, field="file", fields={"conf": "NaN"}), {"Authorization": "Bearer {key}"},
     400, "conf must be a finite number"),
    ("platform-missing-key", PLATFORM, upload(JPEG, field="file"), {}, 401, "missing API key"),
]


def call(daemon: Daemon, path: str, build: Case, site: ImageSite, hdrs: dict[str, str] | None) -> requests.Response:
    kwargs = build(site)
    headers = {"x-api-key": daemon.api_key} if hdrs is None else {k: v.format(key=daemon.api_key)
                                                                   for k, v in hdrs.items()}
    headers.update(kwargs.pop("headers", {}))
    return requests.post(daemon.base_url + path, headers=headers, timeout=30, **kwargs)


def message(response: requests.Response) -> str:
    body = response.json()
    return body.get("message") or body.get("error") or ""


@pytest.mark.parametrize("path,build,hdrs,status,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(daemon: Daemon, site: ImageSite, path: str, build: Case, hdrs: dict[str, str] | None,
                   status: int, fragment: str) -> None:
    response = call(daemon, path, build, site, hdrs)
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    if path == PLATFORM and status != 200:
        assert set(response.json()) == {"error"}
    assert fragment in message(response) if status != 200 or path == HUB else True
    assert len(response.content) < 2000, "an error message must not echo what the client sent"
    after = requests.post(daemon.base_url + HUB, headers={"x-api-key": daemon.api_key},
                          files={"image": ("bus.jpg", JPEG)}, timeout=30)
    assert after.status_code == 200 and after.json()["success"] is True, after.text[:300]


def test_corpus_covers_the_issue_list() -> None:
    ids = {c[0] for c in CASES}
    for required in ("zero-bytes", "truncated-jpeg", "png-bomb-60000x60000", "gif", "pdf", "wrong-content-type",
                     "text-in-size", "nan-confidence", "infinite-iou", "confidence-out-of-range", "duplicate-field",
                     "enormous-field", "missing-image", "unknown-model", "wrong-key", "missing-key",
                     "url-host-off-list", "url-redirect-off-list", "url-never-answers"):
        assert required in ids
    doc = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text()
    for _, _, _, _, status, _ in CASES:
        assert f"| {status} |" in doc or status == 200


def test_slow_headers_are_cut_off(daemon: Daemon) -> None:
    """Headers trickled forever: the connection is closed after body_timeout_s (aiohttp keepalive_timeout)."""
    import socket
    import time
    host, port = daemon.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /v1/predict/yolov8n HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 25
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                sock.settimeout(0.5)
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed, "a client trickling headers kept its connection"
    good = requests.post(daemon.base_url + HUB, headers={"x-api-key": daemon.api_key},
                         files={"image": ("bus.jpg", JPEG)}, timeout=30)
    assert good.status_code == 200
