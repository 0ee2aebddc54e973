"""Events to an MQTT broker through aiomqtt (the asyncio face of Eclipse paho-mqtt).

One connection, kept open by one task: messages wait in the bounded queue of ``QueuedPublisher`` (a camera
never blocks on the network; past the bound the oldest is dropped and counted) and are sent in order,
each acknowledged at QoS 1 before the next. A lost connection is retried with exponential backoff
(0.5 s doubling to 30 s); the message in flight when it broke is sent again after the reconnect
(at least once), and those queued meanwhile follow.

The broker is spoken to in MQTT 5 when it can (``protocol: auto``); a broker that answers CONNECT
with "unsupported protocol version" (an MQTT 3.1.1-only broker) is asked again at once in 3.1.1, and
that is kept for the life of the publisher. TLS and the password come from ``edge.cameras.mqtt_security``.

Topics (``{p}`` = ``mqtt.topic_prefix``), as in Frigate's:

- ``{p}/available``: ``online`` / ``offline`` (retained; ``offline`` is the last will)
- ``{p}/events``: every event as JSON
- ``{p}/{camera}/{class}``: the latest event with that class (retained JSON)
- ``{p}/{camera}/{class}/snapshot``: its frame (retained JPEG), when ``mqtt.snapshots``
- ``{p}/{camera}/state``: counts and last event for Home Assistant (``edge.cameras.camera_state``)
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from edge.cameras.mqtt_security import password_source, read_password, tls_context
from edge.cameras.publish import BACKOFF_MAX_S, BACKOFF_START_S, QueuedPublisher
from edge.config.mqtt import MqttConfig
from edge.config.redact import redact_secrets

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0  # no PUBACK (or CONNACK) within this: the connection is given up and retried
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason code (an MQTT 3.1.1 broker's return code 1 maps to it)
BAD_LOGIN, NOT_AUTHORIZED = 134, 135  # (3.1.1's 4 and 5)
PROTOCOL_NAMES = {aiomqtt.ProtocolVersion.V5: "5", aiomqtt.ProtocolVersion.V311: "3.1.1"}

Message = tuple[str, bytes, bool]  # (topic, payload, retain)


class MqttPublisher(QueuedPublisher):
    """Keeps one connection to the broker; ``publish`` queues (topic suffix, payload, retain)."""

    def __init__(self, config: MqttConfig, environ: dict[str, str] | None = None) -> None:
        super().__init__("mqtt", config.queue_size)
        assert config.host is not None
        environ = dict(os.environ) if environ is None else environ
        self.config = config
        self.host: str = config.host
        self.port = config.broker_port
        self.password = read_password(config, environ)  # ConfigError at start, never a retry loop
        self._password_from = password_source(config, environ)
        self.tls: ssl.SSLContext | None = tls_context(config.tls)
        self.protocol = aiomqtt.ProtocolVersion.V311 if config.protocol == "3.1.1" else aiomqtt.ProtocolVersion.V5
        self.connected = False
        self._client: aiomqtt.Client | None = None
        self._pending: Message | None = None
        # Called at every (re)connection and when Home Assistant says it is back: retained messages
        # that must be on the broker (discovery configs, current states) even if it lost them.
        self._on_connect: list[Callable[[], list[Message]]] = []
        self._birth_topic: str | None = None

    def topic(self, *parts: str) -> str:
        return "/".join([self.config.topic_prefix, *(p.replace(" ", "_") for p in parts)])

    def publish(self, suffix: tuple[str, ...], payload: bytes, retain: bool = False) -> None:
        self.put((self.topic(*suffix), payload, retain))

    def publish_topic(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Queue a message on a topic outside ``topic_prefix`` (Home Assistant's discovery topics)."""
        self.put((topic, payload, retain))

    def on_connect(self, messages: Callable[[], list[Message]], birth_topic: str | None = None) -> None:
        """Send ``messages()`` after each connection, and again whenever ``birth_topic`` receives
        ``online`` (Home Assistant's ``homeassistant/status`` when it starts)."""
        self._on_connect.append(messages)
        if birth_topic is not None:
            self._birth_topic = birth_topic

    def status(self) -> dict[str, Any]:
        return {"broker": f"{self.host}:{self.port}", "connected": self.connected,
                "protocol": PROTOCOL_NAMES[self.protocol], "tls": self.tls is not None,
                "queued": self.queue.qsize(), "sent": self.sent, "dropped": self.dropped,
                "last_error": self.last_error}

    async def stop(self) -> None:
        client = self._client
        if client is not None and self.connected:
            try:  # a clean DISCONNECT suppresses the will, so say offline ourselves
                await client.publish(self.topic("available"), b"offline", self.config.qos, retain=True, timeout=2)
            except aiomqtt.MqttError:
                pass
        await super().stop()  # cancels the session; leaving its `async with` sends DISCONNECT

    def _error(self, message: str) -> None:
        super()._error(redact_secrets(message, [self.password]))

    async def _run(self) -> None:
        delay = BACKOFF_START_S
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                if self._fall_back(exc):
                    continue
                self._error(self._explain(exc))
            except (OSError, ValueError, RuntimeError) as exc:  # paho below aiomqtt: keep the task alive
                logger.exception("mqtt: unexpected error")
                self._error(f"{type(exc).__name__}: {exc}")
            finally:
                if self.connected:
                    delay = BACKOFF_START_S  # it worked for a while: start the backoff over
                self.connected, self._client = False, None
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _session(self) -> None:
        """One connection: announce, then send the queue until the connection breaks (raises MqttError)."""
        cfg = self.config
        available = self.topic("available")
        client = aiomqtt.Client(
            self.host, self.port, identifier=cfg.client_id, protocol=self.protocol,
            username=cfg.username, password=self.password if cfg.username is not None else None,
            will=aiomqtt.Will(available, b"offline", qos=cfg.qos, retain=True),
            keepalive=cfg.keepalive_s, tls_context=self.tls, timeout=PUBLISH_TIMEOUT_S,
            logger=logging.getLogger("edge.cameras.paho"))
        async with client:
            self._client, self.connected = client, True
            logger.info("mqtt: connected to %s:%d (MQTT %s%s)", self.host, self.port,
                        PROTOCOL_NAMES[self.protocol], ", TLS" if self.tls else "")
            await client.publish(available, b"online", cfg.qos, retain=True)
            for topic, payload, retain in self._connect_messages():
                await client.publish(topic, payload, cfg.qos, retain)
            if self._birth_topic is not None:
                await client.subscribe(self._birth_topic, qos=cfg.qos)
            tasks = {asyncio.create_task(self._watch(client)), asyncio.create_task(self._send(client))}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                task.result()  # raises the MqttError that ended the session

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            if self._pending is None:
                self._pending = await self.queue.get()
            topic, payload, retain = self._pending
            await client.publish(topic, payload, self.config.qos, retain)
            self.sent += 1
            self._pending = None  # only now: a message cut off mid-publish is sent again

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Ends (with MqttError) when the connection does: the sender may be idle on an empty queue.
        Home Assistant's birth message re-queues the discovery configs and states."""
        async for message in client.messages:
            if self._birth_topic and message.topic.matches(self._birth_topic) and message.payload == b"online":
                logger.info("mqtt: Home Assistant is online: sending discovery again")
                for item in self._connect_messages():
                    self.put(item)

    def _connect_messages(self) -> list[Message]:
        return [m for provider in self._on_connect for m in provider()]

    def _fall_back(self, exc: aiomqtt.MqttError) -> bool:
        """With ``protocol: auto``, a broker that does not speak MQTT 5 is asked again in 3.1.1."""
        if (self.config.protocol == "auto" and self.protocol is aiomqtt.ProtocolVersion.V5
                and isinstance(exc, aiomqtt.MqttCodeError) and _code(exc) == UNSUPPORTED_PROTOCOL):
            logger.info("mqtt: %s:%d does not speak MQTT 5; using MQTT 3.1.1", self.host, self.port)
            self.protocol = aiomqtt.ProtocolVersion.V311
            return True
        return False

    def _explain(self, exc: aiomqtt.MqttError) -> str:
        """One line an operator can act on, naming the setting to look at."""
        where = f"{self.host}:{self.port}"
        code = _code(exc) if isinstance(exc, MqttConnectError) else None
        if code in (BAD_LOGIN, NOT_AUTHORIZED):  # mosquitto says "not authorized" for a wrong password too
            user, source = self.config.username, self._password_from
            if user is None:
                return (f"{where} refused the connection ({exc}): it wants a user name and password "
                        "(mqtt.username, mqtt.password_file)")
            return (f"{where} refused the login ({exc}): bad user name or password, or not allowed by the "
                    f"broker (user {user!r}, password {'from ' + str(source) if source else 'none'}); check "
                    "mqtt.username and mqtt.password_file")
        if code is not None:
            return f"{where} refused the connection: {exc}"
        cause = exc.__cause__
        text = f"{exc}: {cause}" if cause is not None else str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip()
            ca = self.config.tls.ca_file or "the system's CA certificates"
            return (f"TLS: the certificate of {where} did not verify ({detail}); expected one signed by {ca} "
                    f"and valid for the name {self.host!r} (mqtt.tls.ca_file, mqtt.host)")
        if "SSL" in text or "TLS" in text:
            hint = ("is this port a TLS listener? (mqtt.port, mqtt.tls.enabled)" if self.tls else
                    "the port may want TLS (mqtt.tls.enabled)")
            return f"TLS with {where} failed: {text}; {hint}"
        if "timed out" in text.lower():
            return (f"{where} did not answer within {PUBLISH_TIMEOUT_S:g} s ({text})"
                    + ("" if self.tls else "; a TLS-only port would do this (mqtt.tls.enabled)"))
        if "Disconnected during message iteration" in text:
            return f"lost the connection to {where}: {cause or exc}"
        return f"cannot connect to {where}: {text}"


def _code(exc: aiomqtt.MqttCodeError) -> int | None:
    """The reason code as a number (paho gives a ReasonCode for CONNACK, an int elsewhere)."""
    rc = exc.rc
    return rc if rc is None or isinstance(rc, int) else int(rc.value)
