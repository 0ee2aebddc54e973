"""Non-maximum suppression in numpy, with Ultralytics' semantics.

Class-wise NMS is done as Ultralytics does it: every box is shifted by ``class * 7680`` so boxes
of different classes never overlap, then one greedy pass runs (the same as torchvision's ``nms``).
"""

from __future__ import annotations

import numpy as np

MAX_WH = 7680  # Ultralytics' per-class offset in pixels
MAX_NMS = 30000  # candidates kept before NMS, as Ultralytics


def box_iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box (4,) with (M, 4) xyxy boxes -> (M,)."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter + 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS. ``boxes`` (N, 4) xyxy, ``scores`` (N,). Returns kept indices, best score first."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order].astype(np.float64)
    keep: list[int] = []
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        rest = np.nonzero(alive[i + 1:])[0] + i + 1
        if rest.size:
            alive[rest[box_iou_one_to_many(boxes[i], boxes[rest]) > iou_threshold]] = False
    return order[np.asarray(keep, dtype=np.int64)]


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-wise NMS: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    shifted = boxes + (classes.astype(boxes.dtype) * MAX_WH)[:, None]
    return nms(shifted, scores, iou_threshold)
