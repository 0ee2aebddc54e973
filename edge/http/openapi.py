"""The OpenAPI 3.1 document the daemon serves at ``GET /openapi.json``, written by hand.

``DOCUMENT`` describes every route yolo-edge can serve; ``document_for(app)`` keeps the paths that
this application actually routes (the camera routes exist only with cameras configured) and puts the
served MODEL_IDs in as examples. Statuses and messages are explained in ``docs/errors.md``.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from aiohttp import web

from edge import __version__
from edge.config.request_fields import BOOL_FALSE, BOOL_TRUE, FIELDS, RequestField
from edge.http.app_keys import STATE
from edge.http.predict_form import HUB, PLATFORM, Dialect

Json = dict[str, Any]

HUB_ERROR = {"type": "object", "required": ["success", "message"],
             "properties": {"success": {"const": False}, "message": {"type": "string"}}}
PLATFORM_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
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
    return {"type": f.kind, "minimum": f.low, "maximum": f.high, "default": default, "description": text}


def form_schema(dialect: Dialect, file_field: str, source_field: str, source_text: str) -> Json:
    return {"type": "object", "properties": {
        file_field: {"type": "string", "format": "binary", "description": "The image: JPEG, PNG, WebP or BMP"},
        source_field: {"type": "string", "description": source_text},
        **{name: field_schema(f, default) for name, f, default in dialect.items()},
    }}


HUB_FORM = form_schema(HUB, "image", "url", "Instead of `image`: an http(s) URL on a host in url_fetch.allow")
PLATFORM_FORM = form_schema(PLATFORM, "file", "source", "Instead of `file`: an http(s) URL on an allowed host, "
                            "or the image as base64 (a `data:image/...;base64,` prefix is allowed)")
SUMMARY_ITEM: Json = {
    "type": "object",
    "description": "One Ultralytics `Results.summary()` item: a detection (box), mask polygon (segments), "
                   "keypoints, oriented box or a class with its confidence",
    "required": ["name", "class", "confidence"],
    "properties": {
        "name": {"type": "string"}, "class": {"type": "integer"}, "confidence": {"type": "number"},
        "box": {"type": "object", "additionalProperties": {"type": "number"}},
        "segments": {"type": "object"}, "keypoints": {"type": "object"},
    },
}
HUB_ANSWER: Json = {
    "type": "object", "required": ["success", "message", "data"],
    "properties": {"success": {"const": True}, "message": {"type": "string"},
                   "data": {"type": "array", "items": SUMMARY_ITEM}},
}
SPEED = {"type": "object", "description": "Milliseconds per stage",
         "properties": {k: {"type": "number"} for k in ("preprocess", "inference", "postprocess")}}
PLATFORM_ANSWER: Json = {
    "type": "object", "required": ["images", "metadata"],
    "properties": {
        "images": {"type": "array", "items": {
            "type": "object", "required": ["shape", "speed", "results"],
            "properties": {"shape": {"type": "array", "items": {"type": "integer"}}, "speed": SPEED,
                           "results": {"type": "array", "items": SUMMARY_ITEM}}}},
        "metadata": {"type": "object", "properties": {
            "imageCount": {"type": "integer"}, "classNames": {"type": "array", "items": {"type": "string"}},
            "model": {"type": "string"}, "task": {"type": "string"}, "version": {"type": "object"},
            "functionTimeAlive": {"type": "number"}, "functionTimeCall": {"type": "number"}}},
    },
}
KEYED: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
PREDICT_ERRORS = ("400", "401", "404", "408", "413", "415", "429", "500", "503")


def path_param(name: str, text: str) -> Json:
    return {"name": name, "in": "path", "required": True, "description": text, "schema": {"type": "string"}}


def predict_op(summary: str, params: list[Json], form: Json, answer: Json, error: Json, tag: str) -> Json:
    return {"post": {
        "summary": summary, "tags": [tag], "security": KEYED, "parameters": params,
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form},
                                                      "application/x-www-form-urlencoded": {"schema": form}}},
        "responses": {"200": {"description": "The prediction", "content": {"application/json": {"schema": answer}}},
                      **errors(error, *PREDICT_ERRORS)},
    }}


DOCUMENT: Json = {
    "openapi": "3.1.0",
    "info": {"title": "yolo-edge", "version": __version__,
             "description": "Ultralytics YOLO models served from OpenVINO, speaking the Ultralytics HUB (v1) and "
                            "Platform predict APIs. Statuses and messages: docs/errors.md."},
    "components": {"securitySchemes": {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    }},
    "paths": {
        "/v1/predict/{model_id}": predict_op(
            "Predict (Ultralytics HUB v1 dialect)", [path_param("model_id", "A MODEL_ID served here")],
            HUB_FORM, HUB_ANSWER, HUB_ERROR, "hub"),
        "/api/models/{owner}/{project}/{model}/predict": predict_op(
            "Predict (Ultralytics Platform dialect, model route)",
            [path_param("owner", "Accepted and ignored"), path_param("project", "Accepted and ignored"),
             path_param("model", "A MODEL_ID served here")], PLATFORM_FORM, PLATFORM_ANSWER, PLATFORM_ERROR,
            "platform"),
        "/api/deployments/{owner}/{deployment}/predict": predict_op(
            "Predict (Ultralytics Platform dialect, deployment route)",
            [path_param("owner", "Accepted and ignored"), path_param("deployment", "A MODEL_ID served here")],
            PLATFORM_FORM, PLATFORM_ANSWER, PLATFORM_ERROR, "platform"),
        "/v1/cameras": {"get": {
            "summary": "Every configured camera and its state", "tags": ["cameras"], "security": KEYED,
            "responses": {"200": {"description": "One entry per camera", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "data"],
                "properties": {"success": {"const": True}, "data": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(HUB_ERROR, "401", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/latest": {"get": {
            "summary": "The camera's last result in the HUB format", "tags": ["cameras"], "security": KEYED,
            "parameters": [path_param("camera_id", "A configured camera id"),
                           {"name": "normalize", "in": "query", "schema": field_schema(FIELDS["normalize"], False)},
                           {"name": "decimals", "in": "query", "schema": field_schema(FIELDS["decimals"], 5)}],
            "responses": {"200": {"description": "The last result", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "data"],
                "properties": {"success": {"const": True}, "camera": {"type": "string"}, "model": {"type": "string"},
                               "time": {"type": "number"}, "frame_time": {"type": "number"},
                               "frame": {"type": "object"}, "speed": SPEED,
                               "data": {"type": "array", "items": SUMMARY_ITEM}}}}}},
                **errors(HUB_ERROR, "400", "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/snapshot.jpg": {"get": {
            "summary": "The newest frame as JPEG; `annotate=1`: the last inferred frame with results drawn",
            "tags": ["cameras"], "security": KEYED,
            "parameters": [path_param("camera_id", "A configured camera id"),
                           {"name": "annotate", "in": "query", "schema": BOOL_TEXT}],
            "responses": {"200": {"description": "A JPEG", "content": {"image/jpeg": {
                "schema": {"type": "string", "format": "binary"}}}},
                **errors(HUB_ERROR, "400", "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/stream.mjpg": {"get": {
            "summary": "Annotated frames as MJPEG, one part per inference", "tags": ["cameras"], "security": KEYED,
            "parameters": [path_param("camera_id", "A configured camera id")],
            "responses": {"200": {"description": "multipart/x-mixed-replace JPEG parts", "content": {
                "multipart/x-mixed-replace": {"schema": {"type": "string", "format": "binary"}}}},
                **errors(HUB_ERROR, "401", "404", "429", "503")},
        }},
        "/v1/models": {"get": {
            "summary": "The models served here", "tags": ["hub"], "security": KEYED,
            "responses": {"200": {"description": "One entry per model", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "data"],
                "properties": {"success": {"const": True}, "data": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(HUB_ERROR, "401", "429")},
        }},
        "/healthz": {"get": {
            "summary": "Liveness: the process answers", "tags": ["ops"],
            "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {
                "type": "object", "required": ["alive"], "properties": {"alive": {"const": True}}}}}}},
        }},
        "/readyz": {"get": {
            "summary": "Readiness: models compiled, accepting predictions", "tags": ["ops"],
            "responses": {code: {"description": text, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ready", "models"],
                "properties": {"ready": {"type": "boolean"}, "models": {"type": "array", "items": {"type": "string"}}}}}}}
                for code, text in (("200", "Ready"), ("503", "Starting, reloading or stopping"))},
        }},
        "/metrics": {"get": {
            "summary": "Prometheus metrics (text exposition format)", "tags": ["ops"],
            "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/openapi.json": {"get": {
            "summary": "This document", "tags": ["ops"],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {
                "schema": {"type": "object"}}}}},
        }},
    },
}

MODEL_PARAMS = ("model_id", "model", "deployment")
CAMERA_PARAMS = ("camera_id",)


def document_for(app: web.Application) -> Json:
    """``DOCUMENT`` reduced to the routes ``app`` serves, with served MODEL_IDs as examples."""
    routed = {r.canonical for r in app.router.resources()}
    doc = copy.deepcopy(DOCUMENT)
    doc["paths"] = {path: ops for path, ops in doc["paths"].items() if path in routed}
    state = app[STATE]
    known = {MODEL_PARAMS: sorted(state.serving.models.models) if state.started else [],
             CAMERA_PARAMS: [c.id for c in state.boot_config.cameras]}
    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                for names, values in known.items():
                    if param["name"] in names and values:
                        param["schema"]["enum"] = values  # anything else is 404
                        param["schema"]["examples"] = values
                        param["example"] = values[0]
    return doc


async def openapi_handler(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return web.Response(body=orjson.dumps(document_for(request.app)), content_type="application/json")
