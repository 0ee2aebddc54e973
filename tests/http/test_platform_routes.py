"""The Ultralytics Platform dialect, driven by the official ``ultralytics-platform`` SDK.

A real ``yolo-edge serve`` subprocess serves the real INT8 exports (detect, and segment / pose when
present); the SDK's ``models.predict`` and ``deployments.predict`` must get what ``ultralytics.YOLO``
finds on the same OpenVINO folder, and its own ``APIError`` with the Platform's status for each
failure. States a running daemon does not reach on demand (not ready, rate limited) are checked on
an in-process app with the async SDK.
"""

from __future__ import annotations

import base64
import functools
import http.server
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from aiohttp import web

from edge import errors
from edge.config.settings import config_from_dict
from edge.http.app_keys import LIMITER, STATE
from edge.http.error_mapping import error_middleware
from edge.http.hub_routes import predict_v1
from edge.http.platform_routes import add_platform_routes, decode_base64
from edge.http.rate_limit import RateLimiter
from edge.inference.engine import Engine
from edge.inference.model_set import ModelSet
from edge.inference.predictor import Predictor
from edge.service.keys import KeyRing, digest
from edge.service.state import ServiceState, Serving
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.parity import ParityFigures
from tests.support.shared_data import require_shared_data, ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

ultralytics_platform = pytest.importorskip("ultralytics_platform")
Platform, AsyncPlatform, APIError = (ultralytics_platform.Platform, ultralytics_platform.AsyncPlatform,
                                     ultralytics_platform.APIError)

MODELS = {  # MODEL_ID -> (folder under shared/data/models, task)
    "yolov8n": ("yolov8n_int8_openvino_model", "detect"),
    "yolo11n-seg": ("yolo11n-seg_int8_openvino_model", "segment"),
    "yolov8n-pose": ("yolov8n-pose_int8_openvino_model", "pose"),
}
MAX_BODY_MB = 1.0


# ---------------------------------------------------------------- the daemon and an image host

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """MODEL_ID -> (export folder, task) for every export present."""
    data = require_shared_data()
    present = {m: (data / "models" / f, t) for m, (f, t) in MODELS.items() if (data / "models" / f).is_dir()}
    if "yolov8n" not in present:
        pytest.skip("yolov8n_int8_openvino_model is absent from the shared data")
    return present


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, served: dict[str, tuple[Path, str]]) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("platform-daemon")
    extra = {"server": {"max_body_mb": MAX_BODY_MB}, "url_fetch": {"allow": ["127.0.0.1"]}}
    d = start_daemon(tmp, link_models(tmp, {m: f for m, (f, _) in served.items()}), extra=extra, timeout=300)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def image_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving bus.jpg, for ``source`` URLs."""
    root = tmp_path_factory.mktemp("images")
    (root / "bus.jpg").write_bytes(ultralytics_asset("bus.jpg").read_bytes())
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[Any]:
    with Platform(api_key=daemon.api_key, base_url=daemon.base_url, max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def bus() -> bytes:
    return ultralytics_asset("bus.jpg").read_bytes()


@functools.lru_cache(maxsize=None)
def reference(folder: Path, task: str, image: Path) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """Ultralytics on the same OpenVINO folder with the Platform defaults (conf 0.25, iou 0.7)."""
    from ultralytics import YOLO

    result = YOLO(str(folder), task=task).predict(str(image), conf=0.25, iou=0.7, device="cpu", verbose=False)[0]
    return result.summary(), tuple(result.orig_shape)


# ---------------------------------------------------------------- answers

def check_answer(answer: dict[str, Any], model_id: str, task: str) -> None:
    """The keys and value types of the SDK's ``ModelsPredictResponse``."""
    assert set(answer) == {"images", "metadata"}
    (image,) = answer["images"]
    assert len(image["shape"]) == 2 and all(isinstance(v, int) for v in image["shape"])
    assert set(image["speed"]) == {"preprocess", "inference", "postprocess"}
    assert all(isinstance(v, (int, float)) and v >= 0 for v in image["speed"].values())
    meta = answer["metadata"]
    assert set(meta) == {"imageCount", "classNames", "model", "task", "version", "functionTimeAlive",
                         "functionTimeCall"}
    assert meta["imageCount"] == 1 and meta["model"] == model_id and meta["task"] == task
    assert isinstance(meta["classNames"], list) and all(isinstance(n, str) for n in meta["classNames"])
    assert isinstance(meta["version"], dict) and all(isinstance(v, str) for v in meta["version"].values())
    assert meta["functionTimeAlive"] > 0 and meta["functionTimeCall"] > 0
    for item in image["results"]:
        assert {"name", "class", "confidence", "box"} <= set(item)
        assert item["name"] == meta["classNames"][item["class"]]


