"""Segment parity: our numpy post-processing against ``ultralytics.YOLO`` on the same OpenVINO IR.

Models: the shared YOLO11n-seg INT8 IR (dynamic: both sides use the minimal letterbox rectangle)
and an FP32 export of ``yolo11n-seg-dq.pt`` made here. Each instance must match one Ultralytics
instance (same class, box IoU >= 0.99, confidence within 0.01) and the mask rasterized from our
polygon must have IoU >= 0.90 with the one rasterized from Ultralytics' ``masks.xy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from edge.inference.postprocess.segment import postprocess_segment
from edge.inference.prediction import Prediction
from edge.inference.summary import summarize
from tests.support import parity

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")

OPTIONS = PredictOptions(size=640, confidence=parity.CONF, iou=parity.IOU)


def int8_folder() -> Path:
    return parity.require(parity.require_data() / "models" / "yolo11n-seg_int8_openvino_model")


def fp32_folder() -> Path:
    pt = parity.require(parity.require_data() / "weights" / "yolo11n-seg-dq.pt")
    return parity.export_openvino(str(pt), 640)


MODELS = {"segment-int8": int8_folder, "segment-fp32": fp32_folder}


@pytest.mark.parametrize("key", list(MODELS))
def test_segment_matches_ultralytics(key: str) -> None:
    def polygons_present(ours: Prediction) -> None:
        assert ours.polygons is not None and len(ours.polygons) == len(ours)

    def masks(ours: Any, theirs: Any, i: int, j: int, where: str, fig: parity.Figures) -> None:
        mask_iou = parity.mask_iou(parity.mask_from_polygon(ours.polygons[i], ours.orig_shape),
                                   parity.mask_from_polygon(theirs.masks.xy[j], ours.orig_shape))
        fig.worst("worst_mask_iou", mask_iou, low=True)
        assert mask_iou >= 0.90, f"{where}: mask IoU {mask_iou:.4f}"

    images = parity.assets() + parity.coco_images(parity.require_data(), "coco8-seg")
    parity.compare_instances(key, MODELS[key](), "segment", images, OPTIONS, polygons_present, masks)
    parity.report(key)


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg"])
def test_segment_summary_items_match_ultralytics(name: str) -> None:
    folder = int8_folder()
    spec = parity.spec_of(folder)
    path = next(p for p in parity.assets() if p.name == name)
    image = parity.read_image(path)
    pred = parity.run_ours_letterboxed(spec, image, 640, lambda out, lb: postprocess("segment", out, lb, spec, OPTIONS))
    result = parity.run_ultralytics(folder, "segment", image, imgsz=640)
    for normalize in (False, True):
        ours = summarize(pred, spec.names, normalize=normalize)
        theirs = result.summary(normalize=normalize)
        assert len(ours) == len(theirs) > 0
        parity.same_shape(ours, theirs, name)
        scale = 1.0 if normalize else float(max(image.shape))
        for a, b in zip(ours, theirs):
            assert (a["name"], a["class"]) == (b["name"], b["class"])
            assert a["confidence"] == pytest.approx(b["confidence"], abs=0.01)
            assert list(a["box"].values()) == pytest.approx(list(b["box"].values()), abs=1e-3 * scale)
            ours_poly = np.stack([a["segments"]["x"], a["segments"]["y"]], 1)
            theirs_poly = np.stack([b["segments"]["x"], b["segments"]["y"]], 1)
            if not normalize:
                iou = parity.mask_iou(parity.mask_from_polygon(ours_poly, pred.orig_shape),
                                      parity.mask_from_polygon(theirs_poly, pred.orig_shape))
                assert iou >= 0.90


def test_segment_outputs_in_either_order_and_empty() -> None:
    """The prototypes are told apart by rank, not position; nothing above the threshold -> empty."""
    folder = int8_folder()
    spec = parity.spec_of(folder)
    image = parity.read_image(parity.assets()[0])
    lbs = []

    def both_orders(out: list[np.ndarray], lb: object) -> object:
        lbs.append(lb)
        first = postprocess_segment(out, lb, len(spec.names), OPTIONS)
        second = postprocess_segment(out[::-1], lb, len(spec.names), OPTIONS)
        np.testing.assert_array_equal(first.boxes, second.boxes)
        none = postprocess_segment(out, lb, len(spec.names), PredictOptions(confidence=0.999))
        assert len(none) == 0 and none.polygons == [] and none.boxes.shape == (0, 4)
        return first

    pred = parity.run_ours_letterboxed(spec, image, 640, both_orders)
    assert len(pred) > 0
