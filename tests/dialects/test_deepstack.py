"""The DeepStack / CodeProject.AI dialect, driven by the real clients from PyPI (``deepstack-python``,
``codeproject-ai-api``) and by Frigate's ``deepstack`` detector as its source reads answers; every
answer is checked against the HUB answer for the same image and model on the same daemon."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from tests.dialects.conftest import hub, one_json_body
from tests.support.daemon import Daemon
from tests.support.frigate_client import FrigateDeepStack
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.shared_data]

deepstack = pytest.importorskip("deepstack.core", reason="pip install deepstack-python (the test extra)")
codeprojectai = pytest.importorskip("codeprojectai.core", reason="pip install codeproject-ai-api (the test extra)")

MAX_PREDICTIONS = 20  # dialects.deepstack_max_predictions, default


def host_port(daemon: Daemon) -> tuple[str, int]:
    host, port = daemon.base_url.removeprefix("http://").split(":")
    return host, int(port)


def same_as_hub(predictions: list[dict[str, Any]], reference: list[dict[str, Any]]) -> None:
    """Same detections in the same order: labels, integer boxes (``int()`` of HUB's floats, which are
    rounded to 5 decimals, hence the 1 px allowance) and confidences within rounding."""
    assert len(predictions) == len(reference), (predictions, reference)
    for p, r in zip(predictions, reference):
        assert p["label"] == r["name"]
        assert abs(p["confidence"] - r["confidence"]) <= 1e-5
        for ours, theirs in (("x_min", "x1"), ("y_min", "y1"), ("x_max", "x2"), ("y_max", "y2")):
            assert isinstance(p[ours], int) and abs(p[ours] - int(r["box"][theirs])) <= 1
    confidences = [p["confidence"] for p in predictions]
    assert confidences == sorted(confidences, reverse=True)


# ---------------------------------------------------------------- deepstack-python

DEFAULT = "yolo11n"  # no dialects.detect_model: the first box model by MODEL_ID


@pytest.mark.parametrize("custom_model, model_id", [("", DEFAULT), ("yolov8n", "yolov8n"), ("yolo11n", "yolo11n")],
                         ids=["detection", "custom-yolov8n", "custom-yolo11n"])
@pytest.mark.parametrize("min_confidence", [0.4, 0.25, 0.7])
def test_deepstack_python_matches_hub(keyed: Daemon, images: dict[str, bytes], custom_model: str, model_id: str,
                                      min_confidence: float) -> None:
    ip, port = host_port(keyed)
    client = deepstack.DeepstackObject(ip=ip, port=port, api_key=keyed.api_key, min_confidence=min_confidence,
                                       custom_model=custom_model)
    found = 0
    for name, image in images.items():
        predictions = client.detect(image)
        same_as_hub(predictions, hub(keyed, model_id, image, min_confidence, MAX_PREDICTIONS))
        found += len(predictions)
    assert found > 0


def test_deepstack_python_errors(keyed: Daemon, images: dict[str, bytes]) -> None:
    """The client's own exceptions: 401 for a wrong key, 'Bad url' (404) for an unknown custom model."""
    ip, port = host_port(keyed)
    image = next(iter(images.values()))
    with pytest.raises(deepstack.DeepstackException, match="status code: 401"):
        deepstack.DeepstackObject(ip=ip, port=port, api_key="wrong").detect(image)
    with pytest.raises(deepstack.DeepstackException, match="Bad url"):
        deepstack.DeepstackObject(ip=ip, port=port, api_key=keyed.api_key, custom_model="nosuch").detect(image)
    assert deepstack.DeepstackObject(ip=ip, port=port, api_key=keyed.api_key).detect(image) is not None


def test_full_answer(keyed: Daemon, images: dict[str, bytes]) -> None:
    """CodeProject.AI's fields (a superset of DeepStack's), one JSON body with a length."""
    image = images["000000000036.jpg"] if "000000000036.jpg" in images else next(iter(images.values()))
    r = requests.post(keyed.base_url + "/v1/vision/detection", files={"image": ("x.jpg", image)},
                      data={"api_key": keyed.api_key}, timeout=60)
    one_json_body(r)
    body = r.json()
    assert {"success", "message", "count", "predictions", "inferenceMs", "processMs", "analysisRoundTripMs",
            "duration", "code", "command", "moduleId", "moduleName", "requestId", "inferenceDevice",
            "processedBy", "timestampUTC"} <= set(body)
    assert body["success"] is True and body["code"] == 200 and body["command"] == "detect"
    assert body["count"] == len(body["predictions"]) > 0
    assert body["message"].startswith("Found " + body["predictions"][0]["label"])
    assert all(isinstance(body[k], int) and body[k] >= 0 for k in ("inferenceMs", "processMs", "analysisRoundTripMs"))
    assert all(set(p) == {"label", "confidence", "x_min", "y_min", "x_max", "y_max"} for p in body["predictions"])


def test_key_in_header_or_form(keyed: Daemon, images: dict[str, bytes]) -> None:
    """DeepStack's form ``api_key``, or our ``x-api-key`` / Bearer headers: any served key passes."""
    image = next(iter(images.values()))
    url = keyed.base_url + "/v1/vision/detection"
    for headers, data in (({}, {"api_key": keyed.api_key}), ({"x-api-key": keyed.api_key}, {}),
                          ({"Authorization": f"Bearer {keyed.api_key}"}, {})):
        r = requests.post(url, headers=headers, data=data, files={"image": ("x.jpg", image)}, timeout=60)
        assert r.status_code == 200 and r.json()["success"] is True, r.text
    r = requests.post(url, files={"image": ("x.jpg", image)}, timeout=60)
    assert r.status_code == 401 and "api_key" in r.json()["error"]


