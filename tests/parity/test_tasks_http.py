"""Segment, pose, OBB and classify through the daemon's HTTP API equal Ultralytics' ``summary()``.

The post-processing tests check each task's numpy code in-process; this one checks the whole
appliance path (upload, decode, letterbox or centre crop, engine, post-processing, JSON) per task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import parity
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import ultralytics_asset
from tests.support.summary_items import WORST, compare_items

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

ultralytics = pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")


@pytest.fixture(scope="module")
def folders(shared_data: Path) -> dict[str, tuple[Path, str]]:
    return {
        "seg": (shared_data / "models" / "yolo11n-seg_int8_openvino_model", "segment"),
        "pose": (shared_data / "models" / "yolov8n-pose_int8_openvino_model", "pose"),
        "obb": (parity.export_openvino("yolov8n-obb.yaml", 320, seed=0), "obb"),
        "cls": (parity.export_openvino("yolov8n-cls.yaml", 224, seed=0), "classify"),
    }


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, tuple[Path, str]]) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("tasks-daemon")
    d = start_daemon(tmp, link_models(tmp, {k: v[0] for k, v in folders.items()}))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def images(shared_data: Path) -> list[Path]:
    return [ultralytics_asset("bus.jpg"), ultralytics_asset("zidane.jpg")] + parity.coco_images(shared_data, "coco8-seg", 4)


def ask(daemon: Daemon, model_id: str, image: Path, **fields: object) -> list[dict]:
    with open(image, "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/{model_id}", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, data=fields, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.parametrize("model_id", ["seg", "pose", "obb", "cls"])
def test_task_parity_over_http(daemon: Daemon, folders: dict[str, tuple[Path, str]], images: list[Path],
                               model_id: str) -> None:
    folder, task = folders[model_id]
    reference = ultralytics.YOLO(str(folder), task=task)
    imgsz = 224 if task == "classify" else 320 if model_id == "obb" else 640
    compared = 0
    worst = dict(WORST)
    for image in images:
        result = reference.predict(str(image), conf=0.25, iou=0.45, imgsz=imgsz, verbose=False)[0]
        ours = ask(daemon, model_id, image, confidence=0.25, iou=0.45, size=imgsz)
        compared += compare_items(ours, result.summary(), task, result.orig_shape, worst, image.name)
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"parity_http_{task}.json").write_text(json.dumps({"compared": compared, "matched": compared, **worst}))
    assert compared >= (5 if task == "classify" else 8)
