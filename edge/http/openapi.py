"""The OpenAPI 3.1 document the daemon serves at ``GET /openapi.json``, written by hand.

``DOCUMENT`` describes every route yolo-edge can serve; ``document_for(app)`` keeps the paths that
this application actually routes (the camera routes exist only with cameras configured) and puts the
served MODEL_IDs in as examples. Statuses and messages are explained in ``docs/errors.md``.
"""

from __future__ import annotations

import copy

import orjson
from aiohttp import web

from edge import __version__
from edge.config.request_fields import FIELDS
from edge.http.app_keys import STATE
from edge.http.openapi_dialects import DIALECT_PATHS, DOODS_KEY
from edge.http.openapi_models import MODEL_PATHS
from edge.http.openapi_schema import BOOL_TEXT, KEYED, PREDICT_ERRORS, Json, errors, field_schema, path_param
from edge.http.predict_form import HUB, PLATFORM, Dialect

IMAGE_TOKEN = {"name": "token", "in": "query", "schema": {"type": "string"},
               "description": "Instead of the key header (an <img> cannot send one): a token from "
                              "POST /v1/cameras/{camera_id}/token"}
HUB_ERROR = {"type": "object", "required": ["success", "message"],
             "properties": {"success": {"const": False}, "message": {"type": "string"}}}
PLATFORM_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


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
                   "keypoints, oriented box, a class with its confidence, or (semantic models) a class with "
                   "its share of the image's pixels",
    "required": ["name", "class"],
    "properties": {
        "name": {"type": "string"}, "class": {"type": "integer"}, "confidence": {"type": "number"},
        "pixel_ratio": {"type": "number"},
        "box": {"type": "object", "additionalProperties": {"type": "number"}},
        "segments": {"type": "object"}, "keypoints": {"type": "object"},
        "track_id": {"type": "integer", "description": "The object's track (cameras with `track:`)"},
    },
}
PER_CLASS = {"type": "object", "additionalProperties": {"type": "number"}, "description": "class name -> value"}
COUNTS: Json = {
    "type": "object", "required": ["lines", "zones"],
    "description": "CameraCounts.snapshot(): per-class in/out counts of each line (Ultralytics' ObjectCounter), "
                   "occupancy, longest current dwell (s) and entries of each zone (docs/cameras.md)",
    "properties": {
        "lines": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["in", "out"],
            "properties": {"in": {"type": "integer"}, "out": {"type": "integer"}}}}},
        "zones": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["occupancy", "dwell_s", "entered"],
            "properties": {"occupancy": PER_CLASS, "dwell_s": PER_CLASS, "entered": PER_CLASS}}},
    },
}
PNG_MAP = {"shape": {"type": "array", "items": {"type": "integer"}}, "encoding": {"const": "png"},
           "data": {"type": "string", "description": "base64 PNG"}}
DENSE_MAPS: Json = {
    "semantic_mask": {"type": "object", "required": list(PNG_MAP), "properties": PNG_MAP,
                      "description": "Semantic models: the class index of every pixel (8-bit PNG; 16-bit past "
                                     "256 classes)"},
    "depth": {"type": "object", "required": [*PNG_MAP, "min", "max", "bits"],
              "properties": {**PNG_MAP, "min": {"type": "number"}, "max": {"type": "number"},
                             "bits": {"enum": [8, 12, 16]}},
              "description": "Depth models: depth / max on `bits` bits per pixel (metres = pixels * max / "
                             "(255 if bits == 8 else 65535))"},
}
HUB_ANSWER: Json = {
    "type": "object", "required": ["success", "message", "data"],
    "properties": {"success": {"const": True}, "message": {"type": "string"},
                   "data": {"type": "array", "items": SUMMARY_ITEM}, **DENSE_MAPS},
}
SPEED = {"type": "object", "description": "Milliseconds per stage",
         "properties": {k: {"type": "number"} for k in ("preprocess", "inference", "postprocess")}}
PLATFORM_ANSWER: Json = {
    "type": "object", "required": ["images", "metadata"],
    "properties": {
        "images": {"type": "array", "items": {
            "type": "object", "required": ["shape", "speed", "results"],
            "properties": {"shape": {"type": "array", "items": {"type": "integer"}}, "speed": SPEED,
                           "results": {"type": "array", "items": SUMMARY_ITEM}, **DENSE_MAPS}}},
        "metadata": {"type": "object", "properties": {
            "imageCount": {"type": "integer"}, "classNames": {"type": "array", "items": {"type": "string"}},
            "model": {"type": "string"}, "task": {"type": "string"}, "version": {"type": "object"},
            "functionTimeAlive": {"type": "number"}, "functionTimeCall": {"type": "number"}}},
    },
}

