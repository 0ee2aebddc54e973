"""The application factory: ``create_app(config)`` wires the middleware, every dialect's routes and
the start-up that compiles the models before the socket opens."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from edge.config.settings import Config
from edge.http.allowed_hosts import allowed_hosts_middleware
from edge.http.app_keys import LIMITER, STATE
from edge.http.camera_event_routes import add_camera_event_routes
from edge.http.camera_routes import add_camera_routes
from edge.http.console_routes import add_console_routes
from edge.http.deepstack_routes import add_deepstack_routes
from edge.http.doods_routes import add_doods_routes
from edge.http.error_mapping import error_middleware
from edge.http.hub_routes import add_hub_routes
from edge.http.metrics import install_metrics
from edge.http.model_routes import add_model_routes
from edge.http.openapi import openapi_handler
from edge.http.ops_routes import add_ops_routes
from edge.http.platform_routes import add_platform_routes
from edge.http.rate_limit import RateLimiter
from edge.http.zmq_detector import add_zmq_detector
from edge.service.keys import KeyRing, load_keyring
from edge.service.model_store import clean_leftovers
from edge.service.reload import load_serving
from edge.service.state import ServiceState

logger = logging.getLogger(__name__)

INFERENCES_AT_EXIT_WAIT_S = 10.0  # one inference is milliseconds; the watchdog calls 30 s stuck


async def serving_ctx(app: web.Application) -> AsyncIterator[None]:
    """Compile and warm every model before the socket opens; close the executor at the end."""
    state = app[STATE]
    config = state.boot_config
    workers = max(2, len(os.sched_getaffinity(0)))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edge-cpu")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(executor, clean_leftovers, config.models.dir)  # of uploads a crash interrupted
    serving = await loop.run_in_executor(executor, load_serving, config, state.boot_keys, executor)
    state.swap(serving)
    state.ready = True
    logger.info("ready: %s on %s", ", ".join(f"{m} ({s.spec.task})" for m, s in serving.models.models.items()),
                config.models.device)
    yield
    state.ready = False
    await inferences_finished(state, INFERENCES_AT_EXIT_WAIT_S)
    executor.shutdown(wait=False, cancel_futures=True)


async def inferences_finished(state: ServiceState, timeout: float) -> None:
    """Wait (at most ``timeout`` s) for the inferences of requests the stop cancelled: they run on, and
    one whose completion reaches Python while the interpreter shuts down aborts the process (SIGABRT,
    "FATAL: exception not rethrown") instead of exiting 0."""
    deadline = time.monotonic() + timeout
    while state.inferences_in_flight() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if state.inferences_in_flight():
        logger.error("stopping with %d inferences still running after %.0f s", state.inferences_in_flight(), timeout)


def create_app(config: Config, keys: KeyRing | None = None) -> web.Application:
    """The daemon's application. Models are compiled during startup (``cleanup_ctx``)."""
    app = web.Application(middlewares=[error_middleware, allowed_hosts_middleware],  # Host checked inside
                          client_max_size=int(config.server.max_body_mb * 1024 * 1024))
    app[STATE] = ServiceState(config, keys if keys is not None else load_keyring(config.auth))
    app[LIMITER] = RateLimiter(config.server.rate_limit_per_key)
    app.cleanup_ctx.append(serving_ctx)
    install_metrics(app)  # GET /metrics; its middleware goes outermost
    add_ops_routes(app)
    add_hub_routes(app)
    add_model_routes(app)
    add_platform_routes(app)
    add_deepstack_routes(app)
    add_doods_routes(app)
    add_camera_routes(app)  # after serving_ctx: the cameras start once the models are ready
    add_camera_event_routes(app)
    add_zmq_detector(app)  # Frigate's zmq detector, when dialects.zmq_endpoint is set; also after serving_ctx
    app.router.add_get("/openapi.json", openapi_handler)
    add_console_routes(app)  # GET / and /console/*: the web page, no key needed to load it
    return app
