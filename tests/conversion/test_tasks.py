"""Segment and pose checkpoints convert to INT8, gated on their own metric (mask, keypoints); classify and
OBB models (seeded yamls) convert at FP32/FP16/INT8, are gated (top-1/top-5, rotated-box agreement)
and are served by the daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.conversion import IMGSZ, coco8_yaml, convert, weights
from tests.support.parity import graph_precision

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("checkpoint", "data", "task", "metric"),
    [
        ("yolo11n-seg-dq.pt", "coco8-seg", "segment", "mask_map50_95"),
        ("yolo11n-pose.pt", "coco8-pose", "pose", "pose_map50_95"),
    ],
)
def test_task_int8(checkpoint: str, data: str, task: str, metric: str, tmp_path: Path) -> None:
    from edge.inference.repository import read_model_folder

    out = tmp_path / "models"
    code = convert(weights(checkpoint), "--precision", "int8", "--out", out, "--id", task, "--data",
                   coco8_yaml(tmp_path, data), "--imgsz", IMGSZ, "--holdout", "0.5", "--max-drop", "100",
                   "--bench-seconds", "0", "--no-accuracy-control")
    assert code == 0
    spec = read_model_folder(out / task)
    assert (spec.task, graph_precision(spec.xml)) == (task, "int8")
    if task == "pose":
        assert spec.kpt_shape == (17, 3)
    acc = json.loads((out / task / "report.json").read_text())["accuracy"]
    assert acc["mode"] == "labels" and metric in acc["fp32"] and metric in acc["result"]
    assert "box_map50_95" in acc["result"]


# ------------------------------------------------------------------ classify and OBB (seeded yaml models)

#: (bundle id, model yaml, precision, data layout, imgsz): classify is gated on class folders
#: (top-1/top-5) at FP16 and on agreement at INT8; OBB (no labelled OBB data here) on agreement.
NEW_TASKS = [
    ("cls-fp32", "yolov8n-cls.yaml", "fp32", "plain", "64"),
    ("cls-fp16", "yolov8n-cls.yaml", "fp16", "class_folders", "64"),
    ("cls-int8", "yolov8n-cls.yaml", "int8", "plain", "64"),
    ("obb-fp32", "yolov8n-obb.yaml", "fp32", "plain", "64"),
    ("obb-int8", "yolov8n-obb.yaml", "int8", "plain", "64"),
]


def _class_folders(folder: Path, images: Path, names: dict[int, str]) -> Path:
    """An ImageNet-style folder: the images spread over subfolders named after the first classes."""
    import shutil

    for i, jpg in enumerate(sorted(images.glob("*.jpg"))):
        (folder / names[i % 3]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(jpg, folder / names[i % 3] / jpg.name)
    return folder


@pytest.fixture(scope="module")
def new_task_bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every NEW_TASKS conversion, written into one models folder."""
    from ultralytics import YOLO

    from tests.support.conversion import images_folder, yaml_checkpoint

    tmp = tmp_path_factory.mktemp("new_tasks")
    plain = images_folder(tmp / "images", 8)
    out = tmp / "models"
    checkpoints: dict[str, Path] = {}
    for model_id, cfg, precision, layout, imgsz in NEW_TASKS:
        if cfg not in checkpoints:
            checkpoints[cfg] = yaml_checkpoint(tmp, cfg, spread=True)
        data = plain
        if layout == "class_folders":
            data = _class_folders(tmp / "classes", plain, YOLO(str(checkpoints[cfg])).names)
        code = convert(checkpoints[cfg], "--precision", precision, "--out", out, "--id", model_id, "--data", data,
                       "--imgsz", imgsz, "--max-drop", "100", "--bench-seconds", "0", "--no-accuracy-control",
                       "--force")  # random weights may find too few objects for agreement to judge
        assert code == 0, model_id
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("model_id", "cfg", "precision", "layout", "imgsz"), NEW_TASKS)
def test_new_task_bundle(new_task_bundles: Path, model_id: str, cfg: str, precision: str, layout: str,
                         imgsz: str) -> None:
    """Metadata names the task; FP16/INT8 were gated on the task's own metrics and said so in report.json."""
    from edge.inference.repository import read_model_folder

    task = "classify" if "-cls" in cfg else "obb"
    spec = read_model_folder(new_task_bundles / model_id)
    assert (spec.task, graph_precision(spec.xml), spec.imgsz) == (task, precision, (int(imgsz), int(imgsz)))
    report = json.loads((new_task_bundles / model_id / "report.json").read_text())
    assert report["source"]["task"] == task
    if precision == "fp32":
        assert "accuracy" not in report
        return
    acc = report["accuracy"]
    expected = {
        ("classify", "class_folders"): ("labels", {"top1_acc", "top5_acc"}),
        ("classify", "plain"): ("agreement", {"top1_agreement", "top5_overlap"}),
        ("obb", "plain"): ("agreement", {"box_map50_95", "box_map50"}),
    }[(task, layout)]
    assert (acc["mode"], set(acc["fp32"]), set(acc["result"])) == (expected[0], expected[1], expected[1])
    assert acc["passed"] and acc["images"] >= 2
    if task == "classify" and acc["mode"] == "agreement":  # FP32 against itself agrees fully
        assert acc["fp32"] == {"top1_agreement": 1.0, "top5_overlap": 1.0}
    if precision == "int8":
        assert report["quantization"]["attempts"][0]["drop_points"] == acc["drop_points"]
    assert "## Accuracy" in (new_task_bundles / model_id / "report.md").read_text()


