"""Optional HTTPS for the daemon: ``server.tls.cert_file`` / ``key_file`` (PEM), or the systemd
credentials ``tls_cert`` and ``tls_key`` (``LoadCredential=``, so the key stays root-only on disk).

One ``ssl.SSLContext`` serves the listening socket for the daemon's life; a reload (SIGHUP) loads the
certificate and key again into that same context, so a renewed certificate is served to every new
connection without a restart (connections already open keep the old one). A file that cannot be
read or a key that does not match keeps the old pair and is logged.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

from edge.config.settings import Config
from edge.errors import ConfigError

logger = logging.getLogger(__name__)

CREDENTIALS = ("tls_cert", "tls_key")


def tls_files(config: Config, environ: dict[str, str] | None = None) -> tuple[Path, Path] | None:
    """(certificate, key) to serve, or None for plain HTTP."""
    tls = config.server.tls
    if tls.cert_file is not None and tls.key_file is not None:
        return tls.cert_file, tls.key_file
    cred_dir = (os.environ if environ is None else environ).get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        cert, key = (Path(cred_dir) / name for name in CREDENTIALS)
        if cert.is_file() and key.is_file():
            return cert, key
    return None


class TlsContext:
    """The server's SSL context, reloadable in place."""

    def __init__(self, files: tuple[Path, Path]) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.files = files
        self._load(files)

    def _load(self, files: tuple[Path, Path]) -> None:
        cert, key = files
        try:
            self.context.load_cert_chain(cert, key)
        except FileNotFoundError as exc:
            raise ConfigError(f"server.tls: {exc.filename} does not exist") from None
        except PermissionError as exc:
            raise ConfigError(f"server.tls: {exc.filename} is not readable by this user") from None
        except ssl.SSLError as exc:
            raise ConfigError(f"server.tls: {cert} and {key} are not a PEM certificate and its key "
                              f"({exc.reason or exc})") from None
        self.files = files

    def reload(self, config: Config) -> None:
        """Load the (possibly renewed) pair again; on failure keep serving the old one."""
        files = tls_files(config)
        if files is None:
            logger.warning("reload: TLS can only be switched off by a restart; still serving %s", self.files[0])
            return
        try:
            self._load(files)
        except ConfigError as exc:
            logger.error("reload: %s; still serving the previous certificate", exc)
            return
        logger.info("reload: TLS certificate loaded from %s", files[0])


def server_tls(config: Config) -> TlsContext | None:
    """The context for ``config``, or None for plain HTTP. Raises ConfigError (the daemon does not start)."""
    files = tls_files(config)
    return TlsContext(files) if files is not None else None
