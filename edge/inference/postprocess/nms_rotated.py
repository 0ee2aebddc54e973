"""Rotated-box NMS in numpy, the twin of Ultralytics' OBB path in ``non_max_suppression``.

Ultralytics suppresses oriented boxes with ``TorchNMS.fast_nms`` and ``batch_probiou``: the boxes
are sorted by score, the probabilistic IoU (Hellinger distance between the Gaussians of the boxes)
of every pair is computed, and a box is dropped when any *higher-scored* box overlaps it by more than
the threshold, whether or not that higher box was itself dropped (Fast-NMS, not greedy NMS).
Class-wise separation shifts the centres by ``class * 7680`` as for axis-aligned boxes.
Arithmetic is float32, as Ultralytics runs it.
"""

from __future__ import annotations

import numpy as np

from edge.inference.postprocess.nms import MAX_WH

EPS = np.float32(1e-7)


def covariance(xywhr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 5) xywhr -> the covariance terms (a, b, c) of each box's Gaussian, each (N,)."""
    a = xywhr[:, 2] ** 2 / np.float32(12)
    b = xywhr[:, 3] ** 2 / np.float32(12)
    cos, sin = np.cos(xywhr[:, 4]), np.sin(xywhr[:, 4])
    return a * cos**2 + b * sin**2, a * sin**2 + b * cos**2, (a - b) * cos * sin


def probiou(obb1: np.ndarray, obb2: np.ndarray) -> np.ndarray:
    """Probabilistic IoU of (N, 5) and (M, 5) xywhr boxes (radians) -> (N, M), as ``batch_probiou``."""
    obb1, obb2 = obb1.astype(np.float32), obb2.astype(np.float32)
    x1, y1 = obb1[:, 0:1], obb1[:, 1:2]
    x2, y2 = obb2[None, :, 0], obb2[None, :, 1]
    a1, b1, c1 = (v[:, None] for v in covariance(obb1))
    a2, b2, c2 = (v[None] for v in covariance(obb2))
    den = (a1 + a2) * (b1 + b2) - (c1 + c2) ** 2
    t1 = ((a1 + a2) * (y1 - y2) ** 2 + (b1 + b2) * (x1 - x2) ** 2) / (den + EPS) * np.float32(0.25)
    t2 = ((c1 + c2) * (x2 - x1) * (y1 - y2)) / (den + EPS) * np.float32(0.5)
    det1 = np.clip(a1 * b1 - c1**2, 0, None)
    det2 = np.clip(a2 * b2 - c2**2, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        t3 = np.log(den / (4 * np.sqrt(det1 * det2) + EPS) + EPS) * np.float32(0.5)
        bd = np.clip(t1 + t2 + t3, EPS, np.float32(100.0))
        hd = np.sqrt(np.float32(1.0) - np.exp(-bd) + EPS)
    return (np.float32(1) - hd).astype(np.float32)


def fast_nms_rotated(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Fast-NMS of (N, 5) xywhr boxes. Returns kept indices, best score first."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    order = np.argsort(-scores, kind="stable")
    ious = np.triu(probiou(boxes[order], boxes[order]), k=1)
    pick = np.nonzero((ious > iou_threshold).sum(0) <= 0)[0]
    return order[pick]


def batched_nms_rotated(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                        iou_threshold: float) -> np.ndarray:
    """Class-wise rotated NMS: (N, 5) xywhr boxes, centres shifted by ``class * 7680``."""
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    shifted = boxes.astype(np.float32, copy=True)
    shifted[:, :2] += (classes.astype(np.float32) * MAX_WH)[:, None]
    return fast_nms_rotated(shifted, scores, iou_threshold)
