"""``Prediction`` -> the items of Ultralytics' ``Results.summary()``, which the HUB API answers.

Detect: ``{name, class, confidence, box {x1, y1, x2, y2}}``; segment adds ``segments {x, y}``;
pose adds ``keypoints {x, y, visible}``; a tracked result adds ``track_id`` after ``box``; OBB boxes
carry four corners ``x1..y4``; classify gives ``{name, class, confidence}`` for the top ``top_k``
classes; semantic gives ``{name, class, pixel_ratio}`` per class present; depth gives no items (its map
travels beside them, ``edge.inference.dense_png``). With ``normalize`` every coordinate is divided by
the original width or height.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.inference.prediction import Prediction


def summarize(pred: Prediction, names: dict[int, str], normalize: bool = False, decimals: int = 5,
              top_k: int = 5) -> list[dict[str, Any]]:
    if pred.probs is not None:
        return classify_items(pred.probs, names, decimals, top_k)
    if pred.semantic_mask is not None:
        return semantic_items(pred.semantic_mask, names, decimals)
    h, w = pred.orig_shape if normalize else (1, 1)
    scale = np.array([w, h], dtype=np.float64)
    corners = pred.obb_corners if pred.obb_corners is not None else pred.boxes.reshape(-1, 2, 2)
    corners = np.round(corners.astype(np.float64) / scale, decimals).tolist()
    scores = np.round(pred.scores.astype(np.float64), decimals).tolist()
    items: list[dict[str, Any]] = []
    for i, cls in enumerate(pred.classes.tolist()):
        box = {}
        for j, (x, y) in enumerate(corners[i]):
            box[f"x{j + 1}"] = x
            box[f"y{j + 1}"] = y
        item: dict[str, Any] = {"name": names.get(cls, str(cls)), "class": cls, "confidence": scores[i], "box": box}
        if pred.track_ids is not None:  # Ultralytics' summary() puts it right after the box
            item["track_id"] = int(pred.track_ids[i])
        if pred.polygons is not None:
            poly = pred.polygons[i].astype(np.float64) / scale if len(pred.polygons[i]) else np.zeros((0, 2))
            item["segments"] = {"x": np.round(poly[:, 0], decimals).tolist(),
                                "y": np.round(poly[:, 1], decimals).tolist()}
        if pred.keypoints is not None:
            k = pred.keypoints[i].astype(np.float64)
            item["keypoints"] = {"x": np.round(k[:, 0] / scale[0], decimals).tolist(),
                                 "y": np.round(k[:, 1] / scale[1], decimals).tolist()}
            if k.shape[1] == 3:
                item["keypoints"]["visible"] = np.round(k[:, 2], decimals).tolist()
        items.append(item)
    return items


def classify_items(probs: np.ndarray, names: dict[int, str], decimals: int, top_k: int) -> list[dict[str, Any]]:
    order = np.argsort(-probs, kind="stable")[:top_k]
    return [{"name": names.get(int(c), str(int(c))), "class": int(c), "confidence": round(float(probs[c]), decimals)}
            for c in order]


def semantic_items(class_map: np.ndarray, names: dict[int, str], decimals: int) -> list[dict[str, Any]]:
    """Ultralytics' semantic ``summary()``: the share of pixels of each class present, by class index.
    A one-class model labels its class 1 (0 is background); 255 (filtered out) is no class."""
    counts = np.bincount(class_map.reshape(-1).astype(np.int64))
    total = class_map.size
    items: list[dict[str, Any]] = []
    for cls in np.flatnonzero(counts).tolist():
        if len(names) == 1:
            if cls != 1:
                continue
            cls = 0
            count = counts[1]
        elif cls not in names:
            continue
        else:
            count = counts[cls]
        items.append({"name": names[cls], "class": cls, "pixel_ratio": round(int(count) / total, decimals)})
    return items
