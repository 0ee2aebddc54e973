"""JSON answers: one serializer (orjson, numpy arrays and scalars allowed) for every route."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body, option=DUMP_OPTIONS), status=status,
                        content_type="application/json", headers=headers)
