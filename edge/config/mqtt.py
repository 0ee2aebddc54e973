"""The ``mqtt:`` section of config.yaml: the broker events go to, how to reach it (TLS, MQTT 5 or
3.1.1) and Home Assistant's MQTT discovery.

The password never lives here: it is read from ``password_file`` or the systemd credential
``mqtt_password`` (``edge.cameras.mqtt_credentials``). Files named here are checked when the config
loads, so a typo in a path stops the start with the key and the path, not a reconnect loop later.

Example::

    mqtt:
      host: broker.lan
      username: edge
      password_file: /etc/yolo-edge/mqtt_password
      tls: {enabled: true, ca_file: /etc/yolo-edge/mqtt-ca.pem}
      homeassistant: {discovery: true}
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge.config.rules import rule as _rule
from edge.errors import ConfigError

TOPIC_SAFE = re.compile(r"^[^#+\x00]+$")
PROTOCOLS = ("auto", "5", "3.1.1")


def _is_topic(value: str) -> bool:
    return bool(TOPIC_SAFE.match(value)) and not value.endswith("/") and not value.startswith("/")


def check_readable(path: Path | None, key: str) -> None:
    """``path`` is None or a readable regular file; else ConfigError naming ``key``."""
    if path is None:
        return
    if not path.exists():
        raise ConfigError(f"{key}: {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"{key}: {path} is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{key}: {path} is not readable by this user")


@dataclass(frozen=True)
class MqttTlsConfig:
    """TLS to the broker. ``ca_file``: the PEM CA that signed the broker's certificate (None: the system's
    CAs). ``cert_file``/``key_file``: a client certificate, for brokers that ask for one. ``verify: false``
    skips checking the broker's certificate and name (a warning is logged at every start)."""

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True

    def validate(self, where: str) -> None:
        given = [name for name in ("ca_file", "cert_file", "key_file") if getattr(self, name) is not None]
        if given and not self.enabled:
            raise ConfigError(f"{where}.{given[0]}: set but {where.split(': ', 1)[-1]}.enabled is false; "
                              "expected enabled: true (or remove the file)")
        if self.key_file is not None and self.cert_file is None:
            raise ConfigError(f"{where}.key_file: set without cert_file; expected both (or cert_file alone "
                              "when it holds the key too)")
        for name in given:
            check_readable(getattr(self, name), f"{where}.{name}")


@dataclass(frozen=True)
class HomeAssistantConfig:
    """Home Assistant MQTT discovery (off unless ``discovery: true``): every camera appears in Home
    Assistant as a device with sensors and binary sensors, with no YAML there."""

    discovery: bool = False
    # Home Assistant's discovery_prefix (its MQTT integration's setting; "homeassistant" unless changed).
    prefix: str = _rule("homeassistant", _is_topic, "a topic without '+', '#' or a leading/trailing '/'")


@dataclass(frozen=True)
class MqttConfig:
    """The broker events go to. No ``host``: MQTT is off."""

    host: str | None = None
    # Default: 1883, or 8883 with tls.enabled.
    port: int | None = _rule(None, lambda v: 1 <= v <= 65535, "a port number 1-65535")
    topic_prefix: str = _rule("yolo-edge", _is_topic, "a topic without '+', '#' or a leading/trailing '/'")
    client_id: str = _rule("yolo-edge", lambda v: 1 <= len(v) <= 23, "1-23 characters")
    username: str | None = None
    # The password is read from this file, or from $CREDENTIALS_DIRECTORY/mqtt_password.
    password_file: Path | None = None
    # auto: MQTT 5, and 3.1.1 when the broker answers that it does not speak 5.
    protocol: str = _rule("auto", lambda v: v in PROTOCOLS, "auto, 5 or 3.1.1")
    keepalive_s: int = _rule(60, lambda v: 5 <= v <= 65535, "seconds, 5-65535")
    qos: int = _rule(1, lambda v: v in (0, 1), "0 or 1")
    queue_size: int = _rule(1000, lambda v: v >= 1, "an integer >= 1")
    # Also publish the event frame (retained JPEG) on {prefix}/{camera}/{class}/snapshot.
    snapshots: bool = True
    tls: MqttTlsConfig = field(default_factory=MqttTlsConfig)
    homeassistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)

    @property
    def broker_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls.enabled else 1883

    def validate(self, where: str) -> None:
        check_readable(self.password_file, f"{where}.password_file")
        if self.password_file is not None and self.username is None:
            raise ConfigError(f"{where}.password_file: set without username; expected a username too "
                              "(MQTT sends a password only with a user name)")
