"""Building blocks of the OpenAPI document (``edge.http.openapi``) shared by every dialect's part of it:
error answers by status, request-field schemas from the one field table, path parameters, security."""

from __future__ import annotations

from typing import Any

from edge.config.request_fields import BOOL_FALSE, BOOL_TRUE, RequestField

Json = dict[str, Any]

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}

ERROR_TEXT = {
    "400": "Bad input: a field is malformed or out of range, the image cannot be decoded, no image or two "
           "images were sent, or a `url` was refused or could not be fetched",
    "401": "The API key is missing or not valid for this device",
    "404": "No model (or route) of that name is served here",
    "405": "The route exists but not for this method",
    "408": "The request body did not arrive within `server.body_timeout_s`",
    "413": "The body exceeds `server.max_body_mb`, a text field exceeds 64 KB, or the image exceeds "
           "`server.max_image_mpix` (read from its header; it is never decoded)",
    "415": "The body is not multipart/form-data or urlencoded, or the image is not JPEG, PNG, WebP or BMP",
    "429": "This API key sent more than `server.rate_limit_per_key` requests per second",
    "500": "An internal error; the daemon log has the details",
    "503": "The device is busy (`server.max_pending` requests in progress), starting or stopping; retry after "
           "`Retry-After` seconds",
}


def errors(schema: Json, *codes: str) -> Json:
    out = {}
    for code in codes:
        answer: Json = {"description": ERROR_TEXT[code], "content": {"application/json": {"schema": schema}}}
        if code in ("429", "503"):
            answer["headers"] = RETRY_AFTER
        out[code] = answer
    return out


BOOL_TEXT = {"type": "string", "enum": [v for v in (*BOOL_TRUE, *BOOL_FALSE) if v], "default": "false"}


def field_schema(f: RequestField, default: Any) -> Json:
    """The JSON schema of one request field (``edge.config.request_fields``), with a dialect's default."""
    text = f.description[:1].upper() + f.description[1:]
    if f.kind == "boolean":
        return {**BOOL_TEXT, "description": text}
    if f.kind == "classes":
        return {"type": "string", "description": text}
    schema = {"type": f.kind, "minimum": f.low, "maximum": f.high, "default": default, "description": text}
    return {**schema, "enum": list(f.choices)} if f.choices is not None else schema


KEYED: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
PREDICT_ERRORS = ("400", "401", "404", "408", "413", "415", "429", "500", "503")


def path_param(name: str, text: str) -> Json:
    return {"name": name, "in": "path", "required": True, "description": text, "schema": {"type": "string"}}
