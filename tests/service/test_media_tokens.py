"""Camera image tokens (``edge.service.media_tokens``): a token opens only its camera, only until it
expires, only on the device (and process) that issued it, and any change to it is refused."""

from __future__ import annotations

import pytest

from edge import errors
from edge.service.media_tokens import MediaTokens

NOW = 1_800_000_000.0
TOKENS = MediaTokens(secret=b"s" * 32, ttl_s=60)
GOOD = TOKENS.issue("door", now=NOW)


def _flip(token: str, at: int) -> str:
    c = token[at]
    return token[:at] + ("A" if c != "A" else "B") + token[at + 1:]


@pytest.mark.parametrize("tokens,token,camera,now,error", [
    (TOKENS, GOOD, "door", NOW, None),
    (TOKENS, GOOD, "door", NOW + 59, None),
    (TOKENS, GOOD, "door", NOW + 61, "expired"),
    (TOKENS, GOOD, "garage", NOW, "another camera"),
    (MediaTokens(secret=b"t" * 32), GOOD, "door", NOW, "not valid on this device"),  # another process or box
    (MediaTokens(), GOOD, "door", NOW, "not valid on this device"),
    (TOKENS, _flip(GOOD, 2), "door", NOW, "malformed|not valid on this device"),  # payload altered
    (TOKENS, _flip(GOOD, len(GOOD) - 3), "door", NOW, "not valid on this device"),  # MAC altered
    (TOKENS, GOOD + "x", "door", NOW, "malformed|not valid on this device"),
    (TOKENS, "", "door", NOW, "malformed"),
    (TOKENS, "abc", "door", NOW, "malformed"),
    (TOKENS, "a.b.c", "door", NOW, "malformed"),
    (TOKENS, "!!!.???", "door", NOW, "malformed"),
    (TOKENS, TOKENS.issue("door:x", now=NOW), "door", NOW, "another camera"),
])
def test_check(tokens: MediaTokens, token: str, camera: str, now: float, error: str | None) -> None:
    if error is None:
        tokens.check(token, camera, now=now)
    else:
        with pytest.raises(errors.Unauthorized, match=error):
            tokens.check(token, camera, now=now)


def test_forged_expiry_is_refused() -> None:
    import base64
    payload, mac = GOOD.split(".")
    later = base64.urlsafe_b64encode(f"{int(NOW) + 10**6}:door".encode()).rstrip(b"=").decode()
    with pytest.raises(errors.Unauthorized, match="not valid on this device"):
        TOKENS.check(f"{later}.{mac}", "door", now=NOW)
    assert "door" not in GOOD and "=" not in GOOD  # opaque, and safe in a URL query without quoting