@pytest.mark.parametrize("model_id", list(MODELS))
def test_models_predict_matches_ultralytics(client: Any, served: dict[str, tuple[Path, str]], bus: bytes,
                                            model_id: str) -> None:
    if model_id not in served:
        pytest.skip(f"{MODELS[model_id][0]} is absent from the shared data")
    folder, task = served[model_id]
    answer = client.models.predict("me", "edge", model_id, body={"file": ("bus.jpg", bus, "image/jpeg")})
    check_answer(answer, model_id, task)
    ref, shape = reference(folder, task, ultralytics_asset("bus.jpg"))
    ours = answer["images"][0]["results"]
    assert answer["images"][0]["shape"] == list(shape)
    fig = ParityFigures()
    fig.match(ours, ref, f"{model_id} bus.jpg", min_iou=0.99, max_conf_gap=0.01)
    assert not fig.failures, fig.failures
    assert sorted(o["class"] for o in ours) == sorted(r["class"] for r in ref)
    if task == "pose":
        check_keypoints(ours, ref)
    if task == "segment":
        assert all(len(o["segments"]["x"]) == len(o["segments"]["y"]) > 2 for o in ours)


def check_keypoints(ours: list[dict[str, Any]], ref: list[dict[str, Any]]) -> None:
    """Each reference instance's nearest box of ours has keypoints within 2 px and visible within 0.01."""
    for r in ref:
        o = min(ours, key=lambda o: sum(abs(o["box"][k] - r["box"][k]) for k in ("x1", "y1", "x2", "y2")))
        dist = np.hypot(np.subtract(o["keypoints"]["x"], r["keypoints"]["x"]),
                        np.subtract(o["keypoints"]["y"], r["keypoints"]["y"]))
        assert dist.max() <= 2.0, dist
        assert np.abs(np.subtract(o["keypoints"]["visible"], r["keypoints"]["visible"])).max() <= 0.01


def test_deployments_predict_gives_the_same_answer(client: Any, bus: bytes) -> None:
    body = {"file": ("bus.jpg", bus, "image/jpeg")}
    by_model = client.models.predict("me", "edge", "yolov8n", body=body)
    by_deployment = client.deployments.predict("me", "yolov8n", body=body)
    check_answer(by_deployment, "yolov8n", "detect")
    assert by_deployment["images"][0]["results"] == by_model["images"][0]["results"]


def test_options(client: Any, bus: bytes) -> None:
    body = {"file": ("bus.jpg", bus, "image/jpeg")}
    full = client.models.predict("me", "edge", "yolov8n", body=body)["images"][0]["results"]
    options = {"conf": 0.5, "normalize": True, "decimals": 2, "classes": "0", "max_det": 2}
    some = client.models.predict("me", "edge", "yolov8n", body={**body, **options})["images"][0]["results"]
    assert 0 < len(some) <= 2
    assert all(o["class"] == 0 and o["confidence"] >= 0.5 for o in some)
    assert all(0 <= v <= 1 and round(v, 2) == v for o in some for v in o["box"].values())
    assert len(some) <= len([o for o in full if o["class"] == 0])


@pytest.mark.parametrize("encode", [
    lambda b: base64.b64encode(b).decode(),
    lambda b: "data:image/jpeg;base64," + base64.b64encode(b).decode(),
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
], ids=["plain", "data-url", "urlsafe-unpadded"])
def test_source_base64(client: Any, bus: bytes, encode: Any) -> None:
    by_file = client.models.predict("me", "edge", "yolov8n", body={"file": ("bus.jpg", bus, "image/jpeg")})
    by_source = client.models.predict("me", "edge", "yolov8n", body={"source": encode(bus)})
    assert by_source["images"][0]["results"] == by_file["images"][0]["results"]


