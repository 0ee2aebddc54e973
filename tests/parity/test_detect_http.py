"""The daemon's detections equal Ultralytics' on the same OpenVINO model and image.

Real INT8 exports, real images (24 coco128 images + bus.jpg + zidane.jpg), real HTTP. Ultralytics
is the reference: ``YOLO(<same folder>).predict(conf=0.25, iou=0.45)`` and ``Results.summary()``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.parity import ParityFigures, coco128
from tests.support.shared_data import ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

ultralytics = pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")


@pytest.fixture(scope="module")
def images(shared_data: Path) -> list[Path]:
    return coco128(shared_data, 24) + [ultralytics_asset("bus.jpg"), ultralytics_asset("zidane.jpg")]


_RESULTS: dict[tuple[str, int], dict] = {}


def reference(folder: Path, images: list[Path], imgsz: int, normalize: bool) -> dict[str, list[dict]]:
    """Ultralytics' summary() per image; its predictions are computed once per model and size."""
    key = (str(folder), imgsz)
    if key not in _RESULTS:
        model = ultralytics.YOLO(str(folder), task="detect")
        _RESULTS[key] = {p.name: model.predict(str(p), conf=0.25, iou=0.45, imgsz=imgsz, verbose=False)[0]
                         for p in images}
    return {name: result.summary(normalize=normalize) for name, result in _RESULTS[key].items()}


def ours(daemon: Daemon, model_id: str, image: Path, size: int, normalize: bool) -> list[dict]:
    with open(image, "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/{model_id}", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, data={"size": size, "confidence": 0.25, "iou": 0.45,
                                                    "normalize": str(normalize).lower()}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == "Inference complete."
    return body["data"]


@pytest.mark.parametrize("model_id", ["yolov8n", "yolo11n"])
@pytest.mark.parametrize("normalize", [False, True])
def test_detect_parity_640(detect_daemon: Daemon, detect_models: dict[str, Path], images: list[Path],
                           model_id: str, normalize: bool) -> None:
    ref = reference(detect_models[model_id], images, 640, normalize)
    figures = ParityFigures()
    for image in images:
        figures.match(ours(detect_daemon, model_id, image, 640, normalize), ref[image.name], image.name)
    figures.save(f"parity_detect_{model_id}_640{'_normalized' if normalize else ''}")
    assert figures.compared > 50, "too few reference detections to prove anything"
    assert not figures.failures, figures.failures[:10]


@pytest.fixture(scope="module")
def dynamic_export(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """yolov8n-dq.pt exported by Ultralytics with dynamic shapes, FP32: it really runs at 320."""
    tmp = tmp_path_factory.mktemp("dyn")
    weights = tmp / "yolov8n-dq.pt"
    weights.symlink_to(shared_data / "weights" / "yolov8n-dq.pt")
    out = ultralytics.YOLO(str(weights)).export(format="openvino", dynamic=True, imgsz=640, half=False)
    return Path(out)


def test_detect_parity_size_320(dynamic_export: Path, images: list[Path], tmp_path: Path) -> None:
    """size=320 runs the model at 320 (not 640): equal to Ultralytics running the same dynamic IR at 320."""
    daemon = start_daemon(tmp_path, link_models(tmp_path, {"yolov8n-dyn": dynamic_export}))
    try:
        ref320 = reference(dynamic_export, images, 320, False)
        ref640 = reference(dynamic_export, images, 640, False)
        figures = ParityFigures()
        differs_from_640 = 0
        for image in images:
            got = ours(daemon, "yolov8n-dyn", image, 320, False)
            figures.match(got, ref320[image.name], image.name)
            differs_from_640 += got != ours(daemon, "yolov8n-dyn", image, 640, False)
        figures.save("parity_detect_yolov8n_dynamic_320")
    finally:
        daemon.stop()
    assert figures.compared > 30
    assert not figures.failures, figures.failures[:10]
    assert differs_from_640 > len(images) // 2, "size=320 answers look like 640 answers"
    assert ref320 != ref640
