"""Prometheus metrics for one application, and the middleware that records them.

Every application owns its own ``CollectorRegistry`` (``app[METRICS].registry``), so tests can build
several apps in one process. ``GET /metrics`` serves the Prometheus text format. What is exported
(all names start ``yolo_edge_``):

- ``requests_total{endpoint,method,model,status}``: every answer; ``endpoint`` is the route template
  (``/v1/predict/{model_id}``), never the raw path; ``model`` is set only for a model this device serves.
- ``request_duration_seconds{endpoint}``: whole-request latency.
- ``stage_duration_seconds{model,stage}``: per-stage latency of a prediction
  (``decode``, ``preprocess``, ``inference``, ``postprocess``).
- ``requests_in_flight``: HTTP requests being handled; ``predictions_pending``: requests admitted
  and not answered (bounded by ``server.max_pending``).
- ``requests_rejected_total{reason}``: ``overloaded`` (503 + Retry-After, including "not ready"),
  ``rate_limited`` (429), ``slow_client`` (408), ``too_large`` (413).
- ``auth_failures_total{reason}``: ``missing`` or ``invalid`` key (401).
- ``zmq_requests_total{outcome}``: Frigate's zmq detector requests (``ok``, ``bad_request``, ``overloaded``,
  ``error``), registered by ``edge.http.zmq_detector`` when ``dialects.zmq_endpoint`` is set.
- ``model_compile_seconds{model}``, ``ready``, ``models_loaded``.
- ``model_changes_total{action,outcome}``: model uploads (``action="upload"``: ``added``, ``replaced``,
  ``refused`` with a 4xx, ``failed`` with a 5xx) and deletes (``action="delete"``: ``deleted``, ``refused``,
  ``failed``); ``model_change_duration_seconds{action}``: the time each took, from the request.
- ``camera_fps{camera,direction}`` (``in``: read from the source, ``out``: inferred),
  ``camera_frames_total{camera,kind}`` (``read``, ``inferred``, ``dropped``), ``camera_connected{camera}``,
  ``camera_reconnects_total{camera}``: read at scrape time from each camera's ``status()``.
- ``process_*`` and ``python_info``: the standard process collectors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.http.app_keys import CAMERAS, STATE
from edge.inference.predictor import Timings
from edge.service.state import ServiceState

NS = "yolo_edge"
STAGES = ("decode", "preprocess", "inference", "postprocess")
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CHANGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
REJECT_REASONS = {429: "rate_limited", 408: "slow_client", 413: "too_large"}
MODEL_KEYS = ("model_id", "model", "deployment")  # match_info names that carry a MODEL_ID


class _CameraCollector(Collector):
    """Camera figures read at scrape time from the running camera hub (``app[CAMERAS]``), so the
    camera loop needs no metrics code of its own: each camera's ``status()`` is the source."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterable[Metric]:
        fps = GaugeMetricFamily(f"{NS}_camera_fps", "Frames per second per camera: read from the source (in) "
                                "and inferred (out)", labels=["camera", "direction"])
        frames = CounterMetricFamily(f"{NS}_camera_frames", "Frames per camera: read, inferred, dropped "
                                     "(the reader kept only the newest)", labels=["camera", "kind"])
        connected = GaugeMetricFamily(f"{NS}_camera_connected", "1 while the camera gives fresh frames",
                                      labels=["camera"])
        reconnects = CounterMetricFamily(f"{NS}_camera_reconnects", "Times the camera source reconnected",
                                         labels=["camera"])
        for cam in self._cameras():
            cid = str(cam.get("id", ""))
            fps.add_metric([cid, "in"], float(cam.get("fps_in") or 0.0))
            fps.add_metric([cid, "out"], float(cam.get("fps_out") or 0.0))
            for kind, key in (("read", "frames_in"), ("inferred", "frames_inferred"), ("dropped", "frames_dropped")):
                frames.add_metric([cid, kind], float(cam.get(key) or 0))
            connected.add_metric([cid], 1.0 if cam.get("connected") else 0.0)
            reconnects.add_metric([cid], float(cam.get("reconnects") or 0))
        yield from (fps, frames, connected, reconnects)

    def _cameras(self) -> list[dict[str, Any]]:
        slot = self.app.get(CAMERAS)
        hub = slot.hub if slot is not None else None
        return list(hub.status()) if hub is not None else []


