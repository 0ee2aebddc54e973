"""Comparing two lists of ``Results.summary()`` items (the daemon's answer and Ultralytics'), one image.

Items are paired by class and box overlap; among several equal boxes (random-weight models repeat
boxes, often the whole image) the closest answer is taken. Worst figures go into ``worst``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.support import parity

WORST = {"box_iou": 1.0, "mask_iou": 1.0, "kpt_px": 0.0, "conf_gap": 0.0}


def corners(item: dict) -> np.ndarray:
    box = item["box"]
    n = len(box) // 2
    return np.array([[box[f"x{i}"], box[f"y{i}"]] for i in range(1, n + 1)])


def aabb_iou(a: dict, b: dict) -> float:
    ca, cb = corners(a), corners(b)
    (ax1, ay1), (ax2, ay2) = ca.min(0), ca.max(0)
    (bx1, by1), (bx2, by2) = cb.min(0), cb.max(0)
    iw, ih = max(0, min(ax2, bx2) - max(ax1, bx1)), max(0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - iw * ih
    return iw * ih / union if union > 0 else 1.0


def polygon_mask(item: dict, shape: tuple[int, int]) -> np.ndarray:
    poly = np.stack([item["segments"]["x"], item["segments"]["y"]], 1)
    return parity.mask_from_polygon(poly, shape)


def difference(o: dict, t: dict) -> float:
    """How far two items with the same box are apart: confidence, plus keypoints in pixels."""
    gap = abs(o["confidence"] - t["confidence"])
    if "keypoints" in t:
        gap += float(np.abs(np.subtract(o["keypoints"]["x"], t["keypoints"]["x"])).sum()
                     + np.abs(np.subtract(o["keypoints"]["y"], t["keypoints"]["y"])).sum())
    return gap


def compare_items(ours: list[dict], theirs: list[dict], task: str, orig_shape: tuple[int, int],
                  worst: dict[str, Any], where: str) -> int:
    """Assert ``ours`` equals ``theirs`` (same count; classify: same classes in order; else every item
    matched: box IoU >= 0.99, confidence within 0.01, mask IoU >= 0.90, keypoints within 2 px).
    Returns the number of items compared."""
    assert len(ours) == len(theirs), (where, len(ours), len(theirs))
    if task == "classify":
        assert [o["class"] for o in ours] == [t["class"] for t in theirs], where
        gap = max((abs(o["confidence"] - t["confidence"]) for o, t in zip(ours, theirs)), default=0.0)
        worst["conf_gap"] = max(worst["conf_gap"], gap)
        assert gap <= 1e-3, where
        return len(theirs)
    used: set[int] = set()
    for t in theirs:
        candidates = [(aabb_iou(o, t), j) for j, o in enumerate(ours) if j not in used and o["class"] == t["class"]]
        assert candidates, f"{where}: no match for {t['name']}"
        iou, j = max(candidates)
        same = [c for c in candidates if c[0] >= 0.99]
        if len(same) > 1:
            iou, j = min(same, key=lambda c: difference(ours[c[1]], t))
        used.add(j)
        o = ours[j]
        gap = abs(o["confidence"] - t["confidence"])
        worst["box_iou"], worst["conf_gap"] = min(worst["box_iou"], iou), max(worst["conf_gap"], gap)
        assert iou >= 0.99 and gap <= 0.01, (where, iou, gap)
        if task == "segment":
            m_iou = parity.mask_iou(polygon_mask(o, orig_shape), polygon_mask(t, orig_shape))
            worst["mask_iou"] = min(worst["mask_iou"], m_iou)
            assert m_iou >= 0.90, (where, m_iou)
        if task == "pose":
            d = np.hypot(np.subtract(o["keypoints"]["x"], t["keypoints"]["x"]),
                         np.subtract(o["keypoints"]["y"], t["keypoints"]["y"])).max()
            worst["kpt_px"] = max(worst["kpt_px"], float(d))
            assert d <= 2.0, (where, d)
            if "visible" in t["keypoints"]:
                assert np.abs(np.subtract(o["keypoints"]["visible"], t["keypoints"]["visible"])).max() <= 0.01
    return len(theirs)
