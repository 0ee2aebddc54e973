"""Who we are to the broker and who the broker is to us: the password (from a file or a systemd
credential, never config.yaml) and the TLS context (the CA that signed the broker, a client certificate).

Both are read once when the publisher is built, at start: a CA file that is not PEM, a key that does
not match its certificate or an unreadable password file stop the start with a ConfigError naming
the key, instead of a reconnect loop that never says why.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from edge.config.mqtt import MqttConfig, MqttTlsConfig
from edge.errors import ConfigError

logger = logging.getLogger(__name__)

PASSWORD_CREDENTIAL = "mqtt_password"


def password_source(config: MqttConfig, environ: dict[str, str]) -> Path | None:
    """``mqtt.password_file``, else ``$CREDENTIALS_DIRECTORY/mqtt_password`` (systemd ``LoadCredential=``)
    when it exists, else None."""
    if config.password_file is not None:
        return config.password_file
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / PASSWORD_CREDENTIAL).is_file():
        return Path(cred_dir) / PASSWORD_CREDENTIAL
    return None


def read_password(config: MqttConfig, environ: dict[str, str]) -> str | None:
    """The broker password: the first line of ``password_source`` (trailing newline and spaces dropped)."""
    path = password_source(config, environ)
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise ConfigError(f"mqtt.password_file: {path} is empty; expected the password on its first line")
    if config.username is None:
        raise ConfigError(f"mqtt: a password was found in {path} but mqtt.username is not set; "
                          "MQTT sends a password only with a user name")
    return password


def tls_context(tls: MqttTlsConfig) -> ssl.SSLContext | None:
    """The client-side TLS context for ``mqtt.tls``, or None when TLS is off. Certificate and host
    name are verified unless ``verify: false``."""
    if not tls.enabled:
        return None
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"mqtt.tls.ca_file: {tls.ca_file} holds no PEM CA certificate ({_reason(exc)})") from None
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"mqtt.tls.cert_file: cannot use {tls.cert_file} with key "
                              f"{tls.key_file or '(in the same file)'} ({_reason(exc)}); expected a PEM "
                              "certificate and its unencrypted private key") from None
    if not tls.verify:
        logger.warning("mqtt.tls.verify is false: the broker's certificate and name are not checked; "
                       "anyone on the path can read the events and the password")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
