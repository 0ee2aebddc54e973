"""A minimal MQTT 3.1.1 publisher over asyncio: CONNECT/CONNACK, PUBLISH (QoS 0 and 1, PUBACK),
PINGREQ/PINGRESP and DISCONNECT, with a last will. It never subscribes.

One connection per ``MqttClient``; the caller (``edge.cameras.publish.MqttPublisher``) reconnects.
Packet layouts follow the OASIS MQTT 3.1.1 standard, section 3.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0
CONNACK_CODES = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
                 4: "bad user name or password", 5: "not authorized"}


class MqttError(Exception):
    """The broker refused us, or the connection broke."""


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True
    qos: int = 1


def _str(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    n, length = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        length.append(byte | (0x80 if n else 0))
        if not n:
            return bytes([first]) + bytes(length) + body


def connect_packet(client_id: str, keepalive_s: int, username: str | None = None, password: str | None = None,
                   will: Will | None = None) -> bytes:
    flags = 0x02  # clean session
    payload = _str(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _str(will.topic) + struct.pack("!H", len(will.payload)) + will.payload
    if username is not None:
        flags |= 0x80
        payload += _str(username)
        if password is not None:
            flags |= 0x40
            payload += _str(password)
    return _packet(CONNECT, _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + payload)


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int = 0) -> bytes:
    first = PUBLISH | (qos << 1) | (1 if retain else 0)
    body = _str(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return _packet(first, body)


class MqttClient:
    """One connection to a broker. ``publish`` with QoS 1 returns once the broker acknowledged."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, keepalive_s: int) -> None:
        self.reader, self.writer = reader, writer
        self.keepalive_s = keepalive_s
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._next_id = 0
        self._closed = asyncio.Event()
        self._tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._ping_loop())]

    @classmethod
    async def connect(cls, host: str, port: int, client_id: str, keepalive_s: int = 60,
                      username: str | None = None, password: str | None = None, will: Will | None = None,
                      timeout_s: float = 10.0) -> MqttClient:
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(connect_packet(client_id, keepalive_s, username, password, will))
                await writer.drain()
                first, body = await _read_packet(reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise MqttError(f"cannot connect to {host}:{port}: {exc or type(exc).__name__}") from None
        if first & 0xF0 != CONNACK or len(body) != 2:
            writer.close()
            raise MqttError(f"{host}:{port} answered CONNECT with packet type {first >> 4}, not CONNACK")
        if body[1] != 0:
            writer.close()
            raise MqttError(f"{host}:{port} refused the connection: {CONNACK_CODES.get(body[1], body[1])}")
        return cls(reader, writer, keepalive_s)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
                      timeout_s: float = 10.0) -> None:
        if self.closed:
            raise MqttError("the connection is closed")
        if qos == 0:
            await self._send(publish_packet(topic, payload, 0, retain))
            return
        self._next_id = self._next_id % 65535 + 1
        packet_id = self._next_id
        ack = self._acks[packet_id] = asyncio.get_running_loop().create_future()
        try:
            await self._send(publish_packet(topic, payload, 1, retain, packet_id))
            async with asyncio.timeout(timeout_s):
                await ack
        except TimeoutError:
            raise MqttError(f"no PUBACK for {topic} within {timeout_s:g} s") from None
        finally:
            self._acks.pop(packet_id, None)

    async def disconnect(self) -> None:
        if not self.closed:
            try:
                await self._send(bytes([DISCONNECT, 0]))
            except MqttError:
                pass
        self._shutdown("disconnected")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (OSError, RuntimeError) as exc:
            self._shutdown(f"write failed: {exc}")
            raise MqttError(f"the connection broke: {exc}") from None

    def _shutdown(self, why: str) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.writer.close()
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(MqttError(f"the connection closed before PUBACK ({why})"))

    async def _read_loop(self) -> None:
        try:
            while True:
                first, body = await _read_packet(self.reader)
                kind = first & 0xF0
                if kind == PUBACK and len(body) == 2:
                    fut = self._acks.get(struct.unpack("!H", body)[0])
                    if fut is not None and not fut.done():
                        fut.set_result(None)
                elif kind != PINGRESP:
                    logger.debug("mqtt: ignoring packet type %d", kind >> 4)
        except (asyncio.IncompleteReadError, OSError, MqttError) as exc:
            self._shutdown(f"read: {exc or type(exc).__name__}")

    async def _ping_loop(self) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(self.keepalive_s / 2)
                await self._send(bytes([PINGREQ, 0]))
        except MqttError:
            pass


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    for _ in range(4):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        raise MqttError("malformed remaining length")
    return first, await reader.readexactly(length)
