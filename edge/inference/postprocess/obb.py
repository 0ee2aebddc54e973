"""OBB heads: (1, 4 + nc + 1, anchors) xywh + class scores + angle -> rotated boxes in original pixels.

Mirrors Ultralytics' ``OBBPredictor``: candidates by confidence, class-wise Fast-NMS on the
probabilistic IoU (``edge.inference.postprocess.nms_rotated``), then ``scale_boxes(..., xywh=True)`` (centre and size
rescaled, nothing clipped) and ``xywhr2xyxyxyxy`` for the corners. The angle is used as the head
emits it, in radians within [-pi/4, 3pi/4): Ultralytics' predict path does not regularize it.
"""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.detect import Candidates, run_end2end, select_candidates
from edge.inference.postprocess.nms_rotated import batched_nms_rotated
from edge.inference.prediction import Prediction


def run_nms_obb(raw: np.ndarray, nc: int, options: PredictOptions) -> Candidates:
    """Ultralytics' ``non_max_suppression(rotated=True)`` for one image; boxes stay xywh, ``extra``
    ends with the angle."""
    boxes, scores, classes, extra = select_candidates(raw, nc, options, xywh=False)
    xywhr = np.concatenate([boxes, extra[:, -1:].astype(np.float32)], axis=1)
    keep = batched_nms_rotated(xywhr, scores, classes, options.iou)[: options.max_det]
    return Candidates(boxes[keep], scores[keep], classes[keep], extra[keep])


def xywhr_to_corners(xywhr: np.ndarray) -> np.ndarray:
    """(N, 5) xywhr (radians) -> (N, 4, 2) corners, in Ultralytics' ``xywhr2xyxyxyxy`` order."""
    ctr = xywhr[:, None, :2]
    w, h, angle = xywhr[:, 2:3], xywhr[:, 3:4], xywhr[:, 4:5]
    cos, sin = np.cos(angle), np.sin(angle)
    vec1 = np.concatenate([w / 2 * cos, w / 2 * sin], -1)[:, None]
    vec2 = np.concatenate([-h / 2 * sin, h / 2 * cos], -1)[:, None]
    return np.concatenate([ctr + vec1 + vec2, ctr + vec1 - vec2, ctr - vec1 - vec2, ctr - vec1 + vec2], axis=1)


def rboxes_to_original(xywhr: np.ndarray, lb: Letterbox) -> np.ndarray:
    """(N, 5) xywhr in input pixels -> original pixels (``scale_boxes(xywh=True)``: not clipped)."""
    out = xywhr.astype(np.float32, copy=True)
    out[:, 0] = (out[:, 0] - lb.pad[0]) / lb.gain_x
    out[:, 1] = (out[:, 1] - lb.pad[1]) / lb.gain_y
    out[:, 2] /= lb.gain_x
    out[:, 3] /= lb.gain_y
    return out


def postprocess_obb(outputs: list[np.ndarray], lb: Letterbox, nc: int, options: PredictOptions,
                    end2end: bool = False) -> Prediction:
    """``outputs[0]``: (1, 4 + nc + 1, anchors) xywh, scores, angle in input pixels, or (1, 300, 7)
    rows of x, y, w, h, score, class, angle when end2end.

    Returns ``obb_corners`` (N, 4, 2) and, in ``boxes``, their axis-aligned bounds (Ultralytics'
    ``OBB.xyxy``, not clipped), all in original pixels.
    """
    cand = run_end2end(outputs[0][0], options) if end2end else run_nms_obb(outputs[0][0], nc, options)
    xywhr = np.concatenate([cand.boxes, cand.extra[:, -1:].astype(np.float32)], axis=1)
    corners = xywhr_to_corners(rboxes_to_original(xywhr, lb)).astype(np.float32)
    bounds = np.concatenate([corners.min(1), corners.max(1)], axis=1) if len(corners) else np.zeros((0, 4), np.float32)
    return Prediction(orig_shape=lb.original_shape, boxes=bounds, scores=cand.scores,
                      classes=cand.classes.astype(np.int64), obb_corners=corners)