# ---------------------------------------------------------------- codeproject-ai-api, no key (require_key: false)

def test_codeproject_client_without_key(keyless: Daemon, images: dict[str, bytes]) -> None:
    ip, port = host_port(keyless)
    client = codeprojectai.CodeProjectAIObject(ip=ip, port=port, min_confidence=0.4)
    for image in images.values():
        same_as_hub(client.detect(image), hub(keyless, "yolov8n", image, 0.4, MAX_PREDICTIONS))
    custom = codeprojectai.CodeProjectAIObject(ip=ip, port=port, min_confidence=0.4, custom_model="yolov8n")
    assert custom.detect(next(iter(images.values()))) == client.detect(next(iter(images.values())))
    # the HUB routes of the same daemon still need a key
    r = requests.post(keyless.base_url + "/v1/predict/yolov8n", files={"image": ("x.jpg", b"x")}, timeout=10)
    assert r.status_code == 401


# ---------------------------------------------------------------- listing and status, as Blue Iris and Agent DVR call them

def test_custom_list(keyed: Daemon, keyless: Daemon) -> None:
    r = requests.post(keyed.base_url + "/v1/vision/custom/list", data={"api_key": keyed.api_key}, timeout=10)
    one_json_body(r)
    assert r.json()["success"] is True and r.json()["models"] == ["yolo11n", "yolov8n"]
    assert requests.post(keyed.base_url + "/v1/vision/custom/list", timeout=10).status_code == 401
    r = requests.post(keyless.base_url + "/v1/vision/custom/list", timeout=10)  # no body at all, as curl -X POST
    assert r.status_code == 200 and r.json()["models"] == ["yolov8n"]


@pytest.mark.parametrize("prefix", ["/v1/status", "/v1/server/status"])
@pytest.mark.parametrize("route", ["ping", "version", "updateavailable"])
def test_status_routes(keyed: Daemon, prefix: str, route: str) -> None:
    r = requests.get(f"{keyed.base_url}{prefix}/{route}", timeout=10)  # open, as CodeProject.AI's
    one_json_body(r)
    body = r.json()
    assert body["success"] is True and body["code"] == 200 and isinstance(body["hostname"], str)
    assert {"major", "minor", "patch", "preRelease", "build"} <= set(body["version"])
    if route == "updateavailable":
        assert body["updateAvailable"] is False and body["current"] == body["latest"]
    else:
        assert body["message"] == "{major}.{minor}.{patch}".format(**body["version"])


# ---------------------------------------------------------------- Frigate's deepstack detector

def coco80(keyed: Daemon) -> dict[int, str]:
    """Frigate's coco-80 labelmap is the model's own class list."""
    r = requests.get(keyed.base_url + "/v1/models", headers={"x-api-key": keyed.api_key}, timeout=10)
    model = next(m for m in r.json()["data"] if m["id"] == "yolov8n")
    return {int(i): n.lower() for i, n in model["classes"].items()}


def region(image: bytes, size: int = 320, tiles: int = 1) -> np.ndarray:
    """What Frigate hands its detector: the region resized to the model input, (1, size, size, 3) RGB u8."""
    rgb = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    rgb = np.tile(rgb, (tiles, tiles, 1))
    return np.asarray(Image.fromarray(rgb).resize((size, size)))[None]


def frigate_rows(detector: FrigateDeepStack, reference: list[dict[str, Any]], h: int, w: int) -> np.ndarray:
    """The rows Frigate would fill from the HUB answer for the same JPEG."""
    expected = np.zeros((20, 6), np.float32)
    for i, r in enumerate(reference):
        b = r["box"]
        expected[i] = [detector.label_index(r["name"]), r["confidence"], int(b["y1"]) / h, int(b["x1"]) / w,
                       int(b["y2"]) / h, int(b["x2"]) / w]
    return expected


def test_frigate_deepstack_detector(keyed: Daemon, images: dict[str, bytes]) -> None:
    detector = FrigateDeepStack(keyed.base_url + "/v1/vision/detection", keyed.api_key, coco80(keyed))
    for image in images.values():
        tensor = region(image)
        rows = detector.detect_raw(tensor)
        reference = hub(keyed, DEFAULT, FrigateDeepStack.encode(tensor), 0.4, MAX_PREDICTIONS)
        assert np.allclose(rows, frigate_rows(detector, reference, 320, 320), atol=1.01 / 320)
        assert (rows[:, 1] > 0).sum() == len(reference)


def test_frigate_crowded_region_fills_20_rows(keyed: Daemon) -> None:
    """A region holding more objects than Frigate's 20 rows: the answer stops at 20 (a 21st would raise
    IndexError in Frigate's loop), the best 20."""
    crowd = require_shared_data() / "coco128" / "images" / "train2017" / "000000000438.jpg"
    if not crowd.is_file():
        pytest.skip(f"{crowd} is absent")
    detector = FrigateDeepStack(keyed.base_url + "/v1/vision/detection", keyed.api_key, coco80(keyed))
    tensor = region(crowd.read_bytes(), 640, tiles=2)
    sent = FrigateDeepStack.encode(tensor)
    assert len(hub(keyed, DEFAULT, sent, 0.4)) > 20, "the region is not crowded enough to test the cap"
    rows = detector.detect_raw(tensor)
    assert (rows[:, 1] >= 0.4).all()
    assert np.allclose(rows, frigate_rows(detector, hub(keyed, DEFAULT, sent, 0.4, 20), 640, 640), atol=1.01 / 640)
