"""The one redaction for every URL the daemon prints or returns (logs, ``/readyz``, ``/v1/cameras``,
error messages): camera sources and webhook URLs carry secrets in their userinfo
(``rtsp://admin:pw@cam``), their query (``?user=admin&pwd=...``, ``?token=...``) and, for webhooks,
their path (``/hooks/<token>``, ``/api/webhooks/<id>/<token>``).

``redact_url`` keeps what an operator needs to tell sources apart (scheme, host, port, the shape of
the path) and replaces the rest with ``***``. ``redact_text`` does the same to every URL inside a
message (an exception's text often quotes the URL it failed on).
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s'\"<>]+")
# A path segment that looks like a credential: 16 or more URL-safe characters and no dot (a file
# name such as video.cgi or stream.mjpg is kept).
TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_~=-]{16,}$")


def redact_url(url: str, keep_path: bool = True) -> str:
    """``url`` with its userinfo, query values, fragment and token-like path segments masked; without
    ``keep_path`` the whole path too (a webhook's path is usually its secret)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # not even a URL: say nothing of it
        return MASK
    if not parts.scheme or not parts.netloc:
        return url if "@" not in url and "?" not in url else MASK  # a device path or file name
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{MASK}@" if "@" in parts.netloc else "") + host + (f":{port}" if port else "")
    path = "/".join(MASK if TOKEN_SEGMENT.match(seg) else seg for seg in parts.path.split("/")) if keep_path \
        else ("/" + MASK if parts.path.strip("/") else parts.path)
    query = "&".join(f"{name.partition('=')[0]}={MASK}" for name in parts.query.split("&") if name)
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, MASK if parts.fragment else ""))


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through ``redact_url``."""
    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        core = url.rstrip(":,;.)]")  # "http://cam/x: cannot connect": the colon is the message's
        return redact_url(core) + url[len(core):]

    return URL_IN_TEXT.sub(one, text)


def redact_secrets(text: str, secrets: list[str | None]) -> str:
    """``text`` through ``redact_text``, and every occurrence of a known secret (a broker password that
    a library might quote) replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return redact_text(text)
