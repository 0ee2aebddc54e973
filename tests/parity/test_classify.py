"""Classify parity: our centre crop and post-processing against ``ultralytics.YOLO`` on one IR.

The model is built from ``yolov8n-cls.yaml`` with a fixed seed and random weights (re-drawn by
``parity.spread_weights``) and exported to OpenVINO at 224. Top-5 classes must be identical and
every probability within 1e-3. The exported head ends in a softmax, so the output is passed through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.inference.center_crop import resize_center_crop
from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from edge.inference.postprocess.classify import postprocess_classify
from edge.inference.summary import summarize
from tests.support import parity

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

IMGSZ = 224


@pytest.fixture(scope="module")
def cls_folder() -> Path:
    pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")
    return parity.export_openvino("yolov8n-cls.yaml", IMGSZ, seed=0)


def run_ours(folder: Path, image: np.ndarray):  # type: ignore[no-untyped-def]
    spec = parity.spec_of(folder)
    outputs = parity.infer(spec, parity.to_tensor(resize_center_crop(image, IMGSZ)))
    return spec, postprocess("classify", outputs, image.shape[:2], spec, PredictOptions())


def test_classify_matches_ultralytics(cls_folder: Path) -> None:
    data = parity.require_data()
    key = "classify-random-fp32"
    fig = parity.figures(key)
    for path in parity.assets() + parity.coco_images(data, "coco8", extra=12):
        image = parity.read_image(path)
        _, ours = run_ours(cls_folder, image)
        theirs = parity.run_ultralytics(cls_folder, "classify", image, imgsz=IMGSZ)
        assert ours.probs is not None and ours.probs.shape == (1000,)
        ours_top5 = np.argsort(-ours.probs, kind="stable")[:5].tolist()
        diff = float(np.abs(ours.probs - theirs.probs.data.numpy()).max())
        fig.images += 1
        fig.ours += 5
        fig.theirs += 5
        fig.matched += sum(a == b for a, b in zip(ours_top5, theirs.probs.top5))
        fig.worst("worst_conf_diff", diff, low=False)
        assert ours_top5 == list(theirs.probs.top5), path.name
        assert diff <= 1e-3, f"{path.name}: probabilities differ by {diff:.5f}"
    parity.report(key)


def test_classify_summary_items_match_ultralytics(cls_folder: Path) -> None:
    image = parity.read_image(parity.assets()[1])
    spec, pred = run_ours(cls_folder, image)
    theirs = parity.run_ultralytics(cls_folder, "classify", image, imgsz=IMGSZ).summary()
    ours = summarize(pred, spec.names)
    parity.same_shape(ours, theirs, "zidane.jpg")
    assert [(a["name"], a["class"]) for a in ours] == [(b["name"], b["class"]) for b in theirs]
    assert [a["confidence"] for a in ours] == pytest.approx([b["confidence"] for b in theirs], abs=1e-3)


def test_centre_crop_is_pixel_exact_with_torchvision() -> None:
    """``resize_center_crop`` gives the very pixels of Ultralytics' host transforms (PIL resize)."""
    pytest.importorskip("torchvision")
    from PIL import Image
    from ultralytics.data.augment import classify_transforms

    transforms = classify_transforms(IMGSZ).transforms[:2]
    data = parity.require_data()
    for path in parity.assets() + parity.coco_images(data, "coco8", extra=12):
        image = parity.read_image(path)
        ref = np.asarray(transforms[1](transforms[0](Image.fromarray(image))))
        np.testing.assert_array_equal(resize_center_crop(image, IMGSZ), ref, err_msg=path.name)


@pytest.mark.parametrize("raw, softmaxed", [
    (np.array([[0.1, 0.2, 0.7]], np.float32), False),  # already a distribution: passed through
    (np.array([[1.0, 2.0, 3.0]], np.float32), True),  # logits: softmax applied
])
def test_classify_applies_softmax_only_to_logits(raw: np.ndarray, softmaxed: bool) -> None:
    pred = postprocess_classify([raw], (10, 20), 3)
    assert pred.probs is not None and pred.probs.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(pred.probs, raw[0]) != softmaxed
    assert len(pred) == 0 and pred.orig_shape == (10, 20)
