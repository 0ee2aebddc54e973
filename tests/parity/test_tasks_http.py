"""Segment, pose, OBB and classify through the daemon's HTTP API equal Ultralytics' ``summary()``.

The post-processing tests check each task's numpy code in-process; this one checks the whole
appliance path (upload, decode, letterbox or centre crop, engine, post-processing, JSON) per task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import requests

from tests.support import parity
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import ultralytics_asset

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


def corners(item: dict) -> np.ndarray:
    box = item["box"]
    n = len(box) // 2
    return np.array([[box[f"x{i}"], box[f"y{i}"]] for i in range(1, n + 1)])


def aabb_iou(a: dict, b: dict) -> float:
    ca, cb = corners(a), corners(b)
    (ax1, ay1), (ax2, ay2) = ca.min(0), ca.max(0)
    (bx1, by1), (bx2, by2) = cb.min(0), cb.max(0)
    iw, ih = max(0, min(ax2, bx2) - max(ax1, bx1)), max(0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - iw * ih
    return iw * ih / union if union > 0 else 1.0


def polygon_mask(item: dict, shape: tuple[int, int]) -> np.ndarray:
    poly = np.stack([item["segments"]["x"], item["segments"]["y"]], 1)
    return parity.mask_from_polygon(poly, shape)


@pytest.mark.parametrize("model_id", ["seg", "pose", "obb", "cls"])
def test_task_parity_over_http(daemon: Daemon, folders: dict[str, tuple[Path, str]], images: list[Path],
                               model_id: str) -> None:
    folder, task = folders[model_id]
    reference = ultralytics.YOLO(str(folder), task=task)
    imgsz = 224 if task == "classify" else 320 if model_id == "obb" else 640
    compared = matched = 0
    worst = {"box_iou": 1.0, "mask_iou": 1.0, "kpt_px": 0.0, "conf_gap": 0.0}
    for image in images:
        result = reference.predict(str(image), conf=0.25, iou=0.45, imgsz=imgsz, verbose=False)[0]
        theirs = result.summary()
        ours = ask(daemon, model_id, image, confidence=0.25, iou=0.45, size=imgsz)
        assert len(ours) == len(theirs), (image.name, len(ours), len(theirs))
        if task == "classify":
            assert [o["class"] for o in ours] == [t["class"] for t in theirs], image.name
            gap = max(abs(o["confidence"] - t["confidence"]) for o, t in zip(ours, theirs))
            assert gap <= 1e-3
            worst["conf_gap"] = max(worst["conf_gap"], gap)
            compared += len(theirs)
            matched += len(theirs)
            continue
        used: set[int] = set()
        for t in theirs:
            compared += 1
            candidates = [(aabb_iou(o, t), j) for j, o in enumerate(ours) if j not in used and o["class"] == t["class"]]
            assert candidates, f"{image.name}: no match for {t['name']}"
            iou, j = max(candidates)
            used.add(j)
            o = ours[j]
            worst["box_iou"] = min(worst["box_iou"], iou)
            worst["conf_gap"] = max(worst["conf_gap"], abs(o["confidence"] - t["confidence"]))
            assert iou >= 0.99 and abs(o["confidence"] - t["confidence"]) <= 0.01, (image.name, iou)
            if task == "segment":
                m_iou = parity.mask_iou(polygon_mask(o, result.orig_shape), polygon_mask(t, result.orig_shape))
                worst["mask_iou"] = min(worst["mask_iou"], m_iou)
                assert m_iou >= 0.90, (image.name, m_iou)
            if task == "pose":
                d = np.hypot(np.subtract(o["keypoints"]["x"], t["keypoints"]["x"]),
                             np.subtract(o["keypoints"]["y"], t["keypoints"]["y"])).max()
                worst["kpt_px"] = max(worst["kpt_px"], float(d))
                assert d <= 2.0 and np.abs(np.subtract(o["keypoints"]["visible"], t["keypoints"]["visible"])).max() <= 0.01
            matched += 1
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"parity_http_{task}.json").write_text(json.dumps({"compared": compared, "matched": matched, **worst}))
    assert compared >= (5 if task == "classify" else 8)
