"""edge.http.multipart against the reference: aiohttp's own ``request.post()`` on the same bodies."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from aiohttp import web

from edge.http.multipart import parse_multipart, read_multipart

CT = "multipart/form-data; boundary=XX"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20 + b"\r\n--X\r\n" + b"\xff\xd9"  # holds a near-boundary


def prepared(files: dict[str, Any] | None, data: dict[str, str]) -> tuple[bytes, str]:
    req = requests.Request("POST", "http://device/", files=files, data=data).prepare()
    return req.body, req.headers["Content-Type"]  # type: ignore[return-value]


CASES = [
    ("hub upload", *prepared({"image": ("bus.jpg", JPEG, "image/jpeg")}, {"size": "640", "confidence": "0.3"})),
    ("no part content type", *prepared({"image": ("ü ñ.jpg", JPEG)}, {"a": "é"})),
    ("empty file", *prepared({"image": ("x.jpg", b"")}, {})),
    ("text only", *prepared({"dummy": (None, "v")}, {"x": "1", "y": "2"})),
    ("repeated field", *prepared({"image": ("a.jpg", JPEG)}, {"classes": ["0", "5"]})),  # type: ignore[dict-item]
    ("preamble and epilogue", b'junk\r\n--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--XX--\r\nepi', CT),
    ("quoted boundary", b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--XX--\r\n',
     'multipart/form-data; boundary="XX"'),
    ("base64 part", (b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
     b"aGVsbG8=\r\n--XX--\r\n"), CT),
    ("typed non-text part", (b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: application/json\r\n\r\n'
     b"{}\r\n--XX--\r\n"), CT),
    ("latin-1 charset", (b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: text/plain; charset=latin-1'
     b"\r\n\r\n\xe9\r\n--XX--\r\n"), CT),
    ("truncated", b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nvvv', CT),
    ("part without name", b"--XX\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XX--\r\n", CT),
    ("no boundary in body", b"hello", CT),
    ("no boundary parameter", b"--XX\r\n", "multipart/form-data"),
    ("empty body", b"", CT),
    ("bad utf-8 text", b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\xfe\r\n--XX--\r\n', CT),
]


def snapshot(form: Any) -> list[tuple[str, Any]]:
    return [(k, (v.filename, v.content_type, v.file.read()) if isinstance(v, web.FileField) else v)
            for k, v in form.items()]


def app_with(reader: Any, results: list[Any]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        try:
            results.append(snapshot(await reader(request)))
        except Exception as exc:  # noqa: BLE001 - which kind of error is what gets compared
            results.append(("error", isinstance(exc, ValueError)))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", handler)
    return app


@pytest.mark.parametrize(("label", "body", "content_type"), CASES, ids=[c[0] for c in CASES])
async def test_same_form_as_aiohttp(aiohttp_client: Any, label: str, body: bytes, content_type: str) -> None:
    results: list[Any] = []
    for reader in (read_multipart, lambda request: request.post()):
        client = await aiohttp_client(app_with(reader, results))
        resp = await client.post("/", data=body, headers={"Content-Type": content_type})
        assert resp.status == 200
    assert results[0] == results[1], label


@pytest.mark.parametrize(("body", "message"), [
    (b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Encoding: gzip\r\n\r\nv\r\n--XX--\r\n', "compressed"),
    ((b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Type: multipart/mixed; boundary=YY\r\n\r\n'
     b"v\r\n--XX--\r\n"), "nested"),
    (b'--XX\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: x-uu\r\n\r\nv\r\n--XX--\r\n',
     "Content-Transfer-Encoding"),
    (b"--XX\r\nno colon here\r\n\r\nv\r\n--XX--\r\n", "malformed header"),
])
def test_refused_parts(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_multipart(body, "XX")
