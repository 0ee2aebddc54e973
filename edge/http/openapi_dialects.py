"""The OpenAPI paths of the NVR dialects: DeepStack / CodeProject.AI (``deepstack_routes``) and DOODS
(``doods_routes``), merged into ``openapi.DOCUMENT``."""

from __future__ import annotations

from edge.http.openapi_schema import KEYED, PREDICT_ERRORS, Json, errors, field_schema, path_param
from edge.http.predict_form import DEEPSTACK

DOODS_KEY: Json = {"type": "apiKey", "in": "header", "name": "doods-auth-key"}

DEEPSTACK_ERROR: Json = {"type": "object", "required": ["success", "error", "code"], "properties": {
    "success": {"const": False}, "error": {"type": "string"}, "code": {"type": "integer"},
    "duration": {"type": "number"}}}
DEEPSTACK_FORM: Json = {"type": "object", "required": ["image"], "properties": {
    "image": {"type": "string", "format": "binary", "description": "The image: JPEG, PNG, WebP or BMP"},
    **{name: field_schema(f, default) for name, f, default in DEEPSTACK.items()},
}}
PREDICTION: Json = {"type": "object", "required": ["label", "confidence", "x_min", "y_min", "x_max", "y_max"],
                    "properties": {"label": {"type": "string"}, "confidence": {"type": "number"},
                                   **{k: {"type": "integer"} for k in ("x_min", "y_min", "x_max", "y_max")}}}
DEEPSTACK_ANSWER: Json = {"type": "object", "required": ["success", "predictions", "count", "code"], "properties": {
    "success": {"const": True}, "message": {"type": "string"}, "count": {"type": "integer"},
    "predictions": {"type": "array", "items": PREDICTION, "description": "Best first; integer pixels"},
    **{k: {"type": "integer"} for k in ("inferenceMs", "processMs", "analysisRoundTripMs", "code")},
    "duration": {"type": "number"}}}
VERSION: Json = {"type": "object", "properties": {k: {"type": "integer"} for k in ("major", "minor", "patch", "build")}}
STATUS_ANSWER: Json = {"type": "object", "required": ["success", "code", "version"], "properties": {
    "success": {"const": True}, "code": {"type": "integer"}, "hostname": {"type": "string"},
    "message": {"type": "string"}, "version": VERSION, "updateAvailable": {"type": "boolean"}}}
KEY_NOTE = ("The key may also come in the form field `api_key` (DeepStack's API-KEY); none is needed with "
            "`dialects.require_key: false`.")


def deepstack_op(summary: str, params: list[Json]) -> Json:
    return {"post": {
        "summary": summary, "description": KEY_NOTE, "tags": ["deepstack"], "security": KEYED, "parameters": params,
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": DEEPSTACK_FORM}}},
        "responses": {"200": {"description": "The detections", "content": {"application/json": {
            "schema": DEEPSTACK_ANSWER}}}, **errors(DEEPSTACK_ERROR, *PREDICT_ERRORS)},
    }}


def status_op(summary: str) -> Json:
    return {"get": {"summary": summary, "tags": ["deepstack"], "responses": {"200": {
        "description": "CodeProject.AI's version answer", "content": {"application/json": {"schema": STATUS_ANSWER}}}}}}


DOODS_ERROR: Json = {"type": "object", "required": ["detections", "error"], "properties": {
    "detections": {"type": "array", "maxItems": 0}, "error": {"type": "string"}}}
DOODS_KEYED: list[dict[str, list[str]]] = [{"DoodsKey": []}, *KEYED]
PERCENTS: Json = {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 100},
                  "description": "Label (or `*`) -> minimum confidence in percent"}
