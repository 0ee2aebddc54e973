"""Short-lived, scope-limited tokens for what a browser loads without headers: an ``<img>`` showing a
camera's ``snapshot.jpg`` or ``stream.mjpg`` cannot send ``x-api-key``, and the key must never be put
in a URL (URLs end up in history, proxies and logs).

A token names one camera and an expiry, signed with HMAC-SHA256 under a secret drawn at start: it
opens only that camera's two image routes, only until it expires (60 s by default; a stream that
started keeps running), and no token survives a restart. It is
``base64url("<expiry>:<camera id>") + "." + base64url(mac)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time

from edge import errors

logger = logging.getLogger(__name__)

TTL_S = 60.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MediaTokens:
    """Issues and checks camera image tokens; ``secret`` is random per process unless given (tests)."""

    def __init__(self, secret: bytes | None = None, ttl_s: float = TTL_S) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self.ttl_s = ttl_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"camera-image\0" + payload, hashlib.sha256).digest()[:18]

    def issue(self, camera_id: str, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self.ttl_s)
        payload = f"{expiry}:{camera_id}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def check(self, token: str, camera_id: str, now: float | None = None) -> None:
        """Unauthorized unless ``token`` was issued here for ``camera_id`` and has not expired."""
        try:
            payload_text, mac_text = token.split(".")
            payload, mac = _unb64(payload_text), _unb64(mac_text)
            expiry_text, _, scope = payload.decode().partition(":")
            expiry = int(expiry_text)
        except (ValueError, UnicodeDecodeError):
            raise errors.Unauthorized("the image token is malformed: ask POST /v1/cameras/{id}/token "
                                      "for a new one") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise errors.Unauthorized("the image token is not valid on this device (it was issued before a "
                                      "restart, or altered): ask for a new one")
        if scope != camera_id:
            raise errors.Unauthorized("the image token was issued for another camera")
        if (time.time() if now is None else now) > expiry:
            raise errors.Unauthorized(f"the image token expired (they last {self.ttl_s:g} s): ask for a new one")
