"""Segment and pose checkpoints convert to INT8, gated on their own metric (mask, keypoints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conversion_fixtures import IMGSZ, coco8_yaml, convert, weights


@pytest.mark.slow
@pytest.mark.parametrize(
    ("checkpoint", "data", "task", "metric"),
    [
        ("yolo11n-seg-dq.pt", "coco8-seg", "segment", "mask_map50_95"),
        ("yolo11n-pose.pt", "coco8-pose", "pose", "pose_map50_95"),
    ],
)
def test_task_int8(checkpoint: str, data: str, task: str, metric: str, tmp_path: Path) -> None:
    from edge.model_repo import read_model_folder

    out = tmp_path / "models"
    code = convert(weights(checkpoint), "--precision", "int8", "--out", out, "--id", task, "--data",
                   coco8_yaml(tmp_path, data), "--imgsz", IMGSZ, "--holdout", "0.5", "--max-drop", "100",
                   "--bench-seconds", "0", "--no-accuracy-control")
    assert code == 0
    spec = read_model_folder(out / task)
    assert (spec.task, spec.precision) == (task, "int8")
    if task == "pose":
        assert spec.kpt_shape == (17, 3)
    acc = json.loads((out / task / "report.json").read_text())["accuracy"]
    assert acc["mode"] == "labels" and metric in acc["fp32"] and metric in acc["result"]
    assert "box_map50_95" in acc["result"]