@pytest.mark.slow
def test_daemon_serves_new_tasks(new_task_bundles: Path, tmp_path: Path) -> None:
    """The daemon serves every classify and OBB bundle and answers predict with the task's items."""
    import requests

    from tests.support.daemon import start_daemon
    from tests.support.shared_data import ultralytics_asset

    daemon = start_daemon(tmp_path, new_task_bundles)
    try:
        key = {"x-api-key": daemon.api_key}
        for model_id, *_ in NEW_TASKS:
            with open(ultralytics_asset("bus.jpg"), "rb") as f:
                response = requests.post(daemon.base_url + f"/v1/predict/{model_id}", headers=key,
                                         files={"image": f}, data={"confidence": "0.01"}, timeout=60)
            assert response.status_code == 200, (model_id, response.text)
            items = response.json()["data"]
            if model_id.startswith("cls"):
                assert 1 <= len(items) <= 5
                assert all(set(i) == {"name", "class", "confidence"} for i in items)
                assert [i["confidence"] for i in items] == sorted((i["confidence"] for i in items), reverse=True)
            else:
                assert items, "random spread weights give boxes above 0.01"
                for item in items:
                    assert set(item["box"]) == {f"{c}{j}" for c in "xy" for j in range(1, 5)}
    finally:
        daemon.stop()


@pytest.mark.parametrize(
    ("predictions", "truth", "expected"),
    [
        ([[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5]], (1.0, 1.0)),
        ([[2, 1, 3, 4, 5]], [[1, 2, 3, 4, 9]], (0.0, 0.8)),
        ([[7, 8, 9, 10, 11], [1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5], [1, 0, 6, 7, 8]], (0.5, 0.1)),
    ],
)
def test_classify_agreement(predictions: list[list[int]], truth: list[list[int]], expected: tuple[float, float]) -> None:
    import numpy as np

    from conversion.classify_eval import agreement

    got = agreement([np.array(p) for p in predictions], [np.array(t) for t in truth])
    assert (got["top1_agreement"], got["top5_overlap"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("predictions", "labels", "expected"),
    [
        ([[1, 2, 3, 4, 5]], [1], (1.0, 1.0)),
        ([[1, 2, 3, 4, 5]], [5], (0.0, 1.0)),
        ([[1, 2, 3, 4, 5], [0, 1, 2, 3, 4]], [9, 0], (0.5, 0.5)),
    ],
)
def test_classify_accuracy(predictions: list[list[int]], labels: list[int], expected: tuple[float, float]) -> None:
    import numpy as np

    from conversion.classify_eval import accuracy

    got = accuracy([np.array(p) for p in predictions], labels)
    assert (got["top1_acc"], got["top5_acc"]) == pytest.approx(expected)
