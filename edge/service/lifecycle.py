"""The daemon's life under systemd: start, watchdog, reload (SIGHUP), stop (SIGTERM).

``edge.cli.serve`` drives it in this order::

    life = ServiceLifecycle(state, read_config)
    async with life.starting():     # EXTEND_TIMEOUT_USEC while models compile; SIGHUP is queued
        ...compile, warm, listen...
    life.serving(url)               # READY=1 + STATUS; watchdog pings; SIGHUP reloads
    ...until SIGTERM...
    life.stopping()                 # STOPPING=1, /readyz 503, new requests refused
    ...drain...
    await life.close()

Health, for the watchdog: no inference of a served model (or of a retired set still finishing its
requests), and no image decode, has been running longer than ``stuck_after`` seconds. While unhealthy no ``WATCHDOG=1`` goes
out, so systemd aborts and restarts a daemon that is alive but useless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable

from edge.config.settings import Config
from edge.service.reload import reload_serving
from edge.service.sd_notify import Notifier, run_watchdog, watchdog_interval
from edge.service.state import ServiceState

logger = logging.getLogger(__name__)

# An inference running longer than this is stuck (CPU yolov8n takes ~0.05 s; the slowest NPU/GPU
# first inference after compile is a few seconds). Override: $YOLO_EDGE_STUCK_AFTER_S.
DEFAULT_STUCK_AFTER_S = 20.0
# While models compile: ask systemd for this much more time, this often, for at most this long.
EXTEND_BY_S = 30.0
EXTEND_EVERY_S = 10.0
EXTEND_AT_MOST_S = 30 * 60.0


class ServiceLifecycle:
    """Notify, watchdog, reload and stop for one daemon process. A no-op outside systemd, except
    that SIGHUP still reloads."""

    def __init__(
        self,
        state: ServiceState,
        read_config: Callable[[], Config] | None = None,
        notifier: Notifier | None = None,
        stuck_after: float | None = None,
        extra_checks: Iterable[Callable[[], bool]] = (),
        after_reload: Callable[[Config], None] | None = None,
    ) -> None:
        self.state = state
        self.read_config = read_config
        self.notifier = notifier or Notifier.from_env()
        self.stuck_after = stuck_after or float(os.environ.get("YOLO_EDGE_STUCK_AFTER_S", DEFAULT_STUCK_AFTER_S))
        self.extra_checks = list(extra_checks)
        self.after_reload = after_reload  # e.g. load a renewed TLS certificate
        self.url = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._reload_wanted = asyncio.Event()

    # --- start -----------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def starting(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        interval = watchdog_interval()
        if interval:
            self._spawn(run_watchdog(self.notifier, interval, self.healthy), "watchdog")
        self.notifier.status(f"compiling models on {self.state.boot_config.models.device}")
        extender = asyncio.create_task(self._extend_while("compiling models"))
        try:
            yield
        except BaseException as exc:
            self.notifier.status(f"failed to start: {exc}")
            await self.close()
            raise
        finally:
            extender.cancel()

    def serving(self, url: str) -> None:
        """The socket listens and every model is compiled and warmed: READY=1."""
        self.url = url
        self.notifier.ready(self.describe())
        logger.info("ready: %s", self.describe())
        self._spawn(self._reload_loop(), "reload")

    # --- health ------------------------------------------------------------------------------------
    def healthy(self) -> bool:
        """False when an inference has been running longer than ``stuck_after`` or a check fails."""
        retired = self.state.retired
        retired[:] = [s for s in retired if any(m.pool.in_flight for m in s.models.values())]
        for model_set in self.state.model_sets():
            for model_id, model in model_set.models.items():
                age = model.pool.oldest_age()
                if age > self.stuck_after:
                    logger.error("watchdog: an inference on %s has run for %.1f s (bound %.1f s)",
                                 model_id, age, self.stuck_after)
                    return False
        decode_age = self.state.serving.predictor.lanes.oldest_age() if self.state.started else 0.0
        if decode_age > self.stuck_after:  # decodes are bounded by construction; past this, stuck
            logger.error("watchdog: an image decode has run for %.1f s (bound %.1f s)", decode_age, self.stuck_after)
            return False
        return all(check() for check in self.extra_checks)

    # --- reload ------------------------------------------------------------------------------------
    def request_reload(self) -> None:
        logger.info("SIGHUP: reload requested")
        self._reload_wanted.set()

    async def _reload_loop(self) -> None:
        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()  # a SIGHUP during this reload queues exactly one more
            await self.reload()

    async def reload(self) -> bool:
        """Reload config and models beside the running set; True when the new set serves."""
        if self.read_config is None:
            logger.warning("reload: no config source to re-read; ignored")
            return False
        self.notifier.reloading("reloading config and models")
        extender = asyncio.create_task(self._extend_while("reloading: compiling models"))
        try:
            await reload_serving(self.state, self.read_config, self._progress)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old set serving
            logger.error("reload failed, still serving the previous set: %s", exc)
            self.notifier.ready(f"reload failed ({exc}); " + self.describe())
            return False
        finally:
            extender.cancel()
        if self.after_reload is not None:
            self.after_reload(self.state.serving.config)
        self.notifier.ready(self.describe())
        return True

    # --- stop --------------------------------------------------------------------------------------
    def stopping(self) -> None:
        """STOPPING=1; /readyz turns 503 and new requests are refused while in-flight ones finish."""
        self.state.ready = False
        self.notifier.stopping(f"stopping: finishing {self.state.pending} requests in flight")

    async def close(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.notifier.close()

    # --- helpers -----------------------------------------------------------------------------------
    def describe(self) -> str:
        serving = self.state.serving
        models = ", ".join(f"{m} ({lm.spec.task}, {lm.precision})" for m, lm in serving.models.models.items())
        return f"serving {models or 'no model'} on {serving.config.models.device} at {self.url}"

    def _progress(self, message: str) -> None:
        self.notifier.status(message)  # called from the compile thread; one datagram, thread-safe

    async def _extend_while(self, what: str) -> None:
        start = time.monotonic()
        while time.monotonic() - start < EXTEND_AT_MOST_S:
            self.notifier.extend_timeout(EXTEND_BY_S)
            await asyncio.sleep(EXTEND_EVERY_S)
        logger.error("%s for more than %.0f s; no longer extending the systemd timeout", what, EXTEND_AT_MOST_S)

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"lifecycle-{name}")  # type: ignore[arg-type]
        task.add_done_callback(_log_crash)
        self._tasks.append(task)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s crashed", task.get_name(), exc_info=task.exception())