FRACTION: Json = {"type": "number", "description": "0-1 fraction of the image"}
DETECT_REQUEST: Json = {"type": "object", "required": ["data"], "properties": {
    "id": {"type": "string"}, "detector_name": {"type": "string", "default": "default"},
    "data": {"type": "string", "description": "The image as base64, or an http(s) URL on a url_fetch.allow host"},
    "detect": PERCENTS,
    "regions": {"type": "array", "items": {"type": "object", "required": ["top", "left", "bottom", "right", "detect"],
                                           "properties": {"top": FRACTION, "left": FRACTION, "bottom": FRACTION,
                                                          "right": FRACTION, "detect": PERCENTS,
                                                          "covers": {"type": "boolean"}, "id": {"type": "string"}}}},
    "throttle": {"type": "number", "description": "Accepted and ignored"},
    "image": {"type": "string", "maxLength": 0, "description": "Annotated images are not drawn here: leave empty"},
    "preprocess": {"type": "array", "maxItems": 0, "description": "Not supported: leave empty"},
}}
DETECTION: Json = {"type": "object", "required": ["top", "left", "bottom", "right", "label", "confidence"],
                   "properties": {"top": FRACTION, "left": FRACTION, "bottom": FRACTION, "right": FRACTION,
                                  "label": {"type": "string"}, "region_id": {"type": "string"},
                                  "confidence": {"type": "number", "description": "Percent"}}}
DETECTORS_ANSWER: Json = {"type": "object", "required": ["detectors"], "properties": {"detectors": {
    "type": "array", "items": {"type": "object", "required": ["name", "type", "model", "labels", "width", "height"],
                               "properties": {"name": {"type": "string"}, "type": {"type": "string"},
                                              "model": {"type": "string"}, "width": {"type": "integer"},
                                              "height": {"type": "integer"},
                                              "labels": {"type": "array", "items": {"type": "string"}}}}}}}

DIALECT_PATHS: dict[str, Json] = {
    "/v1/vision/detection": deepstack_op("Detect with the default model (DeepStack / CodeProject.AI dialect)", []),
    "/v1/vision/custom/list": {"post": {
        "summary": "The MODEL_IDs /v1/vision/custom/{model_id} runs (CodeProject.AI)", "description": KEY_NOTE,
        "tags": ["deepstack"], "security": KEYED,
        "responses": {"200": {"description": "The models", "content": {"application/json": {"schema": {
            "type": "object", "required": ["success", "models"], "properties": {
                "success": {"const": True}, "models": {"type": "array", "items": {"type": "string"}}}}}}},
            **errors(DEEPSTACK_ERROR, "401", "429", "503")}}},
    "/v1/vision/custom/{model_id}": deepstack_op(
        "Detect with a named model (DeepStack / CodeProject.AI dialect)",
        [path_param("model_id", "A served MODEL_ID that finds boxes")]),
    **{f"{prefix}/{route}": status_op(summary) for prefix in ("/v1/status", "/v1/server/status")
       for route, summary in (("ping", "Alive, with the version (CodeProject.AI)"),
                              ("version", "The version (CodeProject.AI)"),
                              ("updateavailable", "Whether an update is available: never, a device updates "
                                                  "through its package (CodeProject.AI)"))},
    "/detectors": {"get": {
        "summary": "The detectors: `default` and each model that finds boxes (DOODS dialect)", "tags": ["doods"],
        "security": DOODS_KEYED,
        "responses": {"200": {"description": "The detectors", "content": {"application/json": {
            "schema": DETECTORS_ANSWER}}}, **errors(DOODS_ERROR, "401", "429", "503")}}},
    "/detect": {"post": {
        "summary": "Detect (DOODS dialect)", "tags": ["doods"], "security": DOODS_KEYED,
        "requestBody": {"required": True, "content": {"application/json": {"schema": DETECT_REQUEST}}},
        "responses": {"200": {"description": "The detections, best first", "content": {"application/json": {
            "schema": {"type": "object", "required": ["detections"], "properties": {
                "id": {"type": "string"}, "detections": {"type": "array", "items": DETECTION},
                "duration": {"type": "number", "description": "Milliseconds"}}}}}},
            **errors(DOODS_ERROR, *PREDICT_ERRORS)}}},
}
