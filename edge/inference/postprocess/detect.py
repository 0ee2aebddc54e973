"""Detect heads: (1, 4 + nc + extra, anchors) xywh + class scores -> boxes in original pixels.

Segment, pose and OBB heads share this layout; their extra channels ride along in ``extra``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.nms import MAX_NMS, batched_nms
from edge.inference.prediction import Prediction


@dataclass
class Candidates:
    """Rows kept by NMS, in input (letterboxed) pixels: boxes (N, 4) xyxy, scores (N,),
    classes (N,), extra (N, E) — mask coefficients, keypoints or angle, as the head emits them."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    extra: np.ndarray


def select_candidates(raw: np.ndarray, nc: int, options: PredictOptions, xywh: bool = True) -> tuple[np.ndarray, ...]:
    """Confidence and class filter of a (4 + nc + extra, anchors) head output, before NMS.

    Returns boxes (M, 4) as the head gives them, scores (M,), classes (M,), extra (M, E), at most
    ``MAX_NMS`` rows, best first.
    """
    class_scores = raw[4:4 + nc]
    # The max over classes is a fast row-wise reduction; the argmax over axis 0 is not (numpy
    # transposes for it), so it runs only on the few columns above the threshold. Same result.
    conf = class_scores.max(0)
    idx = np.nonzero(conf > options.confidence)[0]
    best = class_scores[:, idx].argmax(0)
    if options.classes is not None:
        wanted = np.isin(best, np.fromiter(options.classes, dtype=best.dtype))
        idx, best = idx[wanted], best[wanted]
    conf = conf[idx]
    if len(idx) > MAX_NMS:
        order = np.argsort(-conf, kind="stable")[:MAX_NMS]
        idx, best, conf = idx[order], best[order], conf[order]
    rows = raw[:, idx].T  # (M, 4 + nc + extra)
    boxes = rows[:, :4].astype(np.float32)
    if xywh:
        boxes = xywh_to_xyxy(boxes)
    return boxes, conf.astype(np.float32), best, rows[:, 4 + nc:]


def xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    out = np.empty_like(b)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    out[:, 0], out[:, 1] = b[:, 0] - half_w, b[:, 1] - half_h
    out[:, 2], out[:, 3] = b[:, 0] + half_w, b[:, 1] + half_h
    return out


def run_nms(raw: np.ndarray, nc: int, options: PredictOptions) -> Candidates:
    """Ultralytics' ``non_max_suppression`` for one image (single best class per anchor)."""
    boxes, scores, classes, extra = select_candidates(raw, nc, options)
    keep = batched_nms(boxes, scores, classes, options.iou)[: options.max_det]
    return Candidates(boxes[keep], scores[keep], classes[keep], extra[keep])


def run_end2end(raw: np.ndarray, options: PredictOptions) -> Candidates:
    """NMS-free heads (YOLO26/YOLOv10 style, or exports with ``nms=True``): (300, 6 + extra) rows
    of x1, y1, x2, y2, score, class; only the confidence/class filter and ``max_det`` apply."""
    keep = raw[:, 4] > options.confidence
    if options.classes is not None:
        keep &= np.isin(raw[:, 5].astype(np.int64), np.fromiter(options.classes, dtype=np.int64))
    rows = raw[keep][: options.max_det]
    return Candidates(rows[:, :4].astype(np.float32), rows[:, 4].astype(np.float32),
                      rows[:, 5].astype(np.int64), rows[:, 6:])


def to_original(points: np.ndarray, lb: Letterbox) -> np.ndarray:
    """Map (..., 2) xy points from input pixels to original pixels (not clipped).

    Ultralytics' ``scale_boxes`` rounds the padding as ``round(pad - 0.1)``, which is exactly the
    (left, top) the letterbox applied, and divides by the per-axis gain of the rounded resize.
    """
    out = points.astype(np.float32, copy=True)
    out[..., 0] -= lb.pad[0]
    out[..., 1] -= lb.pad[1]
    out[..., 0] /= lb.gain_x
    out[..., 1] /= lb.gain_y
    return out


def clip_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, shape[1])
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, shape[0])
    return boxes


def boxes_to_original(boxes: np.ndarray, lb: Letterbox) -> np.ndarray:
    """(N, 4) xyxy input pixels -> (N, 4) xyxy original pixels, clipped to the image."""
    return clip_boxes(to_original(boxes.reshape(-1, 2, 2), lb).reshape(-1, 4), lb.original_shape)


def postprocess_detect(outputs: list[np.ndarray], lb: Letterbox, nc: int, options: PredictOptions,
                       end2end: bool = False) -> Prediction:
    """``outputs[0]``: (1, 4 + nc, anchors) xywh in input pixels, or (1, 300, 6) when end2end."""
    cand = run_end2end(outputs[0][0], options) if end2end else run_nms(outputs[0][0], nc, options)
    return Prediction(orig_shape=lb.original_shape, boxes=boxes_to_original(cand.boxes, lb),
                      scores=cand.scores, classes=cand.classes.astype(np.int64))