EVENT: Json = {
    "type": "object", "required": ["id", "camera", "time", "classes", "data", "image"],
    "properties": {"id": {"type": "string"}, "camera": {"type": "string"}, "model": {"type": "string"},
                   "time": {"type": "number"}, "time_iso": {"type": "string"},
                   "classes": {"type": "array", "items": {"type": "string"}}, "frame": {"type": "object"},
                   "data": {"type": "array", "items": SUMMARY_ITEM},
                   "image": {"type": ["string", "null"], "description": "The URL of the saved frame, or null"}},
}
SERVICE_INFO: Json = {
    "type": "object", "description": "With a valid key: what runs here",
    "properties": {"version": {"type": "string"}, "openvino": {"type": ["string", "null"]},
                   "device": {"type": "string"}, "device_name": {"type": ["string", "null"]},
                   "uptime_s": {"type": "number", "description": "Seconds since the process started"}},
}


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
                            "Platform predict APIs, and the DeepStack / CodeProject.AI and DOODS dialects of NVRs "
                            "and home automation (docs/integrations.md). Statuses and messages: docs/errors.md."},
    "components": {"securitySchemes": {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "Bearer": {"type": "http", "scheme": "bearer"},
        "DoodsKey": DOODS_KEY,
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
        "/v1/cameras/{camera_id}/counts": {"get": {
            "summary": "The camera's line counts and zone occupancy", "tags": ["cameras"], "security": KEYED,
            "parameters": [path_param("camera_id", "A configured camera id")],
            "responses": {"200": {"description": "The counts now", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "camera", "data"],
                "properties": {"success": {"const": True}, "camera": {"type": "string"},
                               "time": {"type": ["number", "null"]}, "tracking": {"type": "boolean"},
                               "data": COUNTS}}}}},
                **errors(HUB_ERROR, "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/snapshot.jpg": {"get": {
            "summary": "The newest frame as JPEG; `annotate=1`: the last inferred frame with results drawn",
            "tags": ["cameras"], "security": [*KEYED, {}],
            "parameters": [path_param("camera_id", "A configured camera id"),
                           {"name": "annotate", "in": "query", "schema": BOOL_TEXT}, IMAGE_TOKEN],
            "responses": {"200": {"description": "A JPEG", "content": {"image/jpeg": {
                "schema": {"type": "string", "format": "binary"}}}},
                **errors(HUB_ERROR, "400", "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/stream.mjpg": {"get": {
            "summary": "Annotated frames as MJPEG, one part per inference", "tags": ["cameras"],
            "security": [*KEYED, {}], "parameters": [path_param("camera_id", "A configured camera id"), IMAGE_TOKEN],
            "responses": {"200": {"description": "multipart/x-mixed-replace JPEG parts", "content": {
                "multipart/x-mixed-replace": {"schema": {"type": "string", "format": "binary"}}}},
                **errors(HUB_ERROR, "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/events": {"get": {
            "summary": "The camera's recent events, newest first (from its snapshot folder when it keeps one)",
            "tags": ["cameras"], "security": KEYED,
            "parameters": [path_param("camera_id", "A configured camera id"),
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50,
                                                                        "default": 10}}],
            "responses": {"200": {"description": "The events", "content": {"application/json": {"schema": {
                "type": "object", "required": ["success", "data"], "properties": {
                    "success": {"const": True}, "camera": {"type": "string"},
                    "data": {"type": "array", "items": EVENT}}}}}},
                **errors(HUB_ERROR, "400", "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/events/{event_id}.jpg": {"get": {
            "summary": "The saved frame of one event (cameras with snapshots.dir)", "tags": ["cameras"],
            "security": [*KEYED, {}],
            "parameters": [path_param("camera_id", "A configured camera id"),
                           path_param("event_id", "An event id from .../events"), IMAGE_TOKEN],
            "responses": {"200": {"description": "A JPEG", "content": {"image/jpeg": {
                "schema": {"type": "string", "format": "binary"}}}},
                **errors(HUB_ERROR, "401", "404", "429", "503")},
        }},
        "/v1/cameras/{camera_id}/token": {"post": {
            "summary": "A token for this camera's snapshot.jpg, stream.mjpg and event frames as `?token=`, valid "
                       "for 60 s",
            "tags": ["cameras"], "security": KEYED, "parameters": [path_param("camera_id", "A configured camera id")],
            "responses": {"200": {"description": "The token and the two URLs", "content": {"application/json": {
                "schema": {"type": "object", "required": ["success", "data"], "properties": {
                    "success": {"const": True}, "data": {"type": "object", "required": ["token", "expires_in"]}}}}}},
                **errors(HUB_ERROR, "401", "404", "429", "503")},
        }},
        "/": {"get": {
            "summary": "The web console (no key needed to load it; it asks for one)", "tags": ["console"],
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
        "/console/{name}": {"get": {
            "summary": "The web console's scripts and styles", "tags": ["console"],
            "parameters": [path_param("name", "A file of the console")],
            "responses": {"200": {"description": "JavaScript or CSS", "content": {
                "text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}},
                "404": {"description": "No such file"}},
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
            "summary": "Readiness: models compiled, accepting predictions; with a key also the model ids, versions, "
                       "device, uptime and camera state", "tags": ["ops"],
            "responses": {code: {"description": text, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ready", "models"],
                "properties": {"ready": {"type": "boolean"},
                               "models": {"oneOf": [{"type": "array", "items": {"type": "string"}},
                                                    {"type": "integer", "description": "Without a key: a count"}]},
                               "service": SERVICE_INFO,
                               # with a key: models.device and the OpenVINO devices seen (name -> full name)
                               "device": {"type": "string"},
                               "devices": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}
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
        **DIALECT_PATHS,
        **MODEL_PATHS,
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
        for method, op in ops.items():
            for param in op.get("parameters", []) if method != "put" else []:  # PUT may name a new model
                for names, values in known.items():
                    if param["name"] in names and values:
                        param["schema"]["enum"] = values  # anything else is 404
                        param["schema"]["examples"] = values
                        param["example"] = values[0]
    return doc


async def openapi_handler(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return web.Response(body=orjson.dumps(document_for(request.app)), content_type="application/json")
