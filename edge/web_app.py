"""The aiohttp application: routes, auth, admission and the error middleware.

This is the only module that knows HTTP status codes. Handlers raise ``edge.errors`` exceptions;
``error_middleware`` turns each class into its status and the ``{"success": false, "message"}``
envelope.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from edge import errors
from edge.auth import KeyRing, load_keyring
from edge.config import Config
from edge.engine import Engine, LoadedModel
from edge.model_set import ModelSet, load_model_set
from edge.predict_form import HUB_FIELDS, parse_options, single
from edge.predictor import Predictor, Timings
from edge.prediction import Prediction
from edge.summary import summarize
from edge.url_fetch import fetch_image
from edge.web_multipart import read_multipart
from edge.metrics import Metrics, install_metrics
from edge.openapi import openapi_handler
from edge.rate_limit import RateLimiter

logger = logging.getLogger(__name__)

STATUS: list[tuple[type[errors.EdgeError], int]] = [  # most specific first
    (errors.SlowClient, 408),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.BadRequest, 400),
    (errors.Unauthorized, 401),
    (errors.ModelNotFound, 404),
    (errors.CameraNotFound, 404),
    (errors.RateLimited, 429),
    (errors.Overloaded, 503),
    (errors.DeviceError, 503),
    (errors.ModelError, 500),
    (errors.EdgeError, 500),
]


@dataclass
class ServingState:
    """What the handlers share. ``models`` is replaced whole on reload, never mutated."""

    config: Config
    keys: KeyRing
    engine: Engine | None = None
    predictor: Predictor | None = None
    models: ModelSet = field(default_factory=ModelSet)
    ready: bool = False
    pending: int = 0  # requests admitted and not yet answered
    started_at: float = field(default_factory=time.monotonic)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))  # per-key rates (edge/rate_limit.py)
    metrics: Metrics | None = None  # this app's Prometheus registry (edge/metrics.py)


STATE = web.AppKey("state", ServingState)
# Extra /readyz detail (e.g. camera state): callables returning a dict merged into the body.
READY_DETAIL = web.AppKey("ready_detail", list)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS), status=status,
                        content_type="application/json", headers=headers)


def hub_error_body(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


# A dialect's error envelope (message -> JSON body), set on the request by that dialect's handlers.
ERROR_BODY = web.RequestKey("error_body", Callable[[str], dict[str, Any]])  # type: ignore[arg-type]


def error_body(request: web.Request) -> Callable[[str], dict[str, Any]]:
    return request.get(ERROR_BODY, hub_error_body)


def error_response(exc: errors.EdgeError, body: Callable[[str], dict[str, Any]] = hub_error_body
                   ) -> web.Response:
    status = next(code for cls, code in STATUS if isinstance(exc, cls))
    headers = {}
    if isinstance(exc, errors.Overloaded):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return json_response(body(str(exc)), status, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.EdgeError as exc:
        if isinstance(exc, (errors.ModelError, errors.DeviceError)) or type(exc) is errors.EdgeError:
            logger.error("%s %s: %s", request.method, request.path, exc)
        return error_response(exc, error_body(request))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[STATE].config.server.max_body_mb
        return error_response(errors.PayloadTooLarge(f"the request body is larger than this device accepts "
                                                     f"({limit:g} MB, server.max_body_mb)"),
                              error_body(request))
    except web.HTTPException as exc:
        if exc.status >= 400:
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None  # 405 must name them
            return json_response(error_body(request)(exc.reason), exc.status, allow)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return json_response(error_body(request)("internal error; the daemon log has the details"), 500)


def api_key_of(request: web.Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key is None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
    return key


def require_key(request: web.Request) -> None:
    state = request.app[STATE]
    if not state.keys.check(api_key_of(request)):
        if api_key_of(request):
            raise errors.Unauthorized("the API key is not valid for this device")
        raise errors.Unauthorized("missing API key: send it in the 'x-api-key' header")
    if state.limiter:  # after the key check, so a wrong key cannot drain a good key's bucket
        state.limiter.check(api_key_of(request) or request.remote or "")


class Admission:
    """Bounds the requests waiting or running; past the bound, 503 + Retry-After at once."""

    def __init__(self, state: ServingState) -> None:
        self.state = state

    def __enter__(self) -> None:
        if not self.state.ready:
            raise errors.NotReady("the device is starting, reloading or stopping; retry shortly", retry_after=2)
        if self.state.pending >= self.state.config.server.max_pending:
            raise errors.Overloaded(f"the device is busy ({self.state.pending} requests in progress); retry shortly")
        self.state.pending += 1

    def __exit__(self, *exc: object) -> None:
        self.state.pending -= 1


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MAX_TEXT_FIELD = 64 * 1024  # bytes of one text field, except those in LARGE_TEXT_FIELDS
LARGE_TEXT_FIELDS = frozenset({"source"})  # the Platform's base64 image


async def read_form(request: web.Request) -> Any:
    """The whole multipart or urlencoded body, within the body timeout and size cap."""
    timeout = request.app[STATE].config.server.body_timeout_s
    if request.content_type not in FORM_TYPES:
        raise errors.UnsupportedMediaType(f"the request body is {request.content_type!r}; send multipart/form-data "
                                          "(or application/x-www-form-urlencoded) with the image as a file field")
    try:
        async with asyncio.timeout(timeout):
            if request.content_type == "multipart/form-data":
                form = await read_multipart(request)  # aiohttp's post() costs ~5x the CPU
            else:
                form = await request.post()
    except TimeoutError:
        raise errors.SlowClient(f"the request body did not arrive within {timeout:g} s") from None
    except (ValueError, AssertionError, LookupError, HttpProcessingError) as exc:  # malformed multipart, charset
        raise errors.BadRequest(f"the form could not be read: {str(exc)[:200]}") from None
    for name, value in form.items():
        if isinstance(value, str) and len(value) > MAX_TEXT_FIELD and name not in LARGE_TEXT_FIELDS:
            raise errors.PayloadTooLarge(f"form field {name[:40]!r} is {len(value)} characters; text fields are "
                                         f"limited to {MAX_TEXT_FIELD // 1024} KB")
    return form


async def image_bytes(form: Any, file_field: str, url_field: str, config: Config) -> bytes:
    """The upload in ``file_field``, or the download of ``url_field``; exactly one of them."""
    files = [v for v in form.getall(file_field, [])]
    url = single(form, url_field)
    if len(files) > 1:
        raise errors.BadRequest(f"send exactly one '{file_field}' file, got {len(files)}")
    if files and url:
        raise errors.BadRequest(f"send either an '{file_field}' file or a '{url_field}', not both")
    if files:
        part = files[0]
        if isinstance(part, str):
            raise errors.BadRequest(f"'{file_field}' must be a file upload (multipart/form-data), not a text field")
        return part.file.read()
    if url:
        return await fetch_image(url, config.url_fetch)
    raise errors.BadRequest(f"no image: send the image as a multipart file field '{file_field}' "
                            f"or give a '{url_field}' field")


async def predict_v1(request: web.Request) -> web.Response:
    """HUB dialect: POST /v1/predict/{model_id}."""
    state = request.app[STATE]
    require_key(request)
    model = state.models.get(request.match_info["model_id"])
    with Admission(state):
        form = await read_form(request)
        options, output = parse_options(form, len(model.spec.names), HUB_FIELDS, min(640, model.max_size))
        top_k = top_k_v1(form)  # validated before inference, not after
        data = await image_bytes(form, "image", "url", state.config)
        pred, _ = await run_prediction(state, model, data, options)
    items = summarize(pred, model.spec.names, output.normalize, output.decimals, top_k=top_k)
    return json_response({"success": True, "message": "Inference complete.", "data": items})


def top_k_v1(form: Any) -> int:
    raw = single(form, "top_k")
    if raw is None:
        return 5
    from edge.predict_form import parse_int
    return parse_int("top_k", raw, 1, 1000)


async def run_prediction(state: ServingState, model: LoadedModel, data: bytes, options: Any
                         ) -> tuple[Prediction, Timings]:
    assert state.predictor is not None
    pred, timings = await state.predictor.predict_bytes(model, data, options)
    if state.metrics is not None:
        state.metrics.observe_stages(model.spec.model_id, timings)
    return pred, timings


async def list_models(request: web.Request) -> web.Response:
    require_key(request)
    state = request.app[STATE]
    return json_response({"success": True, "data": [m.describe() for m in state.models.models.values()]})


async def healthz(request: web.Request) -> web.Response:
    return json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = {"ready": state.ready, "models": sorted(state.models.models)}
    for detail in request.app.get(READY_DETAIL, ()):
        body.update(detail())
    return json_response(body, 200 if state.ready else 503)


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """Compile and warm every model before the socket opens; close the executor at the end."""
    state = app[STATE]
    config = state.config
    workers = max(2, len(os.sched_getaffinity(0)))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edge-cpu")
    loop = asyncio.get_running_loop()
    if state.engine is None:
        state.engine = await loop.run_in_executor(
            executor, lambda: Engine(config.models.device, config.models.cache_dir, config.models.infer_requests))
    state.models = await loop.run_in_executor(executor, load_model_set, state.engine, config)
    state.predictor = Predictor(executor, int(config.server.max_image_mpix * 1e6))
    state.ready = True
    logger.info("ready: %s on %s", ", ".join(f"{m} ({s.spec.task})" for m, s in state.models.models.items()),
                config.models.device)
    yield
    state.ready = False
    executor.shutdown(wait=False, cancel_futures=True)


def create_app(config: Config, keys: KeyRing | None = None) -> web.Application:
    """The daemon's application. Models are compiled during startup (``cleanup_ctx``)."""
    app = web.Application(middlewares=[error_middleware],
                          client_max_size=int(config.server.max_body_mb * 1024 * 1024))
    app[STATE] = ServingState(config=config, keys=keys if keys is not None else load_keyring(config.auth))
    app.cleanup_ctx.append(engine_ctx)
    app.router.add_post("/v1/predict/{model_id}", predict_v1)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    state = app[STATE]
    state.limiter = RateLimiter(config.server.rate_limit_per_key)
    state.metrics = install_metrics(app, state)  # GET /metrics; its middleware goes outermost
    app.router.add_get("/openapi.json", openapi_handler)
    from edge.web_platform import add_platform_routes  # imports this module: import here, not at the top
    add_platform_routes(app)
    app[READY_DETAIL] = []
    from edge.web_cameras import add_camera_routes  # imports this module too
    add_camera_routes(app)
    return app