def test_source_url(client: Any, image_host: str, bus: bytes) -> None:
    by_file = client.models.predict("me", "edge", "yolov8n", body={"file": ("bus.jpg", bus, "image/jpeg")})
    by_url = client.deployments.predict("me", "yolov8n", body={"source": f"{image_host}/bus.jpg"})
    assert by_url["images"][0]["results"] == by_file["images"][0]["results"]


@pytest.fixture(scope="module")
def classify_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Path]]:
    """A 224x224 fixed-shape classifier built from yolov8n-cls.yaml (seed 0), exported FP32, served."""
    pytest.importorskip("torch")
    from tests.support import parity

    folder = parity.export_openvino("yolov8n-cls.yaml", 224, seed=0)
    tmp = tmp_path_factory.mktemp("classify-daemon")
    d = start_daemon(tmp, link_models(tmp, {"yolov8n-cls": folder}), timeout=300)
    yield d, folder
    d.stop()


@pytest.mark.slow
def test_classify_answers_top5(classify_daemon: tuple[Daemon, Path], bus: bytes) -> None:
    """No imgsz: the 224 model runs at 224 (not a 400 for the default 640); five items, best first."""
    daemon, folder = classify_daemon
    with Platform(api_key=daemon.api_key, base_url=daemon.base_url, max_retries=0) as c:
        answer = c.deployments.predict("me", "yolov8n-cls", body={"file": ("bus.jpg", bus, "image/jpeg")})
    assert answer["metadata"]["task"] == "classify" and len(answer["metadata"]["classNames"]) == 1000
    results = answer["images"][0]["results"]
    assert len(results) == 5 and all(set(r) == {"name", "class", "confidence"} for r in results)
    confidences = [r["confidence"] for r in results]
    assert confidences == sorted(confidences, reverse=True)
    from ultralytics import YOLO

    probs = YOLO(str(folder), task="classify").predict(str(ultralytics_asset("bus.jpg")), verbose=False,
                                                       device="cpu")[0].probs.data.numpy()
    fifth = np.sort(probs)[-5]
    for r in results:  # near-ties may swap places; every class we name is within 1e-3 of the reference's top 5
        assert abs(r["confidence"] - probs[r["class"]]) <= 1e-3
        assert probs[r["class"]] >= fifth - 1e-3


# ---------------------------------------------------------------- errors, as the SDK sees them

def sdk_error(call: Any) -> Any:
    with pytest.raises(APIError) as info:
        call()
    body = info.value.json
    assert isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return info.value


@pytest.mark.parametrize("key, model_id, body, status", [
    ("wrong-key", "yolov8n", {}, 401),
    ("", "yolov8n", {}, 401),
    (None, "no-such-model", {}, 404),
    (None, "yolov8n", {"conf": 2}, 400),
    (None, "yolov8n", {"imgsz": "big"}, 400),
    (None, "yolov8n", {"source": "not base64 !"}, 400),
    (None, "yolov8n", {"source": "http://192.0.2.1/x.jpg"}, 400),  # not in url_fetch.allow
    (None, "yolov8n", {"source": None, "conf": 0.5}, 400),  # a form without an image
])
def test_errors(daemon: Daemon, bus: bytes, key: str | None, model_id: str, body: dict[str, Any],
                status: int) -> None:
    if "source" not in body:
        body = {**body, "file": ("bus.jpg", bus, "image/jpeg")}
    body = {k: v for k, v in body.items() if v is not None}
    with Platform(api_key=daemon.api_key if key is None else key, base_url=daemon.base_url, max_retries=0) as c:
        assert sdk_error(lambda: c.models.predict("me", "edge", model_id, body=body)).status_code == status
        assert sdk_error(lambda: c.deployments.predict("me", model_id, body=body)).status_code == status


