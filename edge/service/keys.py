"""API keys: who may call the daemon.

Keys come from ``auth.api_keys_file`` and, under systemd, from the credential ``api_keys`` in
``$CREDENTIALS_DIRECTORY`` (``LoadCredential=``), so secrets never need to live in config.yaml.
Admin keys (who may upload, replace and delete models) come the same way from ``auth.admin_keys_file``
and the credential ``admin_keys``; they are a separate ring, and with none model management is off.
A line is the key itself or ``sha256:<hex>`` of it; blank lines and ``#`` comments are skipped.
Only digests are kept in memory and comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from edge.config.settings import AuthConfig
from edge.errors import ConfigError

CREDENTIAL_NAME = "api_keys"
ADMIN_CREDENTIAL_NAME = "admin_keys"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    """The set of accepted API keys, stored as SHA-256 digests."""

    def __init__(self, digests: list[bytes], enabled: bool = True) -> None:
        self._digests = digests
        self.enabled = enabled

    def __len__(self) -> int:
        return len(self._digests)

    def check(self, key: str | None) -> bool:
        """True when auth is off or ``key`` is one of ours (constant time in the key)."""
        if not self.enabled:
            return True
        if not key:
            return False
        d = digest(key)
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(d, known)
        return found


def parse_key_lines(text: str, where: str) -> list[bytes]:
    digests = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("sha256:"):
            hexpart = line[len("sha256:"):].strip().lower()
            try:
                raw = bytes.fromhex(hexpart)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ConfigError(f"{where}:{n}: 'sha256:' must be followed by 64 hex digits")
            digests.append(raw)
        else:
            digests.append(digest(line))
    return digests


def read_key_sources(path: Path | None, credential: str, setting: str, environ: dict[str, str]) -> list[bytes]:
    """The digests of ``path`` (the setting ``setting`` names it) and of the systemd credential ``credential``."""
    sources = [path] if path is not None else []
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / credential).is_file():
        sources.append(Path(cred_dir) / credential)
    digests: list[bytes] = []
    for source in sources:
        try:
            digests += parse_key_lines(source.read_text(), str(source))
        except FileNotFoundError:
            raise ConfigError(f"{setting}: {source} does not exist") from None
        except PermissionError:
            raise ConfigError(f"{setting}: {source} is not readable by this user") from None
    return digests


def load_keyring(auth: AuthConfig, environ: dict[str, str] | None = None) -> KeyRing:
    """Read every key source; with auth enabled and no key at all, refuse to start."""
    environ = dict(os.environ) if environ is None else environ
    if not auth.enabled:
        return KeyRing([], enabled=False)
    digests = read_key_sources(auth.api_keys_file, CREDENTIAL_NAME, "auth.api_keys_file", environ)
    if not digests:
        raise ConfigError("auth.enabled is true but no API key was found: put one key per line in the file named "
                          "by auth.api_keys_file (or the credential 'api_keys': systemd's LoadCredential=, or the image's "
                          "Docker secret /run/secrets/api_keys), or set auth.enabled: false "
                          "on a trusted network")
    return KeyRing(digests)


def load_admin_keyring(auth: AuthConfig, environ: dict[str, str] | None = None) -> KeyRing | None:
    """The admin keys, or None when none is configured (model management off). ``auth.enabled: false``
    does not open model management: it always needs an admin key."""
    environ = dict(os.environ) if environ is None else environ
    digests = read_key_sources(auth.admin_keys_file, ADMIN_CREDENTIAL_NAME, "auth.admin_keys_file", environ)
    if auth.admin_keys_file is not None and not digests:
        raise ConfigError(f"auth.admin_keys_file: {auth.admin_keys_file} holds no key; put one key per line "
                          "(or sha256:<hex> of it), or remove the setting to turn model management off")
    return KeyRing(digests) if digests else None
