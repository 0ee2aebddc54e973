"""Costs and assignment between tracks and detections, as Ultralytics' ``trackers/utils/matching.py``
(AGPL-3.0) computes them: 1 - IoU (float32, eps 1e-7), optionally fused with the detection score, and
the Jonker-Volgenant solver of ``lap`` (the package Ultralytics itself requires, ``lap>=0.5.12``) with
the same ``extend_cost``/``cost_limit`` call, so ties break the same way and the ids agree."""

from __future__ import annotations

import lap
import numpy as np

EPS = 1e-7


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Matches (track row, detection column) with cost at most ``thresh``; unmatched rows; unmatched columns."""
    if cost.size == 0:
        return [], np.arange(cost.shape[0]), np.arange(cost.shape[1])
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
    matches = [[ix, mx] for ix, mx in enumerate(x) if mx >= 0]
    return matches, np.where(x < 0)[0], np.where(y < 0)[0]


def iou_cost(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """1 - IoU between xyxy boxes ``a`` (N) and ``b`` (M): (N, M) float32."""
    ious = np.zeros((len(a), len(b)), dtype=np.float32)
    if len(a) and len(b):
        b1 = np.ascontiguousarray(a, dtype=np.float32)
        b2 = np.ascontiguousarray(b, dtype=np.float32)
        b1_x1, b1_y1, b1_x2, b1_y2 = b1.T
        b2_x1, b2_y1, b2_x2, b2_y2 = b2.T
        inter = (np.minimum(b1_x2[:, None], b2_x2) - np.maximum(b1_x1[:, None], b2_x1)).clip(0) * (
            np.minimum(b1_y2[:, None], b2_y2) - np.maximum(b1_y1[:, None], b2_y1)).clip(0)
        area = (b2_x2 - b2_x1) * (b2_y2 - b2_y1)
        area = area + ((b1_x2 - b1_x1) * (b1_y2 - b1_y1))[:, None] - inter
        ious = inter / (area + EPS)
    return 1 - ious


def fuse_score(cost: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """IoU cost fused with the detections' scores (M,): 1 - IoU * score."""
    if cost.size == 0:
        return cost
    return 1 - (1 - cost) * scores[None].repeat(cost.shape[0], axis=0)
