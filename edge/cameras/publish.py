"""Getting events off the device: the bounded queue every publisher shares, and the webhook (POST JSON).

A publisher takes messages into a bounded queue without waiting (a camera loop never blocks on the
network); past the bound the oldest message is dropped and counted. One task per publisher sends
in order and retries with exponential backoff: the webhook up to ``max_attempts`` per event, MQTT
(``edge.cameras.mqtt_publisher``) by reconnecting until the message is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson

from edge.config.cameras import WebhookConfig
from edge.config.redact import redact_text, redact_url

logger = logging.getLogger(__name__)

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


class QueuedPublisher:
    """A bounded queue that drops the oldest item when full, and a task draining it."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.sent = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def put(self, item: Any) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            logger.warning("%s: queue full, dropped the oldest message (%d dropped so far)", self.name, self.dropped)
        self.queue.put_nowait(item)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _error(self, message: str) -> None:
        message = redact_text(message)  # a webhook URL's userinfo, ?token= and path never leave
        if message != self.last_error:
            logger.warning("%s: %s", self.name, message)
        self.last_error = message

    async def _run(self) -> None:
        raise NotImplementedError


class WebhookPublisher(QueuedPublisher):
    """POSTs each event (a JSON-able dict) to ``config.url``."""

    def __init__(self, config: WebhookConfig, name: str = "webhook") -> None:
        super().__init__(name, config.queue_size)
        assert config.url is not None
        self.config = config
        self.url: str = config.url
        self.shown_url = redact_url(config.url, keep_path=False)  # for logs and the API

    def status(self) -> dict[str, Any]:
        return {"url": self.shown_url, "queued": self.queue.qsize(), "sent": self.sent, "dropped": self.dropped,
                "last_error": self.last_error}

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "yolo-edge"}) as session:
            while True:
                event = await self.queue.get()
                await self._deliver(session, orjson.dumps(event, option=orjson.OPT_SERIALIZE_NUMPY))

    async def _deliver(self, session: aiohttp.ClientSession, body: bytes) -> None:
        delay = BACKOFF_START_S
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                async with session.post(self.url, data=body, headers={"Content-Type": "application/json"}) as resp:
                    if resp.status < 300:
                        self.sent += 1
                        return
                    self._error(f"{self.shown_url} answered HTTP {resp.status}")  # once, not per attempt
                    if 400 <= resp.status < 500 and resp.status not in (408, 429):
                        break  # the receiver will not change its mind
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self._error(f"{self.shown_url}: {type(exc).__name__}: "
                            f"{str(exc).replace(self.url, self.shown_url)}")
            if attempt < self.config.max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        self.dropped += 1
        logger.warning("%s: gave up on an event after %d attempts", self.name, attempt)
