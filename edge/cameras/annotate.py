"""Draw a ``Prediction`` on a frame with OpenCV: boxes (or rotated boxes) labelled ``id:7 person 0.91``
when tracked (as Ultralytics' ``plot``), masks as filled polygons, keypoints with the COCO skeleton,
the top classes for classify models, and a camera's counting lines and zones with their counts.

Works on a copy; the input frame (H, W, 3) u8 BGR is never modified. Colours follow Ultralytics'
palette so a frame looks like the one ``yolo predict`` would save.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.inference.prediction import Prediction

PALETTE_HEX = ("FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334",
               "00D4BB", "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF",
               "FF95C8", "FF37C7")
PALETTE = [(int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)) for h in PALETTE_HEX]  # BGR
# COCO keypoint skeleton (1-based pairs, as in Ultralytics' Annotator)
SKELETON = [(16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
            (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]
KEYPOINT_MIN_CONF = 0.5
MASK_ALPHA = 0.4
SHAPE_COLOR = (104, 0, 123)  # BGR, the region colour of Ultralytics' ObjectCounter
Shape = tuple[str, list[tuple[float, float]], str]  # id, points in image pixels, label text


def color(cls: int) -> tuple[int, int, int]:
    return PALETTE[cls % len(PALETTE)]


def annotate(image: np.ndarray, pred: Prediction, names: dict[int, str], shapes: Sequence[Shape] = ()) -> np.ndarray:
    """A copy of ``image`` with ``pred`` drawn on it; ``pred`` and ``shapes`` (lines: 2 points, zones:
    3 or more) are in ``image`` pixels."""
    out = image.copy()
    h, w = out.shape[:2]
    thickness = max(1, round((h + w) / 2 * 0.003))
    for _, points, text in shapes:
        pts = np.round(np.asarray(points)).astype(np.int32)
        cv2.polylines(out, [pts], len(pts) > 2, SHAPE_COLOR, thickness * 2, cv2.LINE_AA)
        _label(out, text, (int(pts[:, 0].min()), int(pts[:, 1].min()) + 1), SHAPE_COLOR, thickness)
    if pred.probs is not None:
        _draw_classes(out, pred.probs, names, thickness)
        return out
    if pred.polygons is not None:
        _draw_masks(out, pred, thickness)
    for i, cls in enumerate(pred.classes.tolist()):
        c = color(cls)
        if pred.obb_corners is not None:
            pts = np.round(pred.obb_corners[i]).astype(np.int32)
            cv2.polylines(out, [pts], True, c, thickness, cv2.LINE_AA)
            top = pts[np.argmin(pts[:, 1])]
            anchor = (int(top[0]), int(top[1]))
        else:
            x1, y1, x2, y2 = (round(float(v)) for v in pred.boxes[i])
            cv2.rectangle(out, (x1, y1), (x2, y2), c, thickness, cv2.LINE_AA)
            anchor = (x1, y1)
        tid = "" if pred.track_ids is None else f"id:{int(pred.track_ids[i])} "
        _label(out, f"{tid}{names.get(cls, str(cls))} {float(pred.scores[i]):.2f}", anchor, c, thickness)
    if pred.keypoints is not None:
        for kpts in pred.keypoints:
            _draw_keypoints(out, kpts, thickness)
    return out


def _label(img: np.ndarray, text: str, anchor: tuple[int, int], c: tuple[int, int, int], thickness: int) -> None:
    scale = thickness / 3
    font_thick = max(thickness - 1, 1)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, font_thick)
    x, y = anchor
    outside = y - th - base >= 0
    y_top = y - th - base if outside else y
    cv2.rectangle(img, (x, y_top), (x + tw, y_top + th + base), c, -1, cv2.LINE_AA)
    text_color = (0, 0, 0) if sum(c) > 382 else (255, 255, 255)
    cv2.putText(img, text, (x, y_top + th), cv2.FONT_HERSHEY_SIMPLEX, scale, text_color, font_thick, cv2.LINE_AA)


def _draw_masks(img: np.ndarray, pred: Prediction, thickness: int) -> None:
    assert pred.polygons is not None
    overlay = img.copy()
    for poly, cls in zip(pred.polygons, pred.classes.tolist()):
        if len(poly) >= 3:
            cv2.fillPoly(overlay, [np.round(poly).astype(np.int32)], color(cls), cv2.LINE_AA)
    cv2.addWeighted(overlay, MASK_ALPHA, img, 1 - MASK_ALPHA, 0, dst=img)


def _draw_keypoints(img: np.ndarray, kpts: np.ndarray, thickness: int) -> None:
    """``kpts``: (K, 2|3) xy[conf] in image pixels."""
    visible = kpts[:, 2] >= KEYPOINT_MIN_CONF if kpts.shape[1] == 3 else np.ones(len(kpts), bool)
    radius = max(2, thickness + 1)
    if len(kpts) == 17:
        for a, b in SKELETON:
            if visible[a - 1] and visible[b - 1]:
                pa = (int(kpts[a - 1, 0]), int(kpts[a - 1, 1]))
                pb = (int(kpts[b - 1, 0]), int(kpts[b - 1, 1]))
                cv2.line(img, pa, pb, PALETTE[9], thickness, cv2.LINE_AA)
    for k, (x, y) in enumerate(kpts[:, :2]):
        if visible[k]:
            cv2.circle(img, (int(x), int(y)), radius, PALETTE[(k * 3) % len(PALETTE)], -1, cv2.LINE_AA)


def _draw_classes(img: np.ndarray, probs: np.ndarray, names: dict[int, str], thickness: int, top: int = 3) -> None:
    y = 10
    for c in np.argsort(-probs, kind="stable")[:top]:
        text = f"{names.get(int(c), str(int(c)))} {float(probs[c]):.2f}"
        scale = thickness / 2.5
        (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        y += th + 8
        cv2.putText(img, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness + 2, cv2.LINE_AA)
        cv2.putText(img, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
