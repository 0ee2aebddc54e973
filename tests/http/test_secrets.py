"""Secrets never leave: a daemon with a camera whose URL carries a password in its userinfo and its
query, a camera that cannot connect (its error names its URL), and a webhook whose URL carries a user,
a password, a path token and a ``?token=`` that keeps failing. A hostile corpus (control characters
after a valid key, a wrong key, a foreign Host, a long Content-Type, ``/readyz`` without a key) runs
against it; then every response body and the whole daemon log are searched for every secret."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.cameras import PERSON, MjpegCamera, WebhookReceiver, coco128_images, jpeg_frames, wait_for
from tests.support.daemon import API_KEY, Daemon, free_port, link_models, start_daemon
from tests.support.in_process import MODEL_ID, MODEL_SRC, good_jpeg, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]

SECRETS = {  # what must never appear in a response or a log line
    "camera user": "camuser-S3cret", "camera password": "CamPass-S3cret", "camera query": "QueryPwd-S3cret",
    "down camera password": "DownPass-S3cret", "down camera query": "DownPwd-S3cret",
    "webhook user": "hookuser-S3cret", "webhook password": "HookPass-S3cret",
    "webhook path token": "HookPath0123456789abcdef", "webhook query token": "HookTok-S3cret",
    "API key": API_KEY, "wrong key": "WrongKey-S3cret", "bearer key": "Bearer-S3cret",
    "foreign host": "evil-S3cret.example", "content type": "ctype-S3cret",
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, WebhookReceiver]]:
    tmp = tmp_path_factory.mktemp("secrets")
    receiver = WebhookReceiver(fail_first=10**6)  # every delivery fails: retries, errors, logs
    hook_port = receiver.server.server_address[1]
    with MjpegCamera(jpeg_frames(coco128_images(classes_wanted={PERSON}, limit=2)), fps=5) as cam:
        s = SECRETS
        cameras = [
            {"id": "door", "model": MODEL_ID, "fps": 2,
             "source": f"http://{s['camera user']}:{s['camera password']}@127.0.0.1:{cam.port}/video.mjpg"
                       f"?user=admin&pwd={s['camera query']}",
             "events": {"classes": ["person"], "min_confidence": 0.3, "cooldown_s": 0},
             "webhook": {"url": f"http://{s['webhook user']}:{s['webhook password']}@127.0.0.1:{hook_port}"
                                f"/hooks/{s['webhook path token']}?token={s['webhook query token']}",
                         "max_attempts": 3, "timeout_s": 2}},
            {"id": "gate", "model": MODEL_ID, "interval_s": 1, "reconnect_max_s": 0.5,
             "source": f"http://admin:{s['down camera password']}@127.0.0.1:{free_port()}/video.cgi"
                       f"?user=admin&pwd={s['down camera query']}"},
        ]
        daemon = start_daemon(tmp, link_models(tmp, {MODEL_ID: MODEL_SRC}), extra={
            "server": {"allowed_hosts": ["127.0.0.1", "localhost"]}, "cameras": cameras})
        try:
            yield daemon, receiver
        finally:
            daemon.stop()
            receiver.stop()


def raw(daemon: Daemon, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def head(path: str, *lines: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *lines, "Connection: close"]) +
            "\r\n\r\n").encode("latin-1")


def test_no_secret_in_any_response_or_log_line(setup: tuple[Daemon, WebhookReceiver]) -> None:
    daemon, receiver = setup
    key = {"x-api-key": API_KEY}
    base = daemon.base_url
    wait_for(lambda: receiver.attempts >= 4, 60, "the webhook was never tried")
    wait_for(lambda: requests.get(base + "/v1/cameras", headers=key).json()["data"][1]["last_error"], 30,
             "the down camera reported no error")
    s = SECRETS
    form = {"image": ("a.jpg", good_jpeg())}
    # (what, response bytes or requests.Response, expected status)
    corpus: list[tuple[str, bytes, int]] = []

    def add(what: str, resp: requests.Response, status: int) -> None:
        corpus.append((what, resp.content, resp.status_code))
        assert resp.status_code == status, (what, resp.status_code, resp.text)

    add("readyz without a key", requests.get(base + "/readyz"), 200)
    assert requests.get(base + "/readyz").json() == {"ready": True, "models": 1, "cameras": 2}
    ready = requests.get(base + "/readyz", headers=key)
    add("readyz with the key", ready, 200)
    assert set(ready.json()["cameras"]) == {"door", "gate"} and "***" in ready.json()["cameras"]["gate"]["last_error"]
    cameras = requests.get(base + "/v1/cameras", headers=key)
    add("cameras", cameras, 200)
    door = cameras.json()["data"][0]
    assert door["source"].startswith("http://***@127.0.0.1:") and door["source"].endswith("?user=***&pwd=***")
    assert door["events"]["webhook"]["url"] == f"http://***@127.0.0.1:{receiver.server.server_address[1]}/***?token=***"
    add("latest", requests.get(base + "/v1/cameras/gate/latest", headers=key), 503)
    add("wrong key", requests.post(base + f"/v1/predict/{MODEL_ID}", files=form,
                                   headers={"x-api-key": s["wrong key"]}), 401)
    add("wrong bearer", requests.post(base + f"/api/models/a/b/{MODEL_ID}/predict", files=form,
                                      headers={"Authorization": f"Bearer {s['bearer key']}"}), 401)
    add("foreign host", requests.get(base + "/readyz", headers={"Host": s["foreign host"]}), 400)
    add("foreign host, healthz", requests.get(base + "/healthz", headers={"Host": s["foreign host"] + ":80"}), 400)
    add("long content type", requests.post(base + f"/v1/predict/{MODEL_ID}", data=b"x", headers={
        **key, "Content-Type": f"application/x-{s['content type']}-{'y' * 40}"}), 415)
    for what, request in [
        ("key then \\x01", head("/v1/models", f"x-api-key: {API_KEY}\x01")),
        ("key then NUL", head("/v1/models", f"x-api-key: {API_KEY}\x00")),
        ("bearer then \\x7f", head("/v1/models", f"Authorization: Bearer {API_KEY}\x7f")),
        ("key in a header name", head("/v1/models", f"x-api-key {API_KEY}")),
        ("key in the request line", f"GET /v1/models?{API_KEY}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
    ]:
        answer = raw(daemon, request)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0], (what, answer)
        corpus.append((what, answer, 400))
    assert requests.post(base + f"/v1/predict/{MODEL_ID}", files=form, headers=key).status_code == 200
    time.sleep(1.0)  # the last retries and camera errors reach the log
    daemon.stop()
    log = daemon.log()
    for what, body, _ in corpus:
        leaked = [name for name, secret in SECRETS.items() if secret.encode() in body]
        assert not leaked, f"{what}: the response carries {leaked}: {body[:300]!r}"
    leaked_lines = [(name, line) for line in log.splitlines() for name, secret in SECRETS.items() if secret in line]
    assert not leaked_lines, leaked_lines[:5]
    webhook_lines = [line for line in log.splitlines() if "webhook" in line and "503" in line]
    assert 1 <= len(webhook_lines) <= 2, webhook_lines  # one line per distinct error, not one per retry
    print(f"secrets: {len(corpus)} responses and {len(log.splitlines())} log lines searched for {len(SECRETS)} "
          f"secrets; {receiver.attempts} webhook attempts, {len(webhook_lines)} webhook log line(s)")
