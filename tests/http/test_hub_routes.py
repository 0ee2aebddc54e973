"""The HUB v1 API over a real socket: the seed's client examples, the model list, health, and a
table of bad requests each answered with its status and message, the daemon serving on after each."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import openvino as ov
import pytest
import requests

from tests.support.daemon import Daemon
from tests.support.shared_data import ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]


def test_seed_python_example(detect_daemon: Daemon) -> None:
    """The HUB docs' Python snippet, with only the base URL and key changed."""
    url = f"{detect_daemon.base_url}/v1/predict/yolov8n"
    headers = {"x-api-key": detect_daemon.api_key}
    data = {"size": 640, "confidence": 0.25, "iou": 0.45}
    with open(ultralytics_asset("bus.jpg"), "rb") as f:
        response = requests.post(url, headers=headers, data=data, files={"image": f})
    response.raise_for_status()
    body = response.json()
    assert body["success"] is True and body["message"] == "Inference complete."
    names = sorted(item["name"] for item in body["data"])
    assert names.count("person") >= 3 and "bus" in names
    for item in body["data"]:
        assert set(item) == {"name", "class", "confidence", "box"}
        assert set(item["box"]) == {"x1", "y1", "x2", "y2"}
        assert 0 <= item["box"]["x1"] < item["box"]["x2"] <= 810 and 0 <= item["box"]["y1"] < item["box"]["y2"] <= 1080


def test_seed_curl_example(detect_daemon: Daemon) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{detect_daemon.base_url}/v1/predict/yolov8n",
         "-H", f"x-api-key: {detect_daemon.api_key}", "-F", f"image=@{ultralytics_asset('bus.jpg')}",
         "-F", "size=640", "-F", "confidence=0.25", "-F", "iou=0.45"],
        capture_output=True, check=True, timeout=60).stdout
    body = json.loads(out)
    assert body["success"] and any(d["name"] == "bus" for d in body["data"])


def test_models_health_ready(detect_daemon: Daemon) -> None:
    base, key = detect_daemon.base_url, {"x-api-key": detect_daemon.api_key}
    assert requests.get(base + "/healthz").status_code == 200
    ready = requests.get(base + "/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    models = {m["id"]: m for m in requests.get(base + "/v1/models", headers=key).json()["data"]}
    assert set(models) == {"yolov8n", "yolo11n"}
    v8 = models["yolov8n"]
    assert v8["task"] == "detect" and v8["precision"] == "int8" and v8["device"] == "CPU"
    assert v8["imgsz"] == [640, 640] and v8["classes"]["0"] == "person" and len(v8["classes"]) == 80
    assert requests.get(base + "/v1/models").status_code == 401
    # with a key, /readyz names the configured device and what OpenVINO sees: what OpenVINO itself lists
    detail = requests.get(base + "/readyz", headers=key).json()
    core = ov.Core()
    assert detail["device"] == "CPU"
    assert set(detail["devices"]) == set(core.available_devices), detail
    assert detail["devices"]["CPU"] == core.get_property("CPU", "FULL_DEVICE_NAME")
    assert "devices" not in ready.json()  # without a key: ready and counts only


def _good(daemon: Daemon) -> None:
    with open(ultralytics_asset("bus.jpg"), "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/yolov8n", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, timeout=60)
    assert r.status_code == 200 and len(r.json()["data"]) >= 4


BUS = "bus"  # placeholder replaced by the bus.jpg bytes
BAD_REQUESTS = [
    # (case, headers, model, form fields, files, status, message fragment)
    ("missing key", {}, "yolov8n", {}, {"image": BUS}, 401, "missing API key"),
    ("wrong key", {"x-api-key": "nope"}, "yolov8n", {}, {"image": BUS}, 401, "not valid"),
    ("unknown model", None, "nosuchmodel", {}, {"image": BUS}, 404, "'nosuchmodel' is not served"),
    ("no image", None, "yolov8n", {"size": "640"}, {}, 400, "no image"),
    ("size too small", None, "yolov8n", {"size": "16"}, {"image": BUS}, 400, "size must be from 32 to 1280"),
    ("size too big", None, "yolov8n", {"size": "2000"}, {"image": BUS}, 400, "size must be from 32 to 1280"),
    ("size text", None, "yolov8n", {"size": "big"}, {"image": BUS}, 400, "size must be an integer"),
    ("size above a static model", None, "yolov8n", {"size": "1280"}, {"image": BUS}, 400, "fixed at 640x640"),
    ("confidence zero", None, "yolov8n", {"confidence": "0"}, {"image": BUS}, 400, "confidence must be from 0.01"),
    ("confidence nan", None, "yolov8n", {"confidence": "nan"}, {"image": BUS}, 400, "finite"),
    ("iou too high", None, "yolov8n", {"iou": "0.99"}, {"image": BUS}, 400, "iou must be from 0.0 to 0.95"),
    ("normalize junk", None, "yolov8n", {"normalize": "maybe"}, {"image": BUS}, 400, "normalize must be true or false"),
    ("text as image", None, "yolov8n", {}, {"image": b"hello world"}, 415, "accepted formats"),
    ("empty image", None, "yolov8n", {}, {"image": b""}, 400, "empty"),
    ("truncated jpeg", None, "yolov8n", {}, {"image": "truncated"}, 400, "truncated"),
    ("url off", None, "yolov8n", {"url": "http://127.0.0.1:9/x.jpg"}, {}, 400, "url_fetch.allow is empty"),
]


@pytest.mark.parametrize("case,headers,model,fields,files,status,message", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request(detect_daemon: Daemon, case: str, headers: dict | None, model: str, fields: dict,
                     files: dict, status: int, message: str) -> None:
    bus = ultralytics_asset("bus.jpg").read_bytes()
    payload = {name: ("x.jpg", bus if v == BUS else bus[: len(bus) // 2] if v == "truncated" else v)
               for name, v in files.items()}
    headers = {"x-api-key": detect_daemon.api_key} if headers is None else headers
    r = requests.post(f"{detect_daemon.base_url}/v1/predict/{model}", headers=headers, data=fields,
                      files=payload or None, timeout=60)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and message in body["message"], body
    _good(detect_daemon)


def test_body_too_large(tmp_path: Path, detect_models: dict[str, Path]) -> None:
    from tests.support.daemon import link_models, start_daemon
    daemon = start_daemon(tmp_path, link_models(tmp_path, {"yolov8n": detect_models["yolov8n"]}),
                          extra={"server": {"max_body_mb": 0.05}})
    try:
        r = requests.post(f"{daemon.base_url}/v1/predict/yolov8n", headers={"x-api-key": daemon.api_key},
                          files={"image": ("bus.jpg", ultralytics_asset("bus.jpg").read_bytes())}, timeout=60)
        assert r.status_code == 413 and "max_body_mb" in r.json()["message"]
        assert requests.get(daemon.base_url + "/readyz").status_code == 200
    finally:
        assert daemon.stop() == 0
