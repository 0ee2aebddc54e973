"""Post-processing invariants, for any input hypothesis can think of.

- detect: every box lies inside the original image, x1 <= x2 and y1 <= y2, scores are above the
  threshold and sorted, at most ``max_det`` rows;
- NMS: the kept boxes come best first, no two kept boxes of one class overlap above the IoU bound,
  and every dropped box overlaps a better kept box of its class above the bound (greedy is complete);
- summary: ``normalize`` divides by the image size and nothing else (round trip within rounding).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge.inference.letterbox import letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.detect import postprocess_detect
from edge.inference.postprocess.nms import batched_nms, box_iou_one_to_many
from edge.inference.prediction import Prediction
from edge.inference.summary import summarize

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
finite = st.floats(-2000, 2000, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def boxes_and_classes(draw: st.DrawFn, max_n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, max_n))
    xy = draw(arrays(np.float32, (n, 2), elements=st.floats(0, 600, width=32)))
    wh = draw(arrays(np.float32, (n, 2), elements=st.floats(0.5, 300, width=32)))
    scores = draw(arrays(np.float32, (n,), elements=st.floats(0, 1, width=32)))
    classes = draw(arrays(np.int64, (n,), elements=st.integers(0, 3)))
    return np.concatenate([xy, xy + wh], 1), scores, classes


@SETTINGS
@given(boxes_and_classes(), st.floats(0.0, 0.95))
def test_nms_sorted_and_non_overlapping(data: tuple[np.ndarray, np.ndarray, np.ndarray], iou: float) -> None:
    boxes, scores, classes = data
    keep = batched_nms(boxes, scores, classes, iou)
    assert len(set(keep.tolist())) == len(keep)
    assert np.all(np.diff(scores[keep]) <= 0), "kept boxes must come best first"
    b64 = boxes.astype(np.float64)
    for a, i in enumerate(keep):
        later = [j for j in keep[a + 1:] if classes[j] == classes[i]]
        if later:
            assert np.all(box_iou_one_to_many(b64[i], b64[later]) <= iou + 1e-6)
    kept = set(keep.tolist())
    for j in range(len(boxes)):
        if j in kept:
            continue
        rivals = [i for i in keep if classes[i] == classes[j] and scores[i] >= scores[j]]
        assert rivals and np.max(box_iou_one_to_many(b64[j], b64[rivals])) > iou - 1e-6, \
            f"box {j} was dropped without a better overlapping box of its class"


@st.composite
def detect_case(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int], PredictOptions, int]:
    nc = draw(st.integers(1, 5))
    anchors = draw(st.integers(0, 60))
    raw = draw(arrays(np.float32, (1, 4 + nc, anchors), elements=finite))
    raw[0, 2:4] = np.abs(raw[0, 2:4])  # a head's w, h are never negative (DFL distances)
    raw[0, 4:] = np.abs(raw[0, 4:]) / 2000  # class scores in 0..1
    shape = (draw(st.integers(1, 1200)), draw(st.integers(1, 1200)))
    options = PredictOptions(size=640, confidence=draw(st.floats(0.01, 1.0)), iou=draw(st.floats(0.0, 0.95)),
                             max_det=draw(st.integers(1, 300)))
    return raw, shape, options, nc


@SETTINGS
@given(detect_case())
def test_detect_boxes_inside_image(case: tuple[np.ndarray, tuple[int, int], PredictOptions, int]) -> None:
    raw, (h, w), options, nc = case
    _, lb = letterbox(np.zeros((h, w, 3), np.uint8), (640, 640))
    pred = postprocess_detect([raw], lb, nc, options)
    assert pred.orig_shape == (h, w)
    assert pred.boxes.shape == (len(pred), 4) and len(pred) <= options.max_det
    b = pred.boxes
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 2] <= w) and np.all(b[:, 1] >= 0) and np.all(b[:, 3] <= h)
    assert np.all(b[:, 0] <= b[:, 2]) and np.all(b[:, 1] <= b[:, 3])
    assert np.all(pred.scores > options.confidence)
    assert np.all(np.diff(pred.scores) <= 0)
    assert np.all((pred.classes >= 0) & (pred.classes < nc))


@st.composite
def prediction(draw: st.DrawFn) -> Prediction:
    h, w = draw(st.integers(1, 4000)), draw(st.integers(1, 4000))
    n = draw(st.integers(0, 20))
    x = draw(arrays(np.float32, (n, 2), elements=st.floats(0, 1, width=32))) * w
    y = draw(arrays(np.float32, (n, 2), elements=st.floats(0, 1, width=32))) * h
    boxes = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], 1).astype(np.float32)
    scores = np.sort(draw(arrays(np.float32, (n,), elements=st.floats(0.25, 1, width=32))))[::-1].copy()
    return Prediction(orig_shape=(h, w), boxes=boxes, scores=scores, classes=np.zeros(n, np.int64))


@SETTINGS
@given(prediction())
def test_normalize_round_trip(pred: Prediction) -> None:
    h, w = pred.orig_shape
    names = {0: "thing"}
    pixels = summarize(pred, names, normalize=False, decimals=10)
    fractions = summarize(pred, names, normalize=True, decimals=10)
    assert len(pixels) == len(fractions) == len(pred)
    for p, f in zip(pixels, fractions):
        assert p["confidence"] == f["confidence"] and p["class"] == f["class"]
        for key, value in f["box"].items():
            assert 0.0 <= value <= 1.0
            scale = w if key.startswith("x") else h
            assert abs(value * scale - p["box"][key]) <= 1e-6 * max(scale, 1) + 1e-6
