"""Frigate's ``zmq`` detector (its ``frigate/detectors/plugins/zmq_ipc.py``), served on
``dialects.zmq_endpoint`` beside the HTTP port, on the same models, predictor, admission and metrics
(docs/integrations.md). Off unless the endpoint is set.

Frigate's REQ socket sends, one request at a time:

- ``[{"model_request": true, "model_name": <basename of its model.path>}]`` at start and after each
  timeout. Answer, one JSON frame: ``{"model_available": true, "model_loaded": true, ...}``. The device
  serves its own compiled model (``dialects.detect_model``) and never asks for Frigate's file; any other
  answer makes Frigate's client return empty results until Frigate restarts.
- ``[{"model_data": true, "model_name"}, <file>]`` (only sent when told the model is missing): refused
  with ``{"model_saved": false, "model_loaded": false, "error"}``, never stored.
- ``[{"shape", "dtype", "model_type"}, <tensor, C order>]``: the region Frigate cut from a frame, resized
  to its model.width x model.height, (1, H, W, 3) u8 in its ``model.input_pixel_format``
  (``dialects.zmq_pixel_format`` here: the header does not say), transposed per ``model.input_tensor``
  (nchw: (1, 3, H, W); hwnc; hwcn) and, per ``model.input_dtype``, float32 in 0-1 (``float``) or 0-255
  (``float_denorm``: told apart by the largest value). ``model_type`` is ignored: the device knows its
  model. Answer: ``[{"shape": [20, 6], "dtype": "float32", "model"}, <(20, 6) float32>]``, rows
  ``[class index, score, y_min, x_min, y_max, x_max]`` with coordinates as 0-1 fractions of the
  tensor's height and width, best first, zero rows after the last: the format of Frigate's own
  detectors. Frigate reads rows until a score below 0.4, so 0.4 is the confidence used.

A request that fails gets the same two frames with ``"error"`` in the header and zero rows, as Frigate's
reference server (frigate-nvr/apple-silicon-detector) answers: Frigate reads no detections for that
frame and its socket stays in step (no timeout, no reconnect). The reason goes to this log, at most once
a minute per kind of error.

ROUTER, not REP: several Frigate detectors (or Frigates) may connect, and their requests run side by side
on the inference pool, bounded by ``server.max_pending`` together with HTTP requests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import zmq
import zmq.asyncio
from aiohttp import web
from prometheus_client import Counter

from edge import errors
from edge.http.app_keys import STATE
from edge.http.metrics import METRICS, NS, Metrics
from edge.http.zmq_frames import CONFIDENCE, ROWS, error_reply, read_header, rows, tensor_image
from edge.inference.engine import LoadedModel
from edge.inference.options import PredictOptions
from edge.inference.predictor import Timings
from edge.service.admission import Admission
from edge.service.state import ServiceState

logger = logging.getLogger(__name__)

CLOSE_LINGER_MS = 200  # replies still queued at stop get this long to leave


def inference_size(model: LoadedModel, h: int, w: int) -> int:
    """A static model runs at its input; a dynamic one at the tensor's own size (no resize), up to its limit."""
    return min(max(h, w), model.max_size) if model.dynamic else model.max_size


