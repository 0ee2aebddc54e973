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
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson
import zmq
import zmq.asyncio
from aiohttp import web
from prometheus_client import Counter

from edge import errors
from edge.http.app_keys import STATE
from edge.http.metrics import METRICS, NS, Metrics
from edge.inference.engine import LoadedModel
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.inference.predictor import Timings
from edge.service.admission import Admission
from edge.service.state import ServiceState

logger = logging.getLogger(__name__)

ROWS = 20  # Frigate's detector result is (20, 6)
CONFIDENCE = 0.4  # Frigate's detect() stops at the first row below 0.4
MIN_SIDE = 16  # smaller is no image, and keeps the four layouts apart
MAX_HEADER = 64 * 1024
CLOSE_LINGER_MS = 200  # replies still queued at stop get this long to leave
# Frigate's model.input_tensor: the tensor's shape test and the (H, W, 3) view of it.
LAYOUTS: dict[str, tuple[Callable[[list[int]], bool], Callable[[np.ndarray], np.ndarray]]] = {
    "nhwc": (lambda s: s[0] == 1 and s[3] == 3 and min(s[1], s[2]) >= MIN_SIDE, lambda t: t[0]),
    "nchw": (lambda s: s[0] == 1 and s[1] == 3 and min(s[2], s[3]) >= MIN_SIDE, lambda t: t[0].transpose(1, 2, 0)),
    "hwnc": (lambda s: s[2] == 1 and s[3] == 3 and min(s[0], s[1]) >= MIN_SIDE, lambda t: t[:, :, 0, :]),
    "hwcn": (lambda s: s[2] == 3 and s[3] == 1 and min(s[0], s[1]) >= MIN_SIDE, lambda t: t[:, :, :, 0]),
}
DTYPES = {"uint8": np.uint8, "float32": np.float32}  # Frigate's input_dtype int, and float / float_denorm


def tensor_image(header: dict[str, Any], data: bytes, pixel_format: str, max_pixels: int) -> np.ndarray:
    """Frigate's tensor -> (H, W, 3) u8 BGR, the image ``Predictor.predict_image`` takes."""
    shape, dtype = header.get("shape"), header.get("dtype")
    if not (isinstance(shape, list) and len(shape) == 4
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise errors.BadRequest(f"shape must be 4 positive integers, e.g. [1, 320, 320, 3]; got {str(shape)[:80]}")
    if dtype not in DTYPES:
        raise errors.BadRequest(f"dtype must be uint8 (Frigate's input_dtype int) or float32 (float, "
                                f"float_denorm); got {str(dtype)[:40]}")
    view = next((pick for test, pick in LAYOUTS.values() if test(shape)), None)
    if view is None:
        raise errors.BadRequest(f"shape {shape} is not an image tensor as Frigate sends it: (1, H, W, 3) nhwc, "
                                f"(1, 3, H, W) nchw, (H, W, 1, 3) hwnc or (H, W, 3, 1) hwcn, H and W >= {MIN_SIDE}")
    needed = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if len(data) != needed:
        raise errors.BadRequest(f"the tensor has {len(data)} bytes; shape {shape} of {dtype} needs {needed}")
    hwc = view(np.frombuffer(data, DTYPES[dtype]).reshape(shape))
    if hwc.shape[0] * hwc.shape[1] > max_pixels:
        raise errors.PayloadTooLarge(f"the tensor is {hwc.shape[1]}x{hwc.shape[0]}; the limit is "
                                     f"{max_pixels / 1e6:.1f} megapixels (server.max_image_mpix)")
    if hwc.dtype == np.float32:
        hwc = float_pixels(hwc)
    hwc = np.ascontiguousarray(hwc)
    if pixel_format == "rgb":
        return cv2.cvtColor(hwc, cv2.COLOR_RGB2BGR)
    return hwc if hwc.flags.writeable else hwc.copy()  # a view of the received frame is read-only


def float_pixels(x: np.ndarray) -> np.ndarray:
    """0-1 (Frigate's ``float``: u8 / 255) or 0-255 (``float_denorm``) float32 -> u8, exactly the u8
    Frigate started from. An image whose every value is 0 or 1 reads as 0-1 (it is black either way)."""
    if not np.isfinite(x).all():
        raise errors.BadRequest("the float32 tensor holds NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise errors.BadRequest(f"float32 pixels must be 0-1 (input_dtype float) or 0-255 (float_denorm); "
                                f"got {lo:.4g} to {hi:.4g}")
    return np.rint(x * 255.0 if hi <= 1.0 else x).astype(np.uint8)


def rows(pred: Prediction) -> np.ndarray:
    """(20, 6) float32 ``[class, score, y_min, x_min, y_max, x_max]``, coordinates as 0-1 fractions of the
    image, best first (``pred`` is sorted), zero rows after the last."""
    h, w = pred.orig_shape
    out = np.zeros((ROWS, 6), np.float32)
    n = min(ROWS, len(pred))
    boxes = pred.boxes[:n].astype(np.float64)
    out[:n, 0] = pred.classes[:n]
    out[:n, 1] = pred.scores[:n]
    out[:n, 2:] = boxes[:, [1, 0, 3, 2]] / (h, w, h, w)
    return out


def inference_size(model: LoadedModel, h: int, w: int) -> int:
    """A static model runs at its input; a dynamic one at the tensor's own size (no resize), up to its limit."""
    return min(max(h, w), model.max_size) if model.dynamic else model.max_size


def error_reply(message: str) -> list[bytes]:
    """The reference server's error answer: Frigate reads it as a frame with no detections."""
    header = {"shape": [ROWS, 6], "dtype": "float32", "error": message}
    return [orjson.dumps(header), np.zeros((ROWS, 6), np.float32).tobytes()]


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
        try:
            self.socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            self.socket.close(linger=0)
            self.context.term()
            where = config.source or "config"
            raise errors.ConfigError(f"{where}: dialects.zmq_endpoint: cannot listen on {self.endpoint}: {exc}") from None
        self.receiver = asyncio.create_task(self.receive(), name="zmq-detector")

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
        if self.endpoint.startswith("ipc://"):  # libzmq leaves the socket file behind
            path = Path(self.endpoint[len("ipc://"):])
            if path.is_socket():
                path.unlink(missing_ok=True)


def read_header(body: list[bytes]) -> dict[str, Any]:
    if not body or len(body[0]) > MAX_HEADER:
        raise errors.BadRequest("the first frame must be a JSON header of at most 64 KB")
    try:
        header = orjson.loads(body[0])
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict):
        raise errors.BadRequest('the first frame must be a JSON object: {"shape", "dtype", "model_type"} or '
                                '{"model_request": true, "model_name"}')
    return header


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
