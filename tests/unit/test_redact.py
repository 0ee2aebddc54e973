"""``redact_url`` / ``redact_text``: the one redaction for every URL the daemon prints or returns."""

from __future__ import annotations

import pytest

from edge.config.redact import redact_secrets, redact_text, redact_url


@pytest.mark.parametrize("url,shown", [
    ("http://admin:pw1@10.0.0.5:8080/video.cgi?user=admin&pwd=pw2", "http://***@10.0.0.5:8080/video.cgi?user=***&pwd=***"),
    ("rtsp://user:pass@[fe80::1]:554/stream1", "rtsp://***@[fe80::1]:554/stream1"),
    ("rtsp://onlyuser@cam/h264", "rtsp://***@cam/h264"),
    ("http://cam.lan/mjpg/video.mjpg", "http://cam.lan/mjpg/video.mjpg"),  # nothing secret: unchanged
    ("https://discord.com/api/webhooks/123456789012345678/abcDEF-ghi_jkl123456",
     "https://discord.com/api/webhooks/***/***"),  # token-like path segments
    ("http://h/p?token=abc#frag", "http://h/p?token=***#***"),
    ("/dev/video0", "/dev/video0"),
    ("0", "0"),
    ("clips/door.mp4", "clips/door.mp4"),
    ("http://[::1", "***"),  # not parseable: nothing of it is shown
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_webhook_path_is_masked_whole() -> None:
    assert redact_url("https://u:p@hooks.example/services/T0/B0/XYZ?token=t", keep_path=False) == \
        "https://***@hooks.example/***?token=***"


@pytest.mark.parametrize("text,shown", [
    ("http://a:b@cam:1/x?pwd=s: cannot connect: refused", "http://***@cam:1/x?pwd=***: cannot connect: refused"),
    ("ClientResponseError: 404, url='http://h:1/x?token=abc'", "ClientResponseError: 404, url='http://h:1/x?token=***'"),
    ("no url here", "no url here"),
])
def test_redact_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown


@pytest.mark.parametrize("text,secrets,shown", [
    ("login failed for pw 's3cret!' at mqtts://u:s3cret!@b:8883", ["s3cret!"], "login failed for pw '***' at mqtts://***@b:8883"),
    ("nothing secret", [None, ""], "nothing secret"),
])
def test_redact_secrets(text: str, secrets: list[str | None], shown: str) -> None:
    assert redact_secrets(text, secrets) == shown
