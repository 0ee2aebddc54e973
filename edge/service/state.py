"""The daemon's state: what a reload replaces (``Serving``, immutable, swapped in one assignment) and
what lives as long as the process (readiness, requests pending, start time).

Handlers read ``state.serving`` once per request and keep that object: they never see half a reload,
and requests in flight finish on the models they started with. Every change of the served models (a
reload, an upload, a delete) holds ``state.changes``, so they happen one at a time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from edge import errors
from edge.config.settings import Config
from edge.inference.engine import Engine
from edge.inference.model_set import ModelSet
from edge.inference.predictor import Predictor
from edge.service.keys import KeyRing


@dataclass(frozen=True)
class Serving:
    """Everything a reload changes, as one value: the config it was read from, the API keys, the
    engine, the compiled models and the predictor that runs them; ``admin_keys`` is None when model
    management is off."""

    config: Config
    keys: KeyRing
    engine: Engine
    models: ModelSet
    predictor: Predictor
    admin_keys: KeyRing | None = None


class ServiceState:
    """One per daemon. ``boot_config`` and ``boot_keys`` are what the process started with: settings
    bound at start (socket, body limit, rate limit, cameras) are read from ``boot_config``; everything
    else from ``serving.config``, which a reload replaces."""

    def __init__(self, boot_config: Config, boot_keys: KeyRing) -> None:
        self.boot_config = boot_config
        self.boot_keys = boot_keys
        self._serving: Serving | None = None
        self.ready = False
        self.pending = 0  # requests admitted and not yet answered
        self.started_at = time.monotonic()
        self.changes = asyncio.Lock()  # held by every change of the served models: one at a time
        # Models no longer served whose requests may still be running; the watchdog checks them too.
        self.retired: list[ModelSet] = []

    @property
    def started(self) -> bool:
        return self._serving is not None

    @property
    def serving(self) -> Serving:
        """The current models, keys and config; raises NotReady before the first set is compiled."""
        if self._serving is None:
            raise errors.NotReady("the device is starting; retry shortly", retry_after=2)
        return self._serving

    def model_sets(self) -> list[ModelSet]:
        """The served models (none while the first set compiles) and the retired sets still finishing
        requests: every model an inference may be running on."""
        current = [self._serving.models] if self._serving is not None else []
        return current + self.retired

    def inferences_in_flight(self) -> int:
        """Inferences running on OpenVINO's threads, in every set of ``model_sets``."""
        return sum(m.pool.in_flight for s in self.model_sets() for m in s.models.values())

    def swap(self, serving: Serving) -> Serving | None:
        """Serve ``serving`` from now on (one assignment); return the set it replaces. The models it no
        longer serves go to ``retired`` until their last request ends."""
        retired, self._serving = self._serving, serving
        if retired is not None:
            kept = serving.models.models
            gone = {k: m for k, m in retired.models.models.items() if kept.get(k) is not m}
            if gone:
                self.retired.append(ModelSet(gone))
        return retired
