"""Loading what the daemon serves: at start, and again on reload (SIGHUP).

A reload re-reads the config and the model repository, compiles and warms the new set beside the old
one, then swaps it in with one assignment (``ServiceState.swap``). A request keeps the ``Serving`` it
looked up, so requests in flight finish on the model they started on; the old set is dropped when the
last of them ends. Anything that fails before the swap (bad YAML, unknown key, no API key, a broken
model folder, a device that will not compile) raises, and the old set keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

from edge.config.settings import Config
from edge.inference.decode_lanes import DecodeLanes
from edge.inference.engine import Engine
from edge.inference.model_set import load_model_set
from edge.inference.predictor import Predictor
from edge.service.keys import KeyRing, load_admin_keyring, load_keyring
from edge.service.state import ServiceState, Serving

logger = logging.getLogger(__name__)

# Settings bound when the socket, the application or the camera loops were created: restart to apply.
RESTART_ONLY = ("host", "port", "max_body_mb", "rate_limit_per_key", "max_connections", "idle_timeout_s")
RESTART_ONLY_SECTIONS = ("cameras", "mqtt")


def same_engine(old: Config, new: Config) -> bool:
    a, b = old.models, new.models
    # every models.* setting Engine.from_config reads: a reload that changes one needs a new engine
    return (a.device, a.cache_dir, a.infer_requests, a.cpu_precision, a.shapes, a.max_shapes) == \
        (b.device, b.cache_dir, b.infer_requests, b.cpu_precision, b.shapes, b.max_shapes)


def load_serving(config: Config, keys: KeyRing, executor: Executor, engine: Engine | None = None,
                 progress: Callable[[str], None] | None = None, lanes: DecodeLanes | None = None) -> Serving:
    """Blocking: open ``engine`` unless given, compile and warm every model of ``models.dir``.
    ``lanes``: the running daemon's decode lanes, so a reload keeps one bound on heavy decodes."""
    admin_keys = load_admin_keyring(config.auth)
    if engine is None:
        engine = Engine.from_config(config.models)
    models = load_model_set(engine, config, progress)
    return Serving(config, keys, engine, models, Predictor(executor, int(config.server.max_image_mpix * 1e6),
                                                                 lanes), admin_keys)


async def reload_serving(state: ServiceState, read_config: Callable[[], Config],
                         progress: Callable[[str], None] | None = None) -> Serving:
    """Load the new config and model set off the loop and swap them into ``state``; return the retired
    ``Serving``. Raises ``EdgeError`` (or whatever the engine raised) without touching ``state``. Waits
    for a model upload or delete in progress (``state.changes``): the reload then sees its result."""
    async with state.changes:
        return await _reload(state, read_config, progress)


async def _reload(state: ServiceState, read_config: Callable[[], Config],
                  progress: Callable[[str], None] | None) -> Serving:
    old = state.serving
    config = await asyncio.to_thread(read_config)
    for key in RESTART_ONLY:
        if getattr(config.server, key) != getattr(old.config.server, key):
            logger.warning("reload: server.%s changed to %r; it takes effect at the next restart",
                           key, getattr(config.server, key))
    for section in RESTART_ONLY_SECTIONS:
        if getattr(config, section, None) != getattr(old.config, section, None):
            logger.warning("reload: the %s section changed; it takes effect at the next restart", section)
    if config.dialects.zmq_endpoint != old.config.dialects.zmq_endpoint:
        logger.warning("reload: dialects.zmq_endpoint changed to %r; it takes effect at the next restart",
                       config.dialects.zmq_endpoint)
    keys = load_keyring(config.auth)
    engine: Engine | None = old.engine
    if not same_engine(old.config, config):
        logger.info("reload: device or compile settings changed, opening a new %s engine", config.models.device)
        engine = None
    new = await asyncio.to_thread(load_serving, config, keys, old.predictor.executor, engine, progress,
                                  old.predictor.lanes)
    state.swap(new)
    logger.info("reload: now serving %s (was %s)", ", ".join(new.models.models) or "nothing",
                ", ".join(old.models.models) or "nothing")
    return old
