"""Fuzz the multipart path of a live daemon: hypothesis builds raw bodies (well-formed, mutated or
random, with honest and lying Content-Type headers) and every answer must be a JSON non-5xx; the
daemon must still answer a good request at the end and have logged no error of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.in_process import MODEL_ID, MODEL_SRC, good_jpeg, needs_model, small_png

pytestmark = [needs_model, pytest.mark.shared_data]
FIELDS = ["size", "confidence", "iou", "max_det", "classes", "normalize", "decimals", "top_k", "url", "image",
          "file", "conf", "imgsz", "source"]
PATHS = [f"/v1/predict/{MODEL_ID}", f"/api/models/o/p/{MODEL_ID}/predict", f"/api/deployments/o/{MODEL_ID}/predict"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("fuzz-http")
    d = start_daemon(tmp, link_models(tmp, {MODEL_ID: MODEL_SRC}),
                     extra={"server": {"max_body_mb": 1}, "url_fetch": {"allow": ["127.0.0.1"], "timeout_s": 1}})
    yield d
    d.stop()


text_value = st.one_of(st.sampled_from(["640", "0.25", "nan", "inf", "-1", "1e309", "", "[0,1]", "true", "0x10",
                                        "http://127.0.0.1:9/x.jpg", "data:image/png;base64,AAAA"]),
                       st.text(max_size=40))


@st.composite
def part(draw: st.DrawFn, boundary: bytes) -> bytes:
    name = draw(st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)))
    quoted = name.encode("utf-8", "surrogateescape")
    if draw(st.booleans()):
        data = draw(st.sampled_from([small_png(), good_jpeg()[:2000], b"", b"GIF89a", b"\xff\xd8\xff"]))
        head = b'Content-Disposition: form-data; name="' + quoted + b'"; filename="a.jpg"\r\n'
        head += draw(st.sampled_from([b"Content-Type: image/jpeg\r\n", b"", b"Content-Type: multipart/mixed\r\n",
                                      b"Content-Transfer-Encoding: base64\r\n", b"Content-Encoding: gzip\r\n"]))
    else:
        data = draw(text_value).encode("utf-8", "surrogateescape")
        head = b'Content-Disposition: form-data; name="' + quoted + b'"\r\n'
        head += draw(st.sampled_from([b"", b"Content-Type: text/plain; charset=nosuch\r\n",
                                      b"Content-Type: application/octet-stream\r\n"]))
    return b"--" + boundary + b"\r\n" + head + b"\r\n" + data + b"\r\n"


@st.composite
def multipart(draw: st.DrawFn) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from([b"xyzzy", b"----b", b"a" * 70]))
    body = b"".join(draw(st.lists(part(boundary), max_size=6)))
    if draw(st.booleans()):
        body += b"--" + boundary + b"--\r\n"
    body = bytearray(body)
    for _ in range(draw(st.integers(0, 4))):  # mutations
        if not body:
            break
        i = draw(st.integers(0, len(body) - 1))
        op = draw(st.sampled_from(["flip", "cut", "dup"]))
        if op == "flip":
            body[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del body[i:]
        else:
            body[i:i] = body[i: i + draw(st.integers(1, 40))]
    ctype = draw(st.sampled_from([f"multipart/form-data; boundary={boundary.decode()}",
                                  "multipart/form-data", "multipart/form-data; boundary=other",
                                  "multipart/form-data; boundary=\"\"", "application/x-www-form-urlencoded",
                                  "text/plain", "image/jpeg"]))
    return bytes(body), ctype


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.one_of(multipart(), st.tuples(st.binary(max_size=2048), st.just("multipart/form-data; boundary=xyzzy"))),
       st.sampled_from(PATHS))
def test_fuzz_multipart_never_5xx(daemon: Daemon, case: tuple[bytes, str], path: str) -> None:
    body, ctype = case
    response = requests.post(daemon.base_url + path, data=body, timeout=30,
                             headers={"Content-Type": ctype, "x-api-key": daemon.api_key,
                                      "Authorization": f"Bearer {daemon.api_key}"})
    assert response.status_code < 500, (response.status_code, response.text[:300], body[:300], ctype)
    assert response.headers["Content-Type"].startswith("application/json")
    response.json()


def test_daemon_healthy_after_fuzz(daemon: Daemon) -> None:
    response = requests.post(daemon.base_url + PATHS[0], headers={"x-api-key": daemon.api_key},
                             files={"image": ("a.jpg", good_jpeg())}, timeout=30)
    assert response.status_code == 200
    assert "ERROR edge." not in daemon.log(), daemon.log()[-3000:]
