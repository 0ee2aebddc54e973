"""Uploading, replacing and deleting a model while the daemon serves (``PUT``/``DELETE /v1/models/{id}``).

An upload is received into a staging folder inside ``models.dir``, unpacked without trusting it
(``bundle_archive``), read (``metadata.yaml``) and then, holding ``state.changes`` (one change at a
time, and never during a SIGHUP reload), compiled and warmed on the serving engine. Only then is it put
in place on disk in one rename (``model_store.install``) and served by swapping in a new ``Serving``
whose model set has it added or replaced. Requests in flight keep the ``Serving`` they read and finish
on the old model, which ``ServiceState.swap`` hands to the watchdog's retired list. Any failure before
that rename leaves the served models and the models folder exactly as they were.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    DeviceError,
    InvalidModel,
    ModelError,
    PayloadTooLarge,
)
from edge.inference.engine import LoadedModel
from edge.inference.model_set import ModelSet, check_detect_model
from edge.inference.repository import MODEL_ID, ModelSpec, read_model_folder
from edge.service.bundle_archive import Limits, unpack
from edge.service.model_store import (
    discard,
    folder_info,
    install,
    new_staging,
    remove,
    storage_error,
    write_upload_info,
)
from edge.service.state import ServiceState

logger = logging.getLogger(__name__)

MB = 1 << 20
WRITE_EVERY = MB  # body bytes gathered before one write, off the loop


@dataclass(frozen=True)
class Received:
    path: Path
    size: int
    sha256: str


def check_model_id(model_id: str) -> None:
    if not MODEL_ID.match(model_id):
        raise BadRequest(f"MODEL_ID {model_id[:40]!r} is not usable as a folder name: letters, digits, '.', '_' "
                         "and '-', starting with a letter or digit, at most 128 characters")


def limits_of(state: ServiceState) -> Limits:
    models = state.serving.config.models
    return Limits(max_file=int(models.upload_max_file_mb * MB), max_total=int(models.upload_max_mb * MB))


async def receive(chunks: AsyncIterator[bytes], path: Path, limit: int) -> Received:
    """Write the body to ``path`` (hashing it) and stop at ``limit`` bytes with PayloadTooLarge."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray()
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the bundle is larger than this device accepts ({limit / MB:g} MB, "
                                          "models.upload_max_mb)")
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= WRITE_EVERY:
                    await asyncio.to_thread(out.write, bytes(buffer))
                    buffer.clear()
            await asyncio.to_thread(out.write, bytes(buffer))
    except OSError as exc:
        raise storage_error(exc, "cannot store the upload") from None
    if size == 0:
        raise BadRequest("the request body is empty: send the bundle archive as the body")
    return Received(path, size, digest.hexdigest())


def unpack_and_read(received: Received, staging: Path, model_id: str, limits: Limits) -> ModelSpec:
    """Blocking: unpack into ``staging/unpacked`` and read its metadata; InvalidModel when unusable."""
    dest = staging / "unpacked"
    dest.mkdir()
    try:
        folder = unpack(received.path, dest, limits)
    except OSError as exc:
        raise storage_error(exc, "cannot unpack the upload") from None
    try:
        return read_model_folder(folder, model_id)
    except ModelError as exc:
        raise InvalidModel(_relative(str(exc), folder)) from None


