"""Pose heads: (1, 4 + nc + K*D, anchors) -> boxes and keypoints in original pixels.

The exported head already decodes keypoints to input pixels and applies the sigmoid to their
confidence. As Ultralytics' ``PosePredictor`` does, x and y go through ``scale_coords`` (letterbox
undone, clipped to the image); the confidence is passed through untouched. (Ultralytics'
``Keypoints`` no longer zeroes low-confidence points, so ``Results.summary()`` reports every point.)
"""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.detect import boxes_to_original, run_end2end, run_nms, to_original
from edge.inference.prediction import Prediction


def keypoints_to_original(kpts: np.ndarray, lb: Letterbox) -> np.ndarray:
    """(N, K, D) keypoints with x, y in input pixels -> original pixels, x, y clipped to the image."""
    out = kpts.astype(np.float32, copy=True)
    out[..., :2] = to_original(out[..., :2], lb)
    h, w = lb.original_shape
    out[..., 0] = out[..., 0].clip(0, w)
    out[..., 1] = out[..., 1].clip(0, h)
    return out


def postprocess_pose(outputs: list[np.ndarray], lb: Letterbox, nc: int, options: PredictOptions,
                     kpt_shape: tuple[int, int] = (17, 3), end2end: bool = False) -> Prediction:
    """``outputs[0]``: (1, 4 + nc + K*D, anchors), or (1, 300, 6 + K*D) when end2end.

    Returns ``keypoints`` (N, K, D) float32: x, y in original pixels and, when D == 3, confidence.
    """
    raw = outputs[0][0]
    cand = run_end2end(raw, options) if end2end else run_nms(raw, nc, options)
    kpts = cand.extra.astype(np.float32).reshape(len(cand.scores), *kpt_shape)
    return Prediction(orig_shape=lb.original_shape, boxes=boxes_to_original(cand.boxes, lb),
                      scores=cand.scores, classes=cand.classes.astype(np.int64),
                      keypoints=keypoints_to_original(kpts, lb))
