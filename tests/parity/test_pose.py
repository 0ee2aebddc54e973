"""Pose parity: our numpy post-processing against ``ultralytics.YOLO`` on the same OpenVINO IR.

Models: the shared YOLOv8n-pose INT8 IR (old metadata without ``args``: Ultralytics treats it as a
fixed-shape model and letterboxes to the full 640 square even though the graph is dynamic) and an
FP32 export of ``yolo11n-pose.pt`` made here. Every instance must match (same class, box IoU >= 0.99,
confidence within 0.01), every keypoint within 2 px and its ``visible`` (confidence) within 0.01.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from edge.inference.prediction import Prediction
from edge.inference.summary import summarize
from tests.support import parity

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")

OPTIONS = PredictOptions(size=640, confidence=parity.CONF, iou=parity.IOU)


def int8_folder() -> Path:
    return parity.require(parity.require_data() / "models" / "yolov8n-pose_int8_openvino_model")


def fp32_folder() -> Path:
    pt = parity.require(parity.require_data() / "weights" / "yolo11n-pose.pt")
    return parity.export_openvino(str(pt), 640)


MODELS = {"pose-int8": int8_folder, "pose-fp32": fp32_folder}


@pytest.mark.parametrize("key", list(MODELS))
def test_pose_matches_ultralytics(key: str) -> None:
    folder = MODELS[key]()
    assert parity.spec_of(folder).kpt_shape == (17, 3)

    def keypoints_present(ours: Prediction) -> None:
        assert ours.keypoints is not None and ours.keypoints.shape == (len(ours), 17, 3)

    def keypoints(ours: Any, theirs: Any, i: int, j: int, where: str, fig: parity.Figures) -> None:
        t_kpts = theirs.keypoints.data.numpy()
        dist = float(np.linalg.norm(ours.keypoints[i, :, :2] - t_kpts[j, :, :2], axis=1).max())
        vis = float(np.abs(ours.keypoints[i, :, 2] - t_kpts[j, :, 2]).max())
        fig.worst("worst_keypoint_px", dist, low=False)
        fig.worst("worst_visible_diff", vis, low=False)
        assert dist <= 2.0, f"{where}: a keypoint is {dist:.2f} px away"
        assert vis <= 0.01, f"{where}: a keypoint confidence differs by {vis:.4f}"

    images = parity.assets() + parity.coco_images(parity.require_data(), "coco8-pose")
    parity.compare_instances(key, folder, "pose", images, OPTIONS, keypoints_present, keypoints)
    parity.report(key)


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg"])
def test_pose_summary_items_match_ultralytics(name: str) -> None:
    folder = int8_folder()
    spec = parity.spec_of(folder)
    path = next(p for p in parity.assets() if p.name == name)
    image = parity.read_image(path)
    pred = parity.run_ours_letterboxed(spec, image, 640, lambda out, lb: postprocess("pose", out, lb, spec, OPTIONS))
    result = parity.run_ultralytics(folder, "pose", image, imgsz=640)
    for normalize in (False, True):
        ours = summarize(pred, spec.names, normalize=normalize)
        theirs = result.summary(normalize=normalize)
        assert len(ours) == len(theirs) > 0
        parity.same_shape(ours, theirs, name)
        tol = 1e-3 if normalize else 2.0
        for a, b in zip(ours, theirs):
            assert (a["name"], a["class"]) == (b["name"], b["class"])
            assert a["confidence"] == pytest.approx(b["confidence"], abs=0.01)
            assert list(a["box"].values()) == pytest.approx(list(b["box"].values()), abs=tol)
            assert a["keypoints"]["x"] == pytest.approx(b["keypoints"]["x"], abs=tol)
            assert a["keypoints"]["y"] == pytest.approx(b["keypoints"]["y"], abs=tol)
            assert a["keypoints"]["visible"] == pytest.approx(b["keypoints"]["visible"], abs=0.01)