async def upload_model(state: ServiceState, model_id: str, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
    """Receive, check, compile and serve ``model_id`` from a bundle archive; the model's description."""
    check_model_id(model_id)
    models_dir = state.serving.config.models.dir
    limits = limits_of(state)
    started = time.perf_counter()
    staging = await asyncio.to_thread(new_staging, models_dir, model_id)
    try:
        received = await receive(chunks, staging / "bundle", limits.max_total)
        received_at = time.perf_counter()
        spec = await asyncio.to_thread(unpack_and_read, received, staging, model_id, limits)
        unpacked_at = time.perf_counter()
        async with state.changes:
            locked_at = time.perf_counter()
            loaded, previous = await _swap_in(state, spec, staging, received)
        done = time.perf_counter()
    finally:
        await asyncio.to_thread(discard, staging)
    timings = {"receive": received_at - started, "unpack": unpacked_at - received_at,
               "wait": locked_at - unpacked_at, "compile_and_swap": done - locked_at, "total": done - started}
    logger.info("model %s %s: %s %s, %d bytes, sha256 %s, serving after %.2f s", model_id,
                "replaced" if previous else "added", loaded.spec.task, loaded.precision, received.size,
                received.sha256[:16], timings["total"])
    info = await asyncio.to_thread(folder_info, loaded.spec.folder)
    return {**describe(loaded, info, report=False), "action": "replaced" if previous else "added",
            "seconds": {k: round(v, 3) for k, v in timings.items()}}


async def _swap_in(state: ServiceState, spec: ModelSpec, staging: Path,
                   received: Received) -> tuple[LoadedModel, LoadedModel | None]:
    """Holding ``state.changes``: compile and warm, put in place, serve. Returns (new, replaced)."""
    serving = state.serving
    models_dir = serving.config.models.dir
    if staging.parent != models_dir:
        raise Conflict("models.dir changed (a reload) while the bundle was received; send it again")
    try:
        loaded = await asyncio.to_thread(serving.engine.load, spec)
    except (ModelError, DeviceError) as exc:
        raise InvalidModel(f"the model does not load on {serving.engine.device}: "
                           f"{_relative(str(exc), spec.folder)}") from None
    model_id = spec.model_id
    previous = serving.models.models.get(model_id)
    models = ModelSet(dict(sorted({**serving.models.models, model_id: loaded}.items())))
    try:
        check_detect_model(models, serving.config)
    except ConfigError as exc:
        raise InvalidModel(str(exc)) from None
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    await asyncio.to_thread(write_upload_info, spec.folder,
                            {"sha256": received.sha256, "bytes": received.size, "uploaded_at": when})
    target = await asyncio.to_thread(install, spec.folder, models_dir, model_id, staging)
    loaded.moved_to(target)
    state.swap(replace(serving, models=models))  # from here on new requests get the new model
    return loaded, previous


async def delete_model(state: ServiceState, model_id: str) -> dict[str, Any]:
    """Stop serving ``model_id`` and remove its folder. Requests in flight on it finish first."""
    async with state.changes:
        serving = state.serving
        serving.models.get(model_id)  # ModelNotFound
        if len(serving.models) == 1:
            raise Conflict(f"model {model_id!r} is the only model served; upload another one first (a daemon with "
                           "no model does not start)")
        if serving.config.dialects.detect_model == model_id:
            raise Conflict(f"model {model_id!r} is dialects.detect_model in the config; point that setting at "
                           "another model (and reload) before deleting it")
        await asyncio.to_thread(remove, serving.config.models.dir, model_id)
        state.swap(replace(serving, models=ModelSet({k: m for k, m in serving.models.models.items()
                                                     if k != model_id})))
    cameras = [c.id for c in state.boot_config.cameras if c.model == model_id]
    warnings = [f"camera {c!r} uses model {model_id!r}: it reports the model missing until one is uploaded "
                "under this MODEL_ID, and the daemon will not start with it missing; upload a model under this "
                f"MODEL_ID or change cameras[{c}].model" for c in cameras]
    for warning in warnings:
        logger.warning("%s", warning)
    logger.info("model %s deleted", model_id)
    return {"id": model_id, "action": "deleted", "warnings": warnings}


async def model_description(state: ServiceState, model_id: str) -> dict[str, Any]:
    """A served model's description with its files, upload record (sha256) and report.json."""
    model = state.serving.models.get(model_id)
    info = await asyncio.to_thread(folder_info, model.spec.folder)
    return describe(model, info, report=True)


def describe(model: LoadedModel, info: dict[str, Any], report: bool) -> dict[str, Any]:
    upload = info["upload"] or {}
    out = {**model.describe(), "bytes": info["bytes"], "files": info["files"], "sha256": upload.get("sha256"),
           "uploaded_at": upload.get("uploaded_at")}
    if report:
        out["report"] = info["report"]
    return out


def _relative(message: str, folder: Path) -> str:
    """A message about the staged copy, without the staging path or OpenVINO's source locations."""
    message = message.replace(f"{folder}: ", "").replace(str(folder) + "/", "").replace(str(folder), "the bundle")
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.startswith("Exception from")]
    return " ".join(lines)[:400]
