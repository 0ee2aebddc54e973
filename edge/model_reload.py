"""Reload: re-read the config and the model repository, compile and warm the new set beside the old one,
then swap it in atomically.

The swap is a handful of attribute assignments with no ``await`` between them, made on the event loop
thread, so a handler sees either the old set or the new one, never a mix. A request looks its model up
once and keeps that object, so requests in flight finish on the model they started on; the old set is
dropped when the last of them ends. Anything that fails before the swap (bad YAML, unknown key, no
API key, a broken model folder, a device that will not compile) raises, and the old set keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from edge.auth import KeyRing, load_keyring
from edge.config import Config
from edge.engine import Engine
from edge.model_set import ModelSet, load_model_set

logger = logging.getLogger(__name__)

# Settings bound when the socket, the application or the camera loops were created: restart to apply.
RESTART_ONLY = ("host", "port", "max_body_mb", "rate_limit_per_key")
RESTART_ONLY_SECTIONS = ("cameras", "mqtt")


class Serving(Protocol):
    """What is swapped: the web app's serving state (``edge.web_app.ServingState``)."""

    config: Config
    keys: KeyRing
    engine: Engine | None
    models: ModelSet


def same_engine(old: Config, new: Config) -> bool:
    a, b = old.models, new.models
    return (a.device, a.cache_dir, a.infer_requests) == (b.device, b.cache_dir, b.infer_requests)


async def reload_models(
    state: Serving,
    read_config: Callable[[], Config],
    progress: Callable[[str], None] | None = None,
) -> ModelSet:
    """Load the new config and model set off the loop, swap them into ``state``; return the retired set.

    Raises ``EdgeError`` (or whatever the engine raised) without touching ``state`` when anything fails.
    """
    config = await asyncio.to_thread(read_config)
    for key in RESTART_ONLY:
        if getattr(config.server, key) != getattr(state.config.server, key):
            logger.warning("reload: server.%s changed to %r; it takes effect at the next restart",
                           key, getattr(config.server, key))
    for section in RESTART_ONLY_SECTIONS:
        if getattr(config, section, None) != getattr(state.config, section, None):
            logger.warning("reload: the %s section changed; it takes effect at the next restart", section)
    keys = load_keyring(config.auth)
    engine = state.engine
    if engine is None or not same_engine(state.config, config):
        logger.info("reload: device or compile settings changed, opening a new %s engine", config.models.device)
        engine = await asyncio.to_thread(Engine, config.models.device, config.models.cache_dir,
                                         config.models.infer_requests)
    models = await asyncio.to_thread(load_model_set, engine, config, progress)

    retired = state.models
    # The swap: no await from here to the return.
    state.config = config
    state.keys = keys
    state.engine = engine
    state.models = models
    logger.info("reload: now serving %s (was %s)", ", ".join(models.models) or "nothing",
                ", ".join(retired.models) or "nothing")
    return retired
