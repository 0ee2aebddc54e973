"""multipart/form-data bodies read in one piece and split with bytes operations.

aiohttp's ``request.post()`` streams each part through a Python state machine, spools file parts to
a temporary file and re-parses each part's Content-Disposition several times; for a 160 kB upload
that is about as much CPU as decoding the JPEG. The predict routes need the whole body anyway, so
it is read at once (``client_max_size`` still applies) and split here. The result is the same
``MultiDict`` ``request.post()`` returns (aiohttp 3.14 rules): parts with a filename as
``FileField``, text parts as ``str``, other typed parts as ``bytes``. Compressed parts
(Content-Encoding) and nested multiparts are refused.
"""

from __future__ import annotations

import binascii
import functools
import io
import quopri

from aiohttp import hdrs, web
from aiohttp.helpers import parse_mimetype
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

IDENTITY_ENCODINGS = ("", "binary", "8bit", "7bit")
MAX_PARTS = 1000  # aiohttp's client_max_fields default

_disposition = functools.lru_cache(maxsize=256)(parse_content_disposition)  # field headers repeat


async def read_multipart(request: web.Request) -> MultiDictProxy[str | web.FileField]:
    """The whole form of a multipart/form-data ``request``. Raises ValueError when malformed,
    ``web.HTTPRequestEntityTooLarge`` past the app's ``client_max_size``."""
    boundary = parse_mimetype(request.headers.get(hdrs.CONTENT_TYPE, "")).parameters.get("boundary")
    if not boundary:
        raise ValueError("the multipart Content-Type has no boundary")
    return parse_multipart(await request.read(), boundary)


def parse_multipart(body: bytes, boundary: str) -> MultiDictProxy[str | web.FileField]:
    """Split ``body`` on ``--boundary`` lines (RFC 7578) into a form ``MultiDict``."""
    delimiter = b"--" + boundary.encode("latin-1")
    pos = 0 if body.startswith(delimiter) else body.find(b"\r\n" + delimiter)
    if pos < 0:
        raise ValueError("the multipart body does not contain its boundary")
    pos = body.index(delimiter, pos) + len(delimiter)
    form: MultiDict[str | web.FileField] = MultiDict()
    while True:
        if len(form) >= MAX_PARTS:
            raise ValueError(f"the form has more than {MAX_PARTS} fields")
        if body.startswith(b"--", pos):
            return MultiDictProxy(form)  # the closing delimiter; the epilogue is ignored
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise ValueError("the multipart body is truncated or malformed after a boundary")
        head_end = body.find(b"\r\n\r\n", line_end)
        if head_end < 0:
            raise ValueError("a multipart part has no end of headers")
        headers = _headers(body[line_end + 2:head_end + 2])
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if end < 0:
            raise ValueError("the multipart body is truncated (no closing boundary)")
        _add_part(form, headers, body[head_end + 4:end])
        pos = end + 2 + len(delimiter)


def _headers(block: bytes) -> CIMultiDictProxy[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in block.decode("utf-8", "surrogateescape").split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"a multipart part has a malformed header line: {line[:80]!r}")
        headers.add(name.strip(), value.strip())
    return CIMultiDictProxy(headers)


def _add_part(form: MultiDict[str | web.FileField], headers: CIMultiDictProxy[str], data: bytes) -> None:
    _, params = _disposition(headers.get(hdrs.CONTENT_DISPOSITION))
    name = content_disposition_filename(params, "name")
    if name is None:
        raise ValueError("a multipart part has no name in its Content-Disposition")
    if headers.get(hdrs.CONTENT_ENCODING, "identity").lower() not in ("identity", ""):
        raise ValueError(f"form part {name[:40]!r}: compressed parts (Content-Encoding) are not accepted")
    data = _transfer_decode(data, headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "").lower(), name)
    filename = content_disposition_filename(params, "filename")
    content_type = headers.get(hdrs.CONTENT_TYPE)
    if content_type and content_type.lower().startswith("multipart/"):
        raise ValueError(f"form part {name[:40]!r} is a nested multipart; send flat form fields")
    if filename:  # RFC 7578: Content-Type is optional, even for files
        form.add(name, web.FileField(name, filename, io.BytesIO(data), content_type or "application/octet-stream",
                                     headers))
    elif content_type is None or content_type.startswith("text/"):
        charset = parse_mimetype(content_type).parameters.get("charset", "utf-8") if content_type else "utf-8"
        form.add(name, data.decode(charset))
    else:
        form.add(name, data)  # type: ignore[arg-type]  # aiohttp gives bytes too


def _transfer_decode(data: bytes, encoding: str, name: str) -> bytes:
    if encoding in IDENTITY_ENCODINGS:
        return data
    if encoding == "base64":
        try:
            return binascii.a2b_base64(data)
        except binascii.Error as exc:
            raise ValueError(f"form part {name[:40]!r}: bad base64: {exc}") from None
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    raise ValueError(f"form part {name[:40]!r}: unknown Content-Transfer-Encoding {encoding!r}")
