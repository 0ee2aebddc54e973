"""Getting events off the device: a webhook (POST JSON) and an MQTT broker.

Both take messages into a bounded queue without waiting (a camera loop never blocks on the
network); past the bound the oldest message is dropped and counted. One task per publisher sends
in order and retries with exponential backoff: the webhook up to ``max_attempts`` per event, MQTT
by reconnecting until the message is acknowledged.

MQTT topics (``{p}`` = ``mqtt.topic_prefix``, in the spirit of Frigate's):

- ``{p}/available``: ``online`` / ``offline`` (retained; ``offline`` is the last will)
- ``{p}/events``: every event as JSON
- ``{p}/{camera}/{class}``: the latest event with that class (retained JSON)
- ``{p}/{camera}/{class}/snapshot``: its frame (retained JPEG), when ``mqtt.snapshots``
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from edge.cameras.mqtt_client import MqttClient, MqttError, Will
from edge.config.cameras import MqttConfig, WebhookConfig
from edge.config.redact import redact_text, redact_url
from edge.errors import ConfigError

logger = logging.getLogger(__name__)

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


class _Queued:
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


class WebhookPublisher(_Queued):
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


class MqttPublisher(_Queued):
    """Keeps one connection to the broker; ``publish`` queues (topic suffix, payload, retain)."""

    def __init__(self, config: MqttConfig, environ: dict[str, str] | None = None) -> None:
        super().__init__("mqtt", config.queue_size)
        assert config.host is not None
        self.config = config
        self.host: str = config.host
        self.password = read_password(config, dict(os.environ) if environ is None else environ)
        self.connected = False
        self._client: MqttClient | None = None

    def topic(self, *parts: str) -> str:
        return "/".join([self.config.topic_prefix, *(p.replace(" ", "_") for p in parts)])

    def publish(self, suffix: tuple[str, ...], payload: bytes, retain: bool = False) -> None:
        self.put((self.topic(*suffix), payload, retain))

    def status(self) -> dict[str, Any]:
        return {"broker": f"{self.host}:{self.config.port}", "connected": self.connected,
                "queued": self.queue.qsize(), "sent": self.sent, "dropped": self.dropped,
                "last_error": self.last_error}

    async def stop(self) -> None:
        client = self._client
        if client is not None and not client.closed:
            try:  # a clean DISCONNECT suppresses the will, so say offline ourselves
                async with asyncio.timeout(2):
                    await client.publish(self.topic("available"), b"offline", self.config.qos, retain=True)
            except (MqttError, TimeoutError):
                pass
            await client.disconnect()
        await super().stop()

    async def _run(self) -> None:
        delay = BACKOFF_START_S
        pending: tuple[str, bytes, bool] | None = None
        cfg = self.config
        while True:
            try:
                self._client = await MqttClient.connect(
                    self.host, cfg.port, cfg.client_id, cfg.keepalive_s, cfg.username, self.password,
                    Will(self.topic("available"), b"offline", retain=True, qos=cfg.qos))
                await self._client.publish(self.topic("available"), b"online", cfg.qos, retain=True)
                self.connected, delay = True, BACKOFF_START_S
                logger.info("mqtt: connected to %s:%d", self.host, cfg.port)
                while True:
                    if pending is None:
                        pending = await self.queue.get()
                    topic, payload, retain = pending
                    await self._client.publish(topic, payload, cfg.qos, retain)
                    self.sent += 1
                    pending = None
            except MqttError as exc:
                self._error(str(exc))
            finally:
                self.connected = False
                if self._client is not None and not self._client.closed:
                    await self._client.disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)


def read_password(config: MqttConfig, environ: dict[str, str]) -> str | None:
    """``mqtt.password_file``, else ``$CREDENTIALS_DIRECTORY/mqtt_password`` (systemd LoadCredential=)."""
    path = config.password_file
    if path is None and environ.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(environ["CREDENTIALS_DIRECTORY"]) / "mqtt_password"
        path = candidate if candidate.is_file() else None
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
