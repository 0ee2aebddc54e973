"""The MQTT publisher (aiomqtt/paho) against a real mosquitto: TLS with a CA and client certificate made
here, a password file, MQTT 5 (and 3.1.1 when the broker refuses 5), clear errors for a wrong CA and a
wrong password, and queued messages delivered after the broker restarts. paho-mqtt is the subscriber."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.cameras.mqtt_publisher import MqttPublisher
from edge.config.mqtt import MqttConfig, MqttTlsConfig
from edge.config.settings import config_from_dict
from edge.errors import ConfigError
from tests.support.cameras import Mosquitto, Subscriber, await_for, wait_for
from tests.support.pki import Pki, make_pki

USER, PASSWORD = "edge", "correct horse battery staple"
READER = ("ha", "reader-pass")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path, pki=pki, users={USER: PASSWORD, READER[0]: READER[1]})
    yield b
    b.stop()


def tls_config(port: int, pki: Pki, tmp: Path, password: str = PASSWORD, ca: Path | None = None,
               **kw: object) -> MqttConfig:
    secret = tmp / "mqtt_password"
    secret.write_text(password + "\n")
    return MqttConfig(host="127.0.0.1", port=port, topic_prefix="edge", username=USER, password_file=secret,
                      tls=MqttTlsConfig(enabled=True, ca_file=ca or pki.ca, cert_file=pki.client_cert,
                                        key_file=pki.client_key), **kw)  # type: ignore[arg-type]


def test_events_over_tls_with_a_password_in_mqtt_5(tls_broker: Mosquitto, pki: Pki, tmp_path: Path) -> None:
    sub = Subscriber(tls_broker.port, "edge/#", pki=pki, auth=READER)

    async def run() -> dict:
        pub = MqttPublisher(tls_config(tls_broker.port, pki, tmp_path), environ={})
        pub.start()
        pub.publish(("events",), b'{"id": "e1"}')
        pub.publish(("door", "person"), b'{"id": "e1"}', retain=True)
        await await_for(lambda: pub.sent == 2, 20, "not published")
        status = pub.status()
        await pub.stop()
        return status

    try:
        status = asyncio.run(run())
        wait_for(lambda: sub.payloads("edge/available")[-1:] == [b"offline"], 10, "offline was not published")
    finally:
        sub.stop()
    assert status["connected"] and status["protocol"] == "5" and status["tls"] and status["last_error"] is None
    assert sub.payloads("edge/events") == [b'{"id": "e1"}']
    assert sub.payloads("edge/available")[:1] == [b"online"]
    # the broker's own account: our client came in over MQTT 5 ("p5") as user edge
    assert "as yolo-edge (p5" in tls_broker.log_text() and "u'edge'" in tls_broker.log_text()


@pytest.mark.parametrize("case, expect", [
    ("wrong_ca", "TLS: the certificate of 127.0.0.1:{port} did not verify"),
    ("wrong_password", ("127.0.0.1:{port} refused the login ([code:135] Not authorized): bad user name or "
                        "password, or not allowed by the broker (user 'edge', password from ")),
    ("plain_to_tls_port", "(mqtt.tls.enabled)"),
])
def test_a_refused_connection_is_a_clear_error_and_no_crash(
        case: str, expect: str, tls_broker: Mosquitto, pki: Pki, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # a plain CONNECT on a TLS port is dropped by the broker before any CONNACK: seen as a timeout
    monkeypatch.setattr("edge.cameras.mqtt_publisher.PUBLISH_TIMEOUT_S", 2.0)
    if case == "wrong_ca":
        config = tls_config(tls_broker.port, pki, tmp_path, ca=pki.other_ca)
    elif case == "wrong_password":
        config = tls_config(tls_broker.port, pki, tmp_path, password="not-the-password")
    else:
        config = MqttConfig(host="127.0.0.1", port=tls_broker.port, topic_prefix="edge")

    async def run() -> tuple[str | None, bool]:
        pub = MqttPublisher(config, environ={})
        pub.start()
        pub.publish(("events",), b"kept")
        await await_for(lambda: pub.last_error, 20, "no error was reported")
        await asyncio.sleep(1.0)  # a retry or two: the task keeps going, logging each error once
        alive = pub._task is not None and not pub._task.done()
        await pub.stop()
        return pub.last_error, alive

    with caplog.at_level(logging.WARNING, logger="edge.cameras"):
        error, alive = asyncio.run(run())
    assert alive and error is not None and expect.format(port=tls_broker.port) in error, error
    logged = [r.getMessage() for r in caplog.records if r.name == "edge.cameras.publish"]
    assert logged == [f"mqtt: {error}"]  # once, however many retries
    assert "not-the-password" not in caplog.text and PASSWORD not in caplog.text


def test_broker_restart_reconnects_and_delivers_what_was_queued(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    broker = Mosquitto(tmp_path)
    subs: list[Subscriber] = []

    def fresh_subscriber() -> Subscriber:
        sub = Subscriber(broker.port, "edge/events")
        wait_for(lambda: sub.subscribed.is_set(), 10, "the subscriber did not subscribe")
        subs.append(sub)
        return sub

    async def run() -> tuple[Subscriber, MqttPublisher]:
        pub = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port, topic_prefix="edge"), environ={})
        fresh_subscriber()
        pub.start()
        pub.publish(("events",), b"before")
        await await_for(lambda: pub.sent == 1, 15, "the first message was not sent")
        await asyncio.to_thread(broker.proc.terminate)
        await asyncio.to_thread(broker.proc.wait, 10)
        await await_for(lambda: not pub.connected, 15, "the drop was not noticed")
        for i in range(3):
            pub.publish(("events",), f"queued-{i}".encode())
        await asyncio.sleep(1.5)  # a few failed reconnects
        assert pub.sent == 1 and pub.queue.qsize() == 3
        # Start the broker and subscribe without yielding to the event loop: the publisher cannot
        # reconnect before the new subscriber listens.
        broker._start()
        after = fresh_subscriber()
        await await_for(lambda: len(after.payloads("edge/events")) == 3, 40, "queued messages were not delivered")
        await pub.stop()
        return after, pub

    try:
        with caplog.at_level(logging.INFO, logger="edge.cameras"):
            after, pub = asyncio.run(run())
    finally:
        for s in subs:
            s.stop()
        broker.stop()
    assert after.payloads("edge/events") == [b"queued-0", b"queued-1", b"queued-2"]
    assert pub.sent == 4 and pub.dropped == 0
    assert f"mqtt: lost the connection to 127.0.0.1:{broker.port}" in caplog.text
    assert caplog.text.count(f"mqtt: connected to 127.0.0.1:{broker.port} (MQTT 5)") == 2


class Mqtt311Only:
    """What the MQTT 3.1.1 standard (3.1.2.2) tells a 3.1.1-only server to do with a CONNECT of another
    protocol level: CONNACK with return code 1, then disconnect. Level-4 (3.1.1) connections are passed
    through to the real mosquitto behind it."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.refused = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        head = conn.recv(4096)  # CONNECT fits: fixed header, length, "MQTT" name, then the level
        length_bytes = next(i for i in range(1, 5) if not head[i] & 0x80)
        level = head[1 + length_bytes + 6]
        if level != 4:
            self.refused += 1
            conn.sendall(bytes([0x20, 0x02, 0x00, 0x01]))
            conn.close()
            return
        back = socket.create_connection(("127.0.0.1", self.backend_port))
        back.sendall(head)
        for a, b in ((conn, back), (back, conn)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.server.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_a_broker_without_mqtt_5_gets_3_1_1(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = Mosquitto(tmp_path)
    old = Mqtt311Only(broker.port)
    sub = Subscriber(broker.port, "edge/events")

    async def run() -> dict:
        pub = MqttPublisher(MqttConfig(host="127.0.0.1", port=old.port, topic_prefix="edge"), environ={})
        pub.start()
        pub.publish(("events",), b"hello")
        await await_for(lambda: pub.sent == 1, 15, "not published")
        status = pub.status()
        await pub.stop()
        return status

    try:
        with caplog.at_level(logging.INFO, logger="edge.cameras"):
            status = asyncio.run(run())
        wait_for(lambda: sub.payloads("edge/events"), 10, "the message did not arrive")
    finally:
        sub.stop()
        old.close()
        broker.stop()
    assert old.refused == 1 and status["protocol"] == "3.1.1" and status["last_error"] is None
    # mosquitto logs its protocol enum: p2 is MQTT 3.1.1 (p5 is 5)
    assert "as yolo-edge (p2," in broker.log_text()
    assert "does not speak MQTT 5; using MQTT 3.1.1" in caplog.text


@pytest.mark.parametrize("raw, error", [
    ({"host": "b", "tls": {"enabled": True}}, None),
    ({"host": "b", "protocol": 5, "tls": {"enabled": True, "verify": False}}, None),
    ({"host": "b", "protocol": "3.1.1", "port": 8883}, None),
    ({"protocol": "4"}, "mqtt.protocol: '4' is not auto, 5 or 3.1.1"),
    ({"tls": {"ca_file": "ca.pem"}}, "mqtt.tls.ca_file: set but mqtt.tls.enabled is false"),
    ({"tls": {"enabled": True, "ca_file": "missing.pem"}}, "mqtt.tls.ca_file: {tmp}/missing.pem does not exist"),
    ({"tls": {"enabled": True, "key_file": "k.pem"}}, "mqtt.tls.key_file: set without cert_file"),
    ({"username": "u", "password_file": "nope"}, "mqtt.password_file: {tmp}/nope does not exist"),
    ({"password_file": "pw"}, "mqtt.password_file: set without username"),
    ({"password": "hunter2"}, "mqtt.password: unknown key; expected one of"),
    ({"homeassistant": {"discovery": "yes"}}, "mqtt.homeassistant.discovery: 'yes' is not true or false"),
    ({"homeassistant": {"prefix": "ha/#"}}, "mqtt.homeassistant.prefix: 'ha/#' is not a topic"),
    ({"topic_prefix": "/edge"}, "mqtt.topic_prefix: '/edge' is not a topic"),
])
def test_mqtt_config(raw: dict, error: str | None, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "pw").write_text("x")
    if error is None:
        cfg = config_from_dict({"mqtt": raw}, source=tmp_path / "config.yaml").mqtt
        assert cfg.broker_port == raw.get("port", 8883 if raw.get("tls") else 1883)
        return
    with pytest.raises(ConfigError) as info:
        config_from_dict({"mqtt": raw}, source=tmp_path / "config.yaml")
    assert error.format(tmp=tmp_path) in str(info.value)
    assert "hunter2" not in str(info.value)


def test_secrets_and_certificates_fail_at_start_not_in_a_retry_loop(pki: Pki, tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    cred = tmp_path / "creds"
    cred.mkdir()
    (cred / "mqtt_password").write_text("from-systemd\n")
    base: dict = {"host": "127.0.0.1", "username": USER}
    cases = [
        (MqttConfig(**base, tls=MqttTlsConfig(enabled=True, ca_file=not_pem)),  # type: ignore[arg-type]
         "mqtt.tls.ca_file: " + str(not_pem) + " holds no PEM CA certificate"),
        (MqttConfig(**base, tls=MqttTlsConfig(enabled=True, cert_file=pki.client_cert,  # type: ignore[arg-type]
                                              key_file=pki.server_key)),
         "mqtt.tls.cert_file: cannot use"),
        (MqttConfig(**base, password_file=empty), "is empty; expected the password on its first line"),  # type: ignore[arg-type]
    ]

    async def build(cfg: MqttConfig, environ: dict[str, str]) -> MqttPublisher:
        return MqttPublisher(cfg, environ=environ)

    for cfg, message in cases:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            asyncio.run(build(cfg, {}))
    # the systemd credential when no password_file is set
    pub = asyncio.run(build(MqttConfig(**base), {"CREDENTIALS_DIRECTORY": str(cred)}))  # type: ignore[arg-type]
    assert pub.password == "from-systemd"
    assert asyncio.run(build(MqttConfig(host="h"), {})).password is None
