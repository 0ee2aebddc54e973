"""OBB parity: our numpy post-processing and rotated NMS against ``ultralytics.YOLO`` on one IR.

The model is built from ``yolov8n-obb.yaml`` with a fixed seed and random weights (re-drawn by
``parity.spread_weights`` so the output depends on the image) and exported to OpenVINO at 320.
These weights give confident boxes, so the usual conf 0.25 applies. Every instance must match one
of Ultralytics' (same class, IoU >= 0.99 of the axis-aligned bounds, confidence within 0.01) and its
four corners must be within 1 px of Ultralytics' ``xyxyxyxy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from edge.inference.postprocess.nms_rotated import fast_nms_rotated, probiou
from edge.inference.prediction import Prediction
from edge.inference.summary import summarize
from tests.support import parity

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

IMGSZ = 320
OPTIONS = PredictOptions(size=IMGSZ, confidence=parity.CONF, iou=parity.IOU)


@pytest.fixture(scope="module")
def obb_folder() -> Path:
    pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")
    return parity.export_openvino("yolov8n-obb.yaml", IMGSZ, seed=0)


def test_obb_matches_ultralytics(obb_folder: Path) -> None:
    key = "obb-random-fp32"
    worst_corner = [0.0]

    def corners_present(ours: Prediction) -> None:
        assert ours.obb_corners is not None and ours.obb_corners.shape == (len(ours), 4, 2)

    def corners(ours: Any, theirs: Any, i: int, j: int, where: str, fig: parity.Figures) -> None:
        corner = float(np.abs(ours.obb_corners[i] - theirs.obb.xyxyxyxy.numpy()[j]).max())
        worst_corner[0] = max(worst_corner[0], corner)
        assert corner <= 1.0, f"{where}: a corner is {corner:.3f} px away"

    images = parity.assets() + parity.coco_images(parity.require_data(), "coco8", extra=12)
    fig = parity.compare_instances(key, obb_folder, "obb", images, OPTIONS, corners_present, corners)
    fig.notes.append(f"worst corner distance {worst_corner[0]:.4f} px")
    assert fig.matched > 0, "the random OBB model found nothing: the parity test compared no instance"
    parity.report(key)


def test_obb_summary_items_match_ultralytics(obb_folder: Path) -> None:
    spec = parity.spec_of(obb_folder)
    image = parity.read_image(parity.assets()[0])
    pred = parity.run_ours_letterboxed(spec, image, IMGSZ, lambda out, lb: postprocess("obb", out, lb, spec, OPTIONS))
    theirs = parity.run_ultralytics(obb_folder, "obb", image, imgsz=IMGSZ).summary()
    ours = summarize(pred, spec.names)
    assert len(ours) == len(theirs) > 0
    parity.same_shape(ours, theirs, "bus.jpg")
    for a, b in zip(sorted(ours, key=lambda x: -x["confidence"]), sorted(theirs, key=lambda x: -x["confidence"])):
        assert list(a["box"]) == ["x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4"]
        assert list(a["box"].values()) == pytest.approx(list(b["box"].values()), abs=1.0)


def test_probiou_against_ultralytics() -> None:
    """``probiou`` equals Ultralytics' ``batch_probiou`` on random rotated boxes, and Fast-NMS keeps
    exactly what ``TorchNMS.fast_nms`` keeps."""
    torch = pytest.importorskip("torch")
    from ultralytics.utils.metrics import batch_probiou
    from ultralytics.utils.nms import TorchNMS

    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(0, 100, (200, 2)), rng.uniform(2, 40, (200, 2)),
                            rng.uniform(-np.pi / 4, 3 * np.pi / 4, (200, 1))], 1).astype(np.float32)
    scores = rng.permutation(200).astype(np.float32) / 200  # distinct: torch's sort is not stable
    ref = batch_probiou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
    # float32 throughout; only self-pairs (IoU ~1, unused by NMS) differ, by < 1e-4 (exp of 1e-7)
    np.testing.assert_allclose(probiou(boxes, boxes), ref, atol=1e-4)
    for thr in (0.1, 0.45, 0.7):
        ref_keep = TorchNMS.fast_nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr, iou_func=batch_probiou)
        np.testing.assert_array_equal(fast_nms_rotated(boxes, scores, thr), ref_keep.numpy())
    assert len(fast_nms_rotated(np.zeros((0, 5), np.float32), np.zeros(0, np.float32), 0.5)) == 0