def test_body_too_large(client: Any) -> None:
    big = b"\xff\xd8" + bytes(int(MAX_BODY_MB * 1024 * 1024) + 1024)
    error = sdk_error(lambda: client.models.predict("me", "edge", "yolov8n", body={"file": ("big.jpg", big)}))
    assert error.status_code == 413


# ---------------------------------------------------------------- states the daemon reaches only briefly

def not_ready_app(rate_per_key: float = 0) -> web.Application:
    """The Platform routes on an app serving no model and never ready (as while reloading or stopping)."""
    config = config_from_dict({})
    app = web.Application(middlewares=[error_middleware])
    state = ServiceState(config, KeyRing([digest("k")]))
    state.swap(Serving(config, state.boot_keys, Engine("CPU"), ModelSet(), Predictor(None, 0)))  # type: ignore[arg-type]
    app[STATE] = state
    app[LIMITER] = RateLimiter(rate_per_key)
    add_platform_routes(app)
    app.router.add_post("/v1/predict/{model_id}", predict_v1)
    return app


@pytest.fixture
async def app_client(aiohttp_server: Any) -> Any:
    app = not_ready_app()
    return app, await aiohttp_server(app)


async def test_not_ready_is_503_with_retry_after(app_client: Any) -> None:
    app, server = app_client
    async with AsyncPlatform(api_key="k", base_url=str(server.make_url("/")), max_retries=0) as c:
        with pytest.raises(APIError) as info:
            await c.models.predict("me", "edge", "yolov8n", body={"file": ("x.jpg", b"x")})
    assert info.value.status_code == 503 and set(info.value.json) == {"error"}


async def test_rate_limited_is_429_with_retry_after(aiohttp_server: Any, aiohttp_client: Any) -> None:
    """The per-key limiter (checked with the key) answers the Platform routes too."""
    server = await aiohttp_server(not_ready_app(rate_per_key=0.01))  # one request, then one per 100 s
    async with AsyncPlatform(api_key="k", base_url=str(server.make_url("/")), max_retries=0) as c:
        for status in (503, 429):  # the first passes the limiter and meets "not ready"
            with pytest.raises(APIError) as info:
                await c.deployments.predict("me", "yolov8n", body={"file": ("x.jpg", b"x")})
            assert info.value.status_code == status and set(info.value.json) == {"error"}
    r = await (await aiohttp_client(server)).post("/api/models/me/edge/yolov8n/predict",
                                                  headers={"Authorization": "Bearer k"})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert "too many requests" in (await r.json())["error"]


async def test_raw_statuses_and_envelopes(app_client: Any, aiohttp_client: Any) -> None:
    """Retry-After on 503; the HUB routes keep their own envelope beside the Platform's."""
    app, server = app_client
    client = await aiohttp_client(server)
    r = await client.post("/api/models/me/edge/yolov8n/predict", headers={"Authorization": "Bearer k"})
    assert r.status == 503 and int(r.headers["Retry-After"]) >= 1 and set(await r.json()) == {"error"}
    r = await client.post("/api/deployments/me/yolov8n/predict")
    assert r.status == 401 and "Bearer" in (await r.json())["error"]
    r = await client.post("/v1/predict/yolov8n")
    assert r.status == 401 and (await r.json())["success"] is False


# ---------------------------------------------------------------- base64, no daemon

@pytest.mark.parametrize("text, expected", [
    (base64.b64encode(b"\xff\xd8abc").decode(), b"\xff\xd8abc"),
    ("data:image/png;base64," + base64.b64encode(b"png!").decode(), b"png!"),
    ("DATA:image/jpeg;charset=x;base64," + base64.b64encode(b"jpg").decode(), b"jpg"),
    (base64.urlsafe_b64encode(b"\xfb\xff\xfe").decode(), b"\xfb\xff\xfe"),
    ("aGVs\nbG8", b"hello"),  # line breaks, no padding
    ("not base64!", None),
    ("data:image/png,rawbytes", None),  # a data URL that is not base64
    ("data:image/png;base64,", None),  # empty
    ("abcde", None),  # impossible length
])
def test_decode_base64(text: str, expected: bytes | None) -> None:
    if expected is None:
        with pytest.raises(errors.BadRequest):
            decode_base64(text)
    else:
        assert decode_base64(text) == expected