class QuietLog:
    """A warning at most once a minute per kind: a misconfigured Frigate sends several frames a second."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.seen: dict[str, tuple[float, int]] = {}

    def warning(self, kind: str, message: str) -> None:
        now = time.monotonic()
        last, skipped = self.seen.get(kind, (-math.inf, 0))
        if now - last < self.every_s:
            self.seen[kind] = (last, skipped + 1)
            return
        self.seen[kind] = (now, 0)
        logger.warning("zmq detector: %s%s", message, f" ({skipped} more like it before this)" if skipped else "")


class ZmqDetector:
    """One ROUTER socket on ``endpoint``; every request is answered in a task of its own."""

    def __init__(self, state: ServiceState, metrics: Metrics, endpoint: str) -> None:
        self.state, self.metrics, self.endpoint = state, metrics, endpoint
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.tasks: set[asyncio.Task[None]] = set()
        self.receiver: asyncio.Task[None] | None = None
        self.quiet = QuietLog()
        self.answers = Counter(f"{NS}_zmq_requests", "Frigate zmq detector requests by outcome",
                               ["outcome"], registry=metrics.registry)

    def start(self) -> None:
        config = self.state.boot_config
        # A peer sending a larger frame is disconnected by ZMQ itself, as HTTP bodies are capped.
        self.socket.setsockopt(zmq.MAXMSGSIZE, int(config.server.max_body_mb * 1024 * 1024))
        self.socket.setsockopt(zmq.IPV6, 1)  # tcp://[::1]:5555 too; IPv4 addresses still work
        path = ipc_path(self.endpoint)
        try:
            if path is not None and path.exists() and not path.is_socket():  # libzmq would delete it
                raise zmq.ZMQError(msg=f"{path} exists and is not a socket; not replacing it")
            self.socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            self.socket.close(linger=0)
            self.context.term()
            where = config.source or "config"
            raise errors.ConfigError(f"{where}: dialects.zmq_endpoint: cannot listen on {self.endpoint}: {exc}") from None
        self.receiver = asyncio.create_task(self.receive(), name="zmq-detector")
        self.receiver.add_done_callback(log_crash)

    async def receive(self) -> None:
        while True:
            frames = await self.socket.recv_multipart()
            cut = frames.index(b"") + 1 if b"" in frames else 1  # REQ's envelope: [identity, b""]
            task = asyncio.create_task(self.answer(frames[:cut], frames[cut:]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def answer(self, envelope: list[bytes], body: list[bytes]) -> None:
        reply = await self.reply(body)
        await self.socket.send_multipart(envelope + reply)

    async def reply(self, body: list[bytes]) -> list[bytes]:
        try:
            header = read_header(body)
            if header.get("model_request"):
                return [orjson.dumps(self.model_status(header.get("model_name")))]
            if header.get("model_data"):
                self.quiet.warning("model_data", "refused a model file sent by Frigate")
                return [orjson.dumps({"model_saved": False, "model_loaded": False, "error": (
                    "yolo-edge serves its own compiled models (models.dir, dialects.detect_model) and does "
                    "not load model files sent to it")})]
            answer = await self.detect(header, body)
            self.answers.labels("ok").inc()
            return answer
        except errors.EdgeError as exc:
            overloaded = isinstance(exc, errors.Overloaded)
            if overloaded:
                self.metrics.rejected.labels("overloaded").inc()
            self.answers.labels("overloaded" if overloaded else "bad_request").inc()
            self.quiet.warning(type(exc).__name__, str(exc))
            return error_reply(str(exc))
        except Exception:  # noqa: BLE001 - a reply must go out, or Frigate's socket waits and resets
            logger.exception("zmq detector: request failed")
            self.answers.labels("error").inc()
            return error_reply("internal error; the yolo-edge log has the details")

    def model_status(self, asked: Any) -> dict[str, Any]:
        serving = self.state.serving
        model = serving.models.default_detector(serving.config.dialects.detect_model)
        served, (h, w) = model.spec.model_id, model.spec.imgsz
        if isinstance(asked, str) and Path(asked).stem != served:
            logger.info("zmq detector: Frigate's model.path names %r; serving %s (dialects.detect_model)",
                        asked[:80], served)
        return {"model_available": True, "model_loaded": True, "model_name": asked,
                "message": f"yolo-edge serves {served} ({model.spec.task}, {w}x{h} input)"}

    async def detect(self, header: dict[str, Any], body: list[bytes]) -> list[bytes]:
        if len(body) != 2:
            raise errors.BadRequest(f"a detect request is 2 frames, [header, tensor]; got {len(body)}")
        with Admission(self.state):
            serving = self.state.serving
            model = serving.models.default_detector(serving.config.dialects.detect_model)
            predictor, timings = serving.predictor, Timings()
            t0 = time.perf_counter()
            image = await asyncio.get_running_loop().run_in_executor(
                predictor.executor, tensor_image, header, body[1], serving.config.dialects.zmq_pixel_format,
                predictor.max_pixels)
            timings.decode = (time.perf_counter() - t0) * 1000  # the tensor read: our "decode" here
            h, w = image.shape[:2]
            options = PredictOptions(size=inference_size(model, h, w), confidence=CONFIDENCE, max_det=ROWS)
            pred, timings = await predictor.predict_image(model, image, options, timings)
        self.metrics.observe_stages(model.spec.model_id, timings)
        head = {"shape": [ROWS, 6], "dtype": "float32", "model": model.spec.model_id}
        return [orjson.dumps(head), rows(pred).tobytes()]

    async def close(self, drain_s: float) -> None:
        """Stop receiving, let answers in flight finish (at most ``drain_s``), close the socket."""
        if self.receiver is not None:
            self.receiver.cancel()
            await asyncio.gather(self.receiver, return_exceptions=True)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=drain_s)
        for task in list(self.tasks):
            task.cancel()
        self.socket.close(linger=CLOSE_LINGER_MS)
        self.context.term()
        path = ipc_path(self.endpoint)
        if path is not None and path.is_socket():  # libzmq leaves the socket file behind
            path.unlink(missing_ok=True)


def ipc_path(endpoint: str) -> Path | None:
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


def log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("zmq detector: the receiver stopped; Frigate's requests go unanswered",
                     exc_info=task.exception())


async def zmq_detector_ctx(app: web.Application) -> AsyncIterator[None]:
    """After ``serving_ctx``: listen once the models are ready; stop before the executor closes."""
    state = app[STATE]
    endpoint = state.boot_config.dialects.zmq_endpoint
    if not endpoint:
        yield
        return
    detector = ZmqDetector(state, app[METRICS], endpoint)
    detector.start()
    logger.info("Frigate's zmq detector protocol on %s", endpoint)
    try:
        yield
    finally:
        await detector.close(state.boot_config.server.drain_timeout_s)


def add_zmq_detector(app: web.Application) -> None:
    app.cleanup_ctx.append(zmq_detector_ctx)
