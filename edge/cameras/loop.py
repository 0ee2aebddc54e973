"""The inference loop of one camera: an asyncio task on the shared engine.

Each tick takes the newest frame the reader thread holds (``CameraSource.take``; frames that
arrived in between were dropped there, never queued), looks the model up again (so a reload swaps
it between two frames), runs ``Predictor.predict_image`` and keeps the result in memory. Ticks
follow ``fps``/``interval_s``; when inference is slower than that, the loop runs back to back.
Predict requests in flight go first: a tick waits for them (bounded), so cameras use the time the
API leaves free. A camera with ``track:`` runs each result through its tracker, lines and zones
(``edge.analytics.camera_analytics``) before keeping it: ``latest`` then holds the tracked result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from edge.analytics.camera_analytics import CameraAnalytics
from edge.cameras.annotate import annotate
from edge.cameras.events import EventSink
from edge.cameras.snapshot_store import encode_jpeg
from edge.cameras.source import CameraSource, Frame
from edge.config.cameras import CameraConfig, resolve_classes
from edge.config.redact import redact_text, redact_url
from edge.errors import BadRequest, ConfigError, EdgeError
from edge.inference.engine import LoadedModel
from edge.inference.model_set import ModelSet
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.inference.predictor import Predictor, Timings

logger = logging.getLogger(__name__)

POLL_S = 0.02  # how often to look for a frame when the newest one was already inferred


class Models(Protocol):
    """What the loop needs of the models being served (``edge.service.state.Serving`` has it)."""

    @property
    def models(self) -> ModelSet: ...

    @property
    def predictor(self) -> Predictor: ...


class Daemon(Protocol):
    """What the loop needs of the daemon (``edge.service.state.ServiceState`` has it): the models
    served now, read once per frame so a reload swaps them between two frames, and the number of
    HTTP requests admitted and not yet answered."""

    @property
    def serving(self) -> Models: ...

    pending: int


@dataclass(frozen=True)
class CameraResult:
    """The latest inference of a camera; ``prediction`` (tracked when the camera tracks) is in
    ``frame.image`` pixels."""

    frame: Frame
    prediction: Prediction
    names: dict[int, str]
    model_id: str
    timings: Timings
    time: float  # epoch seconds when inference finished
    shapes: tuple[tuple[str, list[tuple[float, float]], str], ...] = ()  # lines and zones to draw (annotate)


class CameraLoop:
    def __init__(self, config: CameraConfig, daemon: Daemon, source: CameraSource, events: EventSink) -> None:
        self.config = config
        self.daemon = daemon
        self.source = source
        self.events = events
        self.analytics = CameraAnalytics(config)
        self.latest: CameraResult | None = None
        self.frames_inferred = 0
        self.last_error: str | None = None
        self._options: tuple[LoadedModel, PredictOptions, frozenset[int]] | None = None
        self._fps_out = 0.0
        self._window = (time.monotonic(), 0)
        self._changed = asyncio.Event()
        self._jpeg_cache: tuple[int, bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._counts_write: asyncio.Future[None] | None = None  # one write of the counts file at a time

    def options_for(self, model: LoadedModel) -> tuple[PredictOptions, frozenset[int]]:
        """Predict options and event classes for ``model``; ConfigError when the camera does not fit it."""
        if self._options is not None and self._options[0] is model:
            return self._options[1], self._options[2]
        where = f"cameras[{self.config.id}]"
        cfg = self.config
        if cfg.size > model.max_size:
            raise ConfigError(f"{where}.size: {cfg.size} is larger than model {cfg.model!r} can run "
                              f"(at most {model.max_size})")
        names = model.spec.names
        classes = resolve_classes(cfg.classes, names, f"{where}.classes") if cfg.classes is not None else None
        wanted = resolve_classes(cfg.events.classes, names, f"{where}.events.classes")
        self.analytics.check(model.spec.task)
        options = PredictOptions(size=cfg.size, confidence=cfg.detect_confidence, iou=cfg.iou, classes=classes)
        self._options = (model, options, wanted)
        return options, wanted

    def start(self) -> None:
        self.source.start()
        self.events.start()
        if self.analytics.counts:  # counts restored from the counts file show in Home Assistant at once
            self.events.update_analytics(self.analytics.snapshot())
        self._task = asyncio.create_task(self._run(), name=f"camera-{self.config.id}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let an inference in flight finish (cancelling it would leave OpenVINO mid-request), then stop."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.events.stop()
        ev = asyncio.get_running_loop()
        if self._counts_write is not None:  # the last periodic write first: the final one must land last
            await asyncio.gather(self._counts_write, return_exceptions=True)
        snapshot = self.analytics.to_save(time.monotonic(), force=True)
        if snapshot is not None:
            await ev.run_in_executor(None, self.analytics.write, snapshot)
        await ev.run_in_executor(None, self.source.stop)

    async def next_result(self, timeout: float) -> CameraResult | None:
        """Wait for a result newer than now (for streams); None on timeout."""
        changed = self._changed
        try:
            async with asyncio.timeout(timeout):
                await changed.wait()
        except TimeoutError:
            return None
        return self.latest

    def annotated_jpeg(self, result: CameraResult, quality: int = 80) -> bytes:
        """Blocking: ``result``'s frame with its prediction drawn, as JPEG; cached per frame."""
        cached = self._jpeg_cache
        if cached is not None and cached[0] == result.frame.seq:
            return cached[1]
        jpeg = encode_jpeg(annotate(result.frame.image, result.prediction, result.names, result.shapes), quality)
        self._jpeg_cache = (result.frame.seq, jpeg)
        return jpeg

    def status(self) -> dict[str, Any]:
        start, _ = self._window
        latest = self.latest
        return {
            "id": self.config.id, "source": redact_url(self.config.source), "model": self.config.model,
            "interval_s": round(self.config.period_s, 4),
            **self.source.status(),
            "fps_out": round(self._fps_out if time.monotonic() - start < 3 * max(1.0, self.config.period_s)
                             else 0.0, 2),
            "frames_inferred": self.frames_inferred,
            "last_inference_time": latest.time if latest else None,
            "inference_ms": round(latest.timings.inference, 2) if latest else None,
            "inference_error": self.last_error,
            "events": self.events.status(),
        }

    async def _run(self) -> None:
        period = self.config.period_s
        next_due = time.monotonic()
        while not self._stopping.is_set():
            delay = next_due - time.monotonic()
            if delay > 0 and await self._stop_within(delay):
                break
            frame = self.source.take()
            if frame is None:
                await self._stop_within(POLL_S)
                continue
            await self._yield_to_requests(max(period, 1.0))
            started = time.monotonic()
            next_due = max(next_due + period, started)
            try:
                await self._infer(frame)
            except asyncio.CancelledError:
                raise
            except EdgeError as exc:
                self._error(str(exc))
                next_due = max(next_due, time.monotonic() + min(5.0, max(period, 1.0)))
            except Exception as exc:  # keep the camera alive; the log has the trace
                logger.exception("camera %s: inference failed", self.config.id)
                self._error(f"{type(exc).__name__}: {exc}")
                next_due = max(next_due, time.monotonic() + min(5.0, max(period, 1.0)))

    async def _infer(self, frame: Frame) -> None:
        serving = self.daemon.serving
        model = serving.models.get(self.config.model)
        try:
            options, wanted = self.options_for(model)
        except ConfigError as exc:  # a reload brought a model this camera does not fit
            raise BadRequest(str(exc)) from None
        pred, timings = await serving.predictor.predict_image(model, frame.image, options)
        names = model.spec.names
        pred, happened = self.analytics.step(pred, names, frame.time)  # under a millisecond (bench/tracking_bench.py)
        result = CameraResult(frame, pred, names, model.spec.model_id, timings, time.time(),
                              tuple(self.analytics.shapes()))
        self.latest = result
        self.frames_inferred += 1
        self.last_error = None
        now = time.monotonic()
        start, count = self._window
        if now - start >= max(1.0, 2 * self.config.period_s):
            self._fps_out = (self.frames_inferred - count) / (now - start)
            self._window = (now, self.frames_inferred)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        await self.events.handle(frame.image, frame.time, pred, names, model.spec.model_id, wanted, now)
        if self.analytics.counts:
            counts = self.analytics.snapshot()
            if happened:
                await self.events.handle_analytics(frame.image, frame.time, happened, pred, names,
                                                   model.spec.model_id, counts)
            # every frame, not only with events: occupancy also moves when a track is lost or found again
            # (Home Assistant's state is sent only when it changed)
            self.events.update_analytics(counts)
        if self._counts_write is None or self._counts_write.done():  # else the next frame asks again
            snapshot = self.analytics.to_save(now)
            if snapshot is not None:
                self._counts_write = asyncio.get_running_loop().run_in_executor(None, self.analytics.write, snapshot)

    async def _yield_to_requests(self, at_most: float) -> None:
        """Predict requests go first: while some are in flight, wait (``at_most`` s, so a camera is
        slowed down by a busy API but never starved)."""
        deadline = time.monotonic() + at_most
        while self.daemon.pending > 0 and time.monotonic() < deadline:
            if await self._stop_within(POLL_S / 2):
                return

    async def _stop_within(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less when asked to stop; True when stopping."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass
        return self._stopping.is_set()

    def _error(self, message: str) -> None:
        message = redact_text(message)
        if message != self.last_error:
            logger.warning("camera %s: %s", self.config.id, message)
        self.last_error = message
