"""Reading a request's form and its image: the whole multipart or urlencoded body within the body
timeout and size cap, then exactly one image, uploaded or fetched from an allow-listed URL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EofStream

from edge import errors
from edge.config.settings import Config
from edge.http.app_keys import STATE
from edge.http.error_mapping import body_too_large
from edge.http.multipart import read_multipart
from edge.http.predict_form import single
from edge.http.url_fetch import fetch_image

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MAX_TEXT_FIELD = 64 * 1024  # bytes of one text field, except those in LARGE_TEXT_FIELDS
LARGE_TEXT_FIELDS = frozenset({"source"})  # the Platform's base64 image
MIME = re.compile(r"^[a-z0-9.+-]{1,20}/[a-z0-9.+-]{1,40}$")  # a media type is named back; nothing else is


async def read_form(request: web.Request) -> Any:
    """The whole multipart or urlencoded body, within the body timeout and size cap."""
    timeout = request.app[STATE].serving.config.server.body_timeout_s
    if request.content_type not in FORM_TYPES:
        shown = request.content_type if MIME.match(request.content_type) else "not a form"  # no header echoed
        raise errors.UnsupportedMediaType(f"the request body is {shown!r}; send multipart/form-data "
                                          "(or application/x-www-form-urlencoded) with the image as a file field")
    limit = request.app[STATE].boot_config.server.max_body_mb
    if request.content_length is not None and request.content_length > limit * 1024 * 1024:
        raise body_too_large(request.app)  # said before a byte of it is read
    try:
        async with asyncio.timeout(timeout):
            if request.content_type == "multipart/form-data":
                form = await read_multipart(request)  # aiohttp's post() costs ~5x the CPU
            else:
                form = await request.post()
    except TimeoutError:
        raise errors.SlowClient(f"the request body did not arrive within {timeout:g} s") from None
    except (ConnectionError, ClientPayloadError, EofStream):  # the client went away mid-body
        raise errors.ClientGone("the client closed the connection before its whole body arrived") from None
    except (ValueError, AssertionError, LookupError, HttpProcessingError) as exc:  # malformed multipart, charset
        raise errors.BadRequest(f"the form could not be read: {str(exc)[:200]}") from None
    for name, value in form.items():
        if isinstance(value, str) and len(value) > MAX_TEXT_FIELD and name not in LARGE_TEXT_FIELDS:
            raise errors.PayloadTooLarge(f"form field {name[:40]!r} is {len(value)} characters; text fields are "
                                         f"limited to {MAX_TEXT_FIELD // 1024} KB")
    return form


def upload(form: Any, file_field: str) -> bytes | None:
    """The one file uploaded in ``file_field``; None when there is none."""
    files = form.getall(file_field, [])
    if len(files) > 1:
        raise errors.BadRequest(f"send exactly one '{file_field}' file, got {len(files)}")
    if not files:
        return None
    part = files[0]
    if isinstance(part, str):
        raise errors.BadRequest(f"'{file_field}' must be a file upload (multipart/form-data), not a text field")
    return part.file.read()  # type: ignore[no-any-return]


async def image_bytes(form: Any, file_field: str, url_field: str, config: Config) -> bytes:
    """The upload in ``file_field``, or the download of ``url_field``; exactly one of them."""
    url = single(form, url_field)
    if url and form.getall(file_field, []):
        raise errors.BadRequest(f"send either an '{file_field}' file or a '{url_field}', not both")
    data = upload(form, file_field)
    if data is not None:
        return data
    if url:
        return await fetch_image(url, config.url_fetch)
    raise errors.BadRequest(f"no image: send the image as a multipart file field '{file_field}' "
                            f"or give a '{url_field}' field")