class _StateCollector(Collector):
    """Figures read from the serving state at scrape time (they change on reload)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterable[Metric]:
        compile_s = GaugeMetricFamily(f"{NS}_model_compile_seconds", "Seconds the model took to compile at load",
                                      labels=["model"])
        models = self.state.serving.models.models if self.state.started else {}
        for model_id, model in sorted(models.items()):
            compile_s.add_metric([model_id], float(model.compile_seconds))
        yield compile_s
        yield GaugeMetricFamily(f"{NS}_models_loaded", "Models being served", value=len(models))
        yield GaugeMetricFamily(f"{NS}_ready", "1 when the daemon accepts predictions", value=int(self.state.ready))
        yield GaugeMetricFamily(f"{NS}_predictions_pending", "Requests admitted and not yet answered",
                                value=self.state.pending)
        config = self.state.serving.config if self.state.started else self.state.boot_config
        yield GaugeMetricFamily(f"{NS}_predictions_pending_limit", "server.max_pending",
                                value=config.server.max_pending)


class Metrics:
    """The metric objects of one application, in their own registry."""

    def __init__(self, state: ServiceState, app: web.Application) -> None:
        self.state = state
        self.registry = registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(_StateCollector(state))
        registry.register(_CameraCollector(app))
        self.requests = Counter(f"{NS}_requests", "HTTP answers by route template, model and status",
                                ["endpoint", "method", "model", "status"], registry=registry)
        self.request_seconds = Histogram(f"{NS}_request_duration_seconds", "Whole-request latency by route",
                                         ["endpoint"], buckets=REQUEST_BUCKETS, registry=registry)
        self.stage_seconds = Histogram(f"{NS}_stage_duration_seconds", "Prediction latency per stage",
                                       ["model", "stage"], buckets=STAGE_BUCKETS, registry=registry)
        self.in_flight = Gauge(f"{NS}_requests_in_flight", "HTTP requests being handled", registry=registry)
        self.rejected = Counter(f"{NS}_requests_rejected", "Requests refused to protect the device, by reason",
                                ["reason"], registry=registry)
        self.auth_failures = Counter(f"{NS}_auth_failures", "Requests refused for a missing or invalid API key",
                                     ["reason"], registry=registry)
        for reason in ("overloaded", *REJECT_REASONS.values()):
            self.rejected.labels(reason)
        for reason in ("missing", "invalid"):
            self.auth_failures.labels(reason)
        self.model_changes = Counter(f"{NS}_model_changes", "Model uploads and deletes by outcome",
                                     ["action", "outcome"], registry=registry)
        self.model_change_seconds = Histogram(f"{NS}_model_change_duration_seconds", "Seconds a model upload or "
                                              "delete took, receiving and compiling included", ["action"],
                                              buckets=CHANGE_BUCKETS, registry=registry)

    def observe_stages(self, model_id: str, timings: Timings) -> None:
        """Record one prediction's stage times (``Timings`` holds milliseconds)."""
        for stage in STAGES:
            self.stage_seconds.labels(model_id, stage).observe(getattr(timings, stage) / 1000.0)

    def observe_answer(self, request: web.Request, status: int, headers: Any, seconds: float) -> None:
        route = request.match_info.route
        resource = route.resource if route is not None else None
        endpoint = resource.canonical if resource is not None else "unmatched"
        model = ""
        for key in MODEL_KEYS:
            value = request.match_info.get(key)
            if value is not None:
                model = value if self.state.started and value in self.state.serving.models.models else ""
                break
        self.requests.labels(endpoint, request.method, model, str(status)).inc()
        self.request_seconds.labels(endpoint).observe(seconds)
        if status == 503 and "Retry-After" in headers:
            self.rejected.labels("overloaded").inc()
        elif status in REJECT_REASONS:
            self.rejected.labels(REJECT_REASONS[status]).inc()
        elif status == 401:
            has_key = "x-api-key" in request.headers or "Authorization" in request.headers
            self.auth_failures.labels("invalid" if has_key else "missing").inc()

    def observe_change(self, action: str, outcome: str, seconds: float) -> None:
        """One model upload or delete: ``outcome`` is what it did, or ``refused`` / ``failed``."""
        self.model_changes.labels(action, outcome).inc()
        self.model_change_seconds.labels(action).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_CLOSED = 499  # nginx's "client closed request"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: counts every answer, including the error middleware's."""
    metrics = request.app[METRICS]
    metrics.in_flight.inc()
    started = time.perf_counter()
    status: int = 500
    headers: Mapping[str, str] = {}
    try:
        response = await handler(request)
        status, headers = response.status, response.headers
        return response
    except web.HTTPException as exc:
        status, headers = exc.status, exc.headers
        raise
    except (asyncio.CancelledError, ConnectionError):
        status = CLIENT_CLOSED  # the client went away mid-request: nobody got an answer, not a 500
        raise
    finally:
        metrics.in_flight.dec()
        metrics.observe_answer(request, status, headers, time.perf_counter() - started)


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics: the Prometheus text format."""
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install_metrics(app: web.Application) -> Metrics:
    """Create the app's registry, put the middleware outermost and add ``GET /metrics``."""
    metrics = Metrics(app[STATE], app)
    app[METRICS] = metrics
    app.middlewares.insert(0, metrics_middleware)
    app.router.add_get("/metrics", metrics_handler)
    return metrics
