"""The smaller hostile requests of a LAN, on an in-process daemon (real socket, real model): deeply
nested ``classes`` (both dialects), a client that announces a huge body and resets, an 8,000-character
model id, a 401 with a 10 GB body announced, and a ``snapshot.jpg`` flood against ``max_pending``."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.config.settings import config_from_dict
from edge.http.app import create_app
from edge.http.app_keys import STATE
from tests.support.cameras import coco128_images, write_video
from tests.support.daemon import API_KEY, daemon_config
from tests.support.in_process import MODEL_ID, form, good_jpeg, make_config, model_dir, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]
HUB = f"/v1/predict/{MODEL_ID}"
PLATFORM = f"/api/models/me/project/{MODEL_ID}/predict"
KEY = {"x-api-key": API_KEY}
NESTED = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("path,field,headers,message", [
    (HUB, "classes", KEY, lambda b: b["message"]),
    (PLATFORM, "classes", {"Authorization": f"Bearer {API_KEY}"}, lambda b: b["error"]),
])
async def test_nested_classes_are_400_in_both_dialects(aiohttp_client: Any, tmp_path: Path, path: str, field: str,
                                                      headers: dict[str, str], message: Any) -> None:
    client = await aiohttp_client(create_app(make_config(tmp_path)))
    image_field = "image" if path == HUB else "file"
    data = form(None, fields=[(field, NESTED)])
    data.add_field(image_field, good_jpeg(), filename="a.jpg", content_type="image/jpeg")
    resp = await client.post(path, data=data, headers=headers)
    body = await resp.json()
    assert resp.status == 400, body
    assert message(body).startswith("classes must be class indices 0-79, comma separated or a JSON list, got '[[[[")
    assert len(message(body)) < 200


@pytest.mark.parametrize("path", [HUB.replace(MODEL_ID, "m" * 8000), PLATFORM.replace(MODEL_ID, "m" * 8000)])
async def test_a_long_model_id_is_echoed_at_most_40_characters(aiohttp_client: Any, tmp_path: Path,
                                                               path: str) -> None:
    client = await aiohttp_client(create_app(make_config(tmp_path)), )
    resp = await client.post(path, data=form(good_jpeg()), headers={**KEY, "Authorization": f"Bearer {API_KEY}"})
    text = await resp.text()
    assert resp.status == 404, text
    assert "m" * 40 in text and "m" * 41 not in text


def raw_request(port: int, head: str, body: bytes = b"", reset: bool = False) -> bytes:
    """Send ``head`` + ``body``; then reset the connection (RST) or read the answer to EOF."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.encode() + body)
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        return b""
    chunks = []
    while chunk := sock.recv(65536):  # EOF: the daemon closed the connection
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def post_head(length: int, key: str = API_KEY) -> str:
    return (f"POST {HUB} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {key}\r\nContent-Length: {length}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n")


async def metrics_500s(client: TestClient) -> list[str]:
    text = await (await client.get("/metrics")).text()
    return [line for line in text.splitlines() if line.startswith("yolo_edge_requests_total") and 'status="500"' in line]


async def test_announced_bodies_that_never_come_are_no_error(aiohttp_client: Any, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    client = await aiohttp_client(create_app(make_config(tmp_path, server={"max_body_mb": 3})))
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING):
        for length in (1024**3, 1024**2):  # past the cap (413 before reading) and under it (the read fails)
            await loop.run_in_executor(None, lambda n=length: raw_request(client.port, post_head(n), b"--b\r\n12345",
                                                                          reset=True))
        await asyncio.sleep(0.5)
        assert (await client.post(HUB, data=form(good_jpeg()), headers=KEY)).status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert await metrics_500s(client) == []


async def test_a_refused_request_does_not_drain_its_body(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(make_config(tmp_path)))
    loop = asyncio.get_running_loop()
    for head, status in [(post_head(10 * 1024**3, key="wrong"), b"401"),  # wrong key, 10 GB announced
                         (post_head(10 * 1024**3), b"413")]:  # past server.max_body_mb, said at once
        answer = await loop.run_in_executor(None, raw_request, client.port, head, b"--b\r\n" + b"x" * 65536)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status in status_line, answer[:300]
        assert b"Connection: close" in rest  # and the read above ended: the daemon closed, not drained


async def test_snapshot_flood_respects_max_pending(aiohttp_client: Any, tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", coco128_images(limit=2), repeat=3)
    raw = daemon_config(tmp_path, model_dir(tmp_path), 8080, {
        "server": {"max_pending": 2, "body_timeout_s": 20}, "models": {"cache_dir": None},
        "cameras": [{"id": "v", "source": str(video), "model": MODEL_ID, "fps": 2}]})
    client = await aiohttp_client(create_app(config_from_dict(raw)))
    for _ in range(300):
        resp = await client.get("/v1/cameras/v/snapshot.jpg", headers=KEY)
        if resp.status == 200:
            break
        await asyncio.sleep(0.05)
    assert resp.status == 200
    trickles = []
    for _ in range(2):  # two predicts admitted, their bodies never arrive
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(post_head(5000).encode() + b"--b\r\n")
        await writer.drain()
        trickles.append(writer)
    state = client.app[STATE]  # type: ignore[index]
    for _ in range(500):
        if state.pending >= 2:
            break
        await asyncio.sleep(0.01)
    flood = await asyncio.gather(*(client.get("/v1/cameras/v/snapshot.jpg", headers=KEY) for _ in range(20)))
    assert {r.status for r in flood} == {503}
    assert all(["busy" in (await r.json())["message"] for r in flood])
    for writer in trickles:
        writer.close()
