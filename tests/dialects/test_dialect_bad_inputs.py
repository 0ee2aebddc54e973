"""The bad-input corpus (tests/http/test_bad_inputs.py) sent to the DeepStack and DOODS routes: each gets
its status in the dialect's own error envelope (DeepStack: ``{success: false, error, code, duration}``;
DOODS: ``{detections: [], error}``), and a good request of the same dialect succeeds right after."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.dialects.conftest import MAX_BODY_MB, one_json_body
from tests.http.test_bad_inputs import JPEG, animated, encoded
from tests.support.daemon import Daemon
from tests.support.in_process import png_claiming

pytestmark = [pytest.mark.shared_data]

DS = "/v1/vision/detection"
KEY = "{key}"
Request = Callable[[str], dict[str, Any]]  # the good key -> requests.post keyword arguments


def ds(image: bytes | None = JPEG, name: str = "image.jpg", fields: Any = None, key: str | None = KEY,
       field: str = "image") -> Request:
    def build(good: str) -> dict[str, Any]:
        data = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
        if key is not None:
            data.append(("api_key", key.format(key=good)))
        return {"files": {field: (name, image)} if image is not None else None, "data": data}
    return build


def doods(body: Any = None, key: str | None = KEY, raw: bytes | None = None) -> Request:
    def build(good: str) -> dict[str, Any]:
        headers = {"doods-auth-key": key.format(key=good)} if key is not None else {}
        return {"data": raw, "headers": headers} if raw is not None else {"json": body, "headers": headers}
    return build


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def good_doods(**extra: Any) -> dict[str, Any]:
    return {"data": b64(JPEG), "detect": {"*": 40}, **extra}


# id, path, request, status, message fragment
CASES: list[tuple[str, str, Request, int, str]] = [
    ("ds-good", DS, ds(), 200, ""),
    ("ds-good-png", DS, ds(encoded(".png"), "a.png"), 200, ""),
    ("ds-animated-webp", DS, ds(animated("WEBP"), "a.webp"), 200, ""),
    ("ds-zero-bytes", DS, ds(b""), 400, "the image is empty (0 bytes)"),
    ("ds-truncated-jpeg", DS, ds(JPEG[: len(JPEG) // 2]), 400, "the JPEG is truncated"),
    ("ds-png-bomb", DS, ds(png_claiming(60000, 60000), "bomb.png"), 413, "3600.0 megapixels"),
    ("ds-gif", DS, ds(b"GIF89a" + b"\x00" * 64, "a.gif"), 415, "the upload is a GIF file"),
    ("ds-pdf", DS, ds(b"%PDF-1.7\n" + b"x" * 64, "a.pdf"), 415, "the upload is a PDF file"),
    ("ds-random-bytes", DS, ds(bytes(range(256)) * 4, "a.bin"), 415, "an unrecognised file"),
    ("ds-missing-image", DS, ds(None, fields={"min_confidence": "0.5"}), 400, "No valid image file found"),
    ("ds-image-as-text", DS, ds(None, fields={"image": "not a file"}), 400, "must be a file upload"),
    ("ds-two-images", DS, lambda k: {"files": [("image", ("a.jpg", JPEG)), ("image", ("b.jpg", JPEG))],
                                     "data": {"api_key": k}}, 400, "send exactly one 'image' file, got 2"),
    ("ds-wrong-content-type", DS, lambda k: {"data": JPEG, "headers": {"Content-Type": "image/jpeg",
                                                                       "x-api-key": k}}, 415, "'image/jpeg'"),
    ("ds-body-over-cap", DS, ds(b"\xff\xd8\xff" + bytes(MAX_BODY_MB * 1024 * 1024 + 1)), 413,
     f"({MAX_BODY_MB} MB"),
    ("ds-text-confidence", DS, ds(fields={"min_confidence": "high"}), 400,
     "min_confidence must be a number from 0.01 to 1.0, got 'high'"),
    ("ds-nan-confidence", DS, ds(fields={"min_confidence": "nan"}), 400, "must be a finite number"),
    ("ds-confidence-over-1", DS, ds(fields={"min_confidence": "1.5"}), 400, "min_confidence must be from 0.01 to 1.0"),
    ("ds-duplicate-field", DS, ds(fields=[("min_confidence", "0.5"), ("min_confidence", "0.6")]), 400,
     "min_confidence was given 2 times"),
    ("ds-enormous-field", DS, ds(fields={"min_confidence": "9" * 100_000}), 413, "limited to 64 KB"),
    ("ds-unknown-model", "/v1/vision/custom/nosuch", ds(), 404, "model 'nosuch' is not served here"),
    ("ds-wrong-key", DS, ds(key="wrong"), 401, "the API key is not valid for this device"),
    ("ds-missing-key", DS, ds(key=None), 401, "missing API key: send it in the form field 'api_key'"),
    ("ds-unknown-route", "/v1/vision/face/recognize", ds(), 404, "Not Found"),
    ("ds-list-wrong-key", "/v1/vision/custom/list", ds(None, key="wrong"), 401, "not valid"),
    ("doods-good", "/detect", doods(good_doods()), 200, ""),
    ("doods-not-json", "/detect", doods(raw=b"not json"), 400, "the body must be a JSON detect request"),
    ("doods-not-object", "/detect", doods([1, 2]), 400, "must be a JSON object"),
    ("doods-missing-data", "/detect", doods({"detect": {"*": 40}}), 400, "data: send the image as base64"),
    ("doods-bad-base64", "/detect", doods(good_doods(data="not base64 !")), 400, "data: neither an http(s) URL"),
    ("doods-zero-image", "/detect", doods(good_doods(data="data:image/png;base64,")), 400, "empty"),
    ("doods-gif", "/detect", doods(good_doods(data=b64(b"GIF89a" + b"\x00" * 64))), 415, "GIF"),
    ("doods-truncated", "/detect", doods(good_doods(data=b64(JPEG[: len(JPEG) // 2]))), 400, "truncated"),
    ("doods-bomb", "/detect", doods(good_doods(data=b64(png_claiming(60000, 60000)))), 413, "megapixels"),
    ("doods-stream-url", "/detect", doods(good_doods(data="rtsp://127.0.0.1/x")), 400, "not streams"),
    ("doods-url-off-list", "/detect", doods(good_doods(data="http://127.0.0.2:9/x.jpg")), 400,
     "is not in url_fetch.allow"),
    ("doods-unknown-detector", "/detect", doods(good_doods(detector_name="nosuch")), 400,
     "unknown detector name: nosuch"),
    ("doods-threshold-text", "/detect", doods(good_doods(detect={"*": "high"})), 400, "confidence in percent"),
    ("doods-threshold-over-100", "/detect", doods(good_doods(detect={"person": 150})), 400, "0 to 100"),
    ("doods-bad-region", "/detect", doods(good_doods(regions=[{"top": "a"}])), 400, "regions[0].top"),
    ("doods-image-wanted", "/detect", doods(good_doods(image="jpg")), 400, "annotated images are not drawn"),
    ("doods-wrong-key", "/detect", doods(good_doods(), key="wrong"), 401, "not valid"),
    ("doods-missing-key", "/detect", doods(good_doods(), key=None), 401, "doods-auth-key"),
    ("doods-body-over-cap", "/detect", doods(raw=b"{" + b" " * (MAX_BODY_MB * 1024 * 1024 + 1)), 413, "MB"),
]


def envelope(path: str, body: dict[str, Any], status: int) -> str:
    """The dialect's error envelope, exactly; returns the message."""
    if path.startswith("/v1/"):
        assert set(body) == {"success", "error", "code", "duration"} and body["success"] is False
        assert body["code"] == status and body["duration"] == 0
    else:
        assert set(body) == {"detections", "error"} and body["detections"] == []
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path, build, status, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(keyed: Daemon, path: str, build: Request, status: int, fragment: str) -> None:
    kwargs = build(keyed.api_key)
    r = requests.post(keyed.base_url + path, timeout=30, **kwargs)
    assert r.status_code == status, r.text[:500]
    one_json_body(r)
    assert len(r.content) < 2000, "an error message must not echo what the client sent"
    if status != 200:
        assert fragment in envelope(path, r.json(), status)
    good = (ds() if path.startswith("/v1/") else doods(good_doods()))(keyed.api_key)
    after = requests.post(keyed.base_url + (DS if path.startswith("/v1/") else "/detect"), timeout=30, **good)
    assert after.status_code == 200, after.text[:300]


@pytest.mark.parametrize("method, path", [("GET", DS), ("PUT", "/v1/vision/custom/list"), ("GET", "/detect"),
                                          ("POST", "/detectors"), ("POST", "/v1/status/ping")])
def test_wrong_method_keeps_the_envelope(keyed: Daemon, method: str, path: str) -> None:
    r = requests.request(method, keyed.base_url + path, timeout=10)
    assert r.status_code == 405 and "Allow" in r.headers
    envelope(path, r.json(), 405)


def test_corpus_covers_the_issue_list() -> None:
    """Missing image, not an image, wrong key, unknown model: for both dialects."""
    ids = {c[0] for c in CASES}
    for dialect in ("ds", "doods"):
        for case in ("missing-key", "wrong-key", "gif", "truncated"):
            assert any(i.startswith(f"{dialect}-") and case in i for i in ids), (dialect, case)
    assert {"ds-missing-image", "doods-missing-data", "ds-unknown-model", "doods-unknown-detector"} <= ids
