"""Backpressure and observability on an in-process daemon (pytest-aiohttp, a real socket):
bounded admission (503 + Retry-After at once), slow bodies (408), per-key rates (429 + Retry-After),
``/metrics`` per app, the access log line, ``/openapi.json``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from edge.http.access_log import AccessLogger
from edge.http.app import create_app
from tests.support.daemon import API_KEY
from tests.support.in_process import MODEL_ID, form, good_jpeg, make_config, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]
PREDICT = f"/v1/predict/{MODEL_ID}"


async def client_for(aiohttp_client: Any, tmp_path: Path, **server: Any) -> TestClient:
    return await aiohttp_client(create_app(make_config(tmp_path, server=server)))


async def open_trickle(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A predict request whose headers arrive and whose body never does (it stays admitted)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nx-api-key: {API_KEY}\r\n"
                 "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000\r\n\r\n--b\r\n".encode())
    await writer.drain()
    return reader, writer


async def wait_pending(client: TestClient, n: int) -> None:
    from edge.http.app_keys import STATE
    state = client.app[STATE]  # type: ignore[index]
    for _ in range(500):
        if state.pending >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never reached {n} pending requests")


async def test_admission_full_answers_503_at_once(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, max_pending=2, body_timeout_s=20)
    slow = [await open_trickle(client) for _ in range(2)]
    await wait_pending(client, 2)
    response = await client.post(PREDICT, data=form(good_jpeg()), headers={"x-api-key": API_KEY})
    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "busy" in (await response.json())["message"]
    metrics = await (await client.get("/metrics")).text()
    assert 'yolo_edge_requests_rejected_total{reason="overloaded"} 1.0' in metrics
    assert "yolo_edge_predictions_pending 2.0" in metrics
    for _, writer in slow:
        writer.close()
    for _ in range(500):  # the slots come back when the slow clients go away
        response = await client.post(PREDICT, data=form(good_jpeg()), headers={"x-api-key": API_KEY})
        if response.status == 200:
            break
        await asyncio.sleep(0.02)
    assert response.status == 200


async def test_slow_body_is_cut_off_with_408(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, body_timeout_s=1)
    reader, writer = await open_trickle(client)

    async def trickle() -> None:  # one byte every 0.2 s: alive, but never done in time
        for _ in range(200):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.2)

    task = asyncio.create_task(trickle())
    head = await asyncio.wait_for(reader.read(4096), 30)
    task.cancel()
    writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head[:200]
    assert b"did not arrive within 1 s" in head
    metrics = await (await client.get("/metrics")).text()
    assert 'yolo_edge_requests_rejected_total{reason="slow_client"} 1.0' in metrics


async def test_rate_limit_per_key_429(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path, rate_limit_per_key=0.01)  # one, then wait 100 s
    first = await client.get("/v1/models", headers={"x-api-key": API_KEY})
    assert first.status == 200
    second = await client.post(PREDICT, data=form(good_jpeg()), headers={"x-api-key": API_KEY})
    assert second.status == 429
    assert int(second.headers["Retry-After"]) >= 99
    assert "server.rate_limit_per_key" in (await second.json())["message"]
    wrong = await client.get("/v1/models", headers={"x-api-key": "wrong"})
    assert wrong.status == 401  # a wrong key is refused for what it is, and does not touch the bucket
    metrics = await (await client.get("/metrics")).text()
    assert 'yolo_edge_requests_rejected_total{reason="rate_limited"} 1.0' in metrics
    assert 'yolo_edge_auth_failures_total{reason="invalid"} 1.0' in metrics


async def test_metrics_per_app(aiohttp_client: Any, tmp_path: Path) -> None:
    one = await client_for(aiohttp_client, tmp_path / "one" if (tmp_path / "one").mkdir() is None else tmp_path)
    two = await client_for(aiohttp_client, tmp_path / "two" if (tmp_path / "two").mkdir() is None else tmp_path)
    assert (await one.post(PREDICT, data=form(good_jpeg()), headers={"x-api-key": API_KEY})).status == 200
    assert (await one.post("/v1/predict/nope", data=form(good_jpeg()), headers={"x-api-key": API_KEY})).status == 404
    assert (await one.get("/v1/models")).status == 401
    response = await one.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert ('yolo_edge_requests_total{endpoint="/v1/predict/{model_id}",method="POST",model="yolov8n",'
            'status="200"} 1.0') in text
    # an unknown model id is not a label value (cardinality stays bounded)
    assert 'endpoint="/v1/predict/{model_id}",method="POST",model="",status="404"} 1.0' in text
    assert 'yolo_edge_auth_failures_total{reason="missing"} 1.0' in text
    for stage in ("decode", "preprocess", "inference", "postprocess"):
        assert f'yolo_edge_stage_duration_seconds_count{{model="yolov8n",stage="{stage}"}} 1.0' in text
    assert 'yolo_edge_model_compile_seconds{model="yolov8n"}' in text
    assert "yolo_edge_requests_in_flight" in text and "process_resident_memory_bytes" in text
    other = await (await two.get("/metrics")).text()
    assert 'status="200"' not in other  # each app has its own registry
    from edge.http.app_keys import CAMERAS

    class Hub:  # what the camera hub reports; the metrics read it at scrape time
        def status(self) -> list[dict[str, Any]]:
            return [{"id": "porch", "fps_in": 25.0, "fps_out": 12.5, "frames_in": 900, "frames_inferred": 450,
                     "frames_dropped": 450, "connected": True, "reconnects": 2}]

    two.app[CAMERAS].hub = Hub()  # type: ignore[index,union-attr,assignment]
    text = await (await two.get("/metrics")).text()
    assert 'yolo_edge_camera_fps{camera="porch",direction="out"} 12.5' in text
    assert 'yolo_edge_camera_frames_total{camera="porch",kind="dropped"} 450.0' in text
    assert 'yolo_edge_camera_connected{camera="porch"} 1.0' in text
    two.app[CAMERAS].hub = None  # type: ignore[index,union-attr]


async def test_openapi_served(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await client_for(aiohttp_client, tmp_path)
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    routes = {r.canonical for r in client.app.router.resources()}  # type: ignore[union-attr]
    assert set(doc["paths"]) == routes  # every route is described, and nothing else
    post = doc["paths"]["/v1/predict/{model_id}"]["post"]
    assert {"200", "400", "401", "404", "408", "413", "415", "429", "503"} <= set(post["responses"])
    assert post["parameters"][0]["example"] == MODEL_ID


@pytest.mark.parametrize("target,logged,hidden", [
    ("/v1/predict/yolov8n?api_key=SECRET123", "/v1/predict/yolov8n", "SECRET123"),
    ("/v1/models", "/v1/models", "SECRET123"),
    ("/v1/predict/a%0Ab", "/v1/predict/a\\nb", "\na"),
])
def test_access_log_line(caplog: pytest.LogCaptureFixture, target: str, logged: str, hidden: str) -> None:
    request = make_mocked_request("POST", target, headers={"x-api-key": "SECRET123",
                                                           "Authorization": "Bearer SECRET123",
                                                           "User-Agent": "curl/8"})
    response = web.Response(status=200, body=b"{}")
    logger = logging.getLogger("test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        AccessLogger(logger, "").log(request, response, 0.0123)
    (line,) = [r.getMessage() for r in caplog.records]
    assert f'"POST {logged}" 200' in line and "0.012s" in line and 'ua="curl/8"' in line
    assert hidden not in line and "\n" not in line


def test_malformed_http_is_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp.http_exceptions import BadHttpMessage

    from edge.http.access_log import OneLineBadHttp
    logger = logging.getLogger("test.aiohttp.server")
    logger.addFilter(OneLineBadHttp())
    try:
        raise BadHttpMessage("Invalid header value char")
    except BadHttpMessage:
        with caplog.at_level(logging.INFO, logger="test.aiohttp.server"):
            logger.exception("Error handling request from %s", "10.0.0.9")
    (record,) = caplog.records
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "10.0.0.9" in record.getMessage() and "Invalid header value char" in record.getMessage()
