"""The OpenAPI paths of model management (``model_routes``): ``GET``, ``PUT`` and ``DELETE
/v1/models/{model_id}``, merged into ``openapi.DOCUMENT``."""

from __future__ import annotations

from edge.http.openapi_schema import KEYED, RETRY_AFTER, Json, path_param

HUB_ERROR: Json = {"type": "object", "required": ["success", "message"],
                   "properties": {"success": {"const": False}, "message": {"type": "string"}}}
MODEL_ERRORS = {
    "400": "The archive is unsafe or unreadable (an absolute path, `..`, a link, a device, a duplicate "
           "member), the body is empty, or the MODEL_ID is not a usable folder name",
    "401": "The key is missing or is neither an admin key nor (for GET) an API key of this device",
    "403": "Model management is off (no admin key configured), or the key may predict but not manage models",
    "404": "No model of that MODEL_ID is served here",
    "405": "The route exists but not for this method",
    "408": "No part of the body arrived within `server.body_timeout_s`",
    "409": "Deleting it would leave no model, or it is `dialects.detect_model`",
    "413": "The archive, one file in it or its unpacked total exceeds `models.upload_max_mb` / "
           "`models.upload_max_file_mb`",
    "415": "The body is not a tar, tar.gz or zip archive",
    "422": "The bundle holds no model this device can serve: .xml, .bin or metadata.yaml missing or unreadable, "
           "or OpenVINO cannot read or compile it",
    "429": "This key sent more than `server.rate_limit_per_key` requests per second",
    "503": "The device is starting or stopping; retry after `Retry-After` seconds",
    "507": "models.dir cannot be written (permissions or no space left)",
}
DESCRIPTION: Json = {
    "type": "object", "required": ["id", "task", "classes", "precision", "device"],
    "properties": {
        "id": {"type": "string"}, "task": {"type": "string"}, "classes": {"type": "object"},
        "imgsz": {"type": "array", "items": {"type": "integer"}}, "dynamic": {"type": "boolean"},
        "precision": {"type": "string"}, "device": {"type": "string"}, "stride": {"type": "integer"},
        "shapes": {"type": "string", "enum": ["square", "minimal"],
                   "description": "minimal: each image runs at its stride-padded rectangle (`models.shapes`)"},
        "compiled_shapes": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
                            "description": "(h, w) input shapes compiled so far, when compiled one per shape"},
        "bytes": {"type": "integer", "description": "Size of the model's files on the device"},
        "files": {"type": "object", "additionalProperties": {"type": "integer"}},
        "sha256": {"type": ["string", "null"], "description": "SHA-256 of the uploaded bundle archive"},
        "uploaded_at": {"type": ["string", "null"]},
        "action": {"type": "string", "enum": ["added", "replaced"]},
        "seconds": {"type": "object", "description": "Time per step of the upload"},
        "report": {"description": "The bundle's report.json (yolo-edge-convert), or null"},
    },
}
DELETED: Json = {"type": "object", "required": ["id", "action", "warnings"], "properties": {
    "id": {"type": "string"}, "action": {"const": "deleted"},
    "warnings": {"type": "array", "items": {"type": "string"}}}}
ARCHIVE: Json = {"schema": {"type": "string", "format": "binary"}}


def answers(ok: Json, text: str, *codes: str) -> Json:
    out: Json = {"200": {"description": text, "content": {"application/json": {"schema": {
        "type": "object", "required": ["success", "data"], "properties": {"success": {"const": True}, "data": ok}}}}}}
    for code in codes:
        out[code] = {"description": MODEL_ERRORS[code], "content": {"application/json": {"schema": HUB_ERROR}}}
        if code in ("429", "503"):
            out[code]["headers"] = RETRY_AFTER
    return out


ADMIN = "Needs an admin key (`auth.admin_keys_file`), sent like an API key. See README, \"Models over the API\"."
MODEL_PATHS: Json = {
    "/v1/models/{model_id}": {
        "get": {
            "summary": "One served model: description, files, upload record and report.json", "tags": ["models"],
            "security": KEYED, "parameters": [path_param("model_id", "A MODEL_ID served here")],
            "responses": answers(DESCRIPTION, "The model", "401", "404", "429", "503"),
        },
        "put": {
            "summary": "Upload a model bundle (added, or replacing the model of that MODEL_ID)", "tags": ["models"],
            "description": ADMIN + " The body is a tar, tar.gz or zip of an Ultralytics OpenVINO export folder or a "
                           "yolo-edge-convert bundle, files at the top or inside one folder. It is checked, compiled "
                           "and warmed before it replaces anything; requests in flight finish on the old model.",
            "security": KEYED,
            "parameters": [path_param("model_id", "The MODEL_ID to serve it as (letters, digits, '.', '_', '-')")],
            "requestBody": {"required": True, "content": {t: ARCHIVE for t in (
                "application/octet-stream", "application/x-tar", "application/gzip", "application/zip")}},
            "responses": answers(DESCRIPTION, "The model, now served", "400", "401", "403", "408", "413", "415",
                                 "422", "429", "503", "507"),
        },
        "delete": {
            "summary": "Stop serving a model and remove its folder", "tags": ["models"], "description": ADMIN,
            "security": KEYED, "parameters": [path_param("model_id", "A MODEL_ID served here")],
            "responses": answers(DELETED, "Deleted", "401", "403", "404", "409", "429", "503", "507"),
        },
    },
}
