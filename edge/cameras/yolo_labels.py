"""``Prediction`` -> a YOLO-format label file, so saved frames can go straight into a training set.

One line per object, coordinates normalized to 0-1 by the image width and height:

- detect: ``class cx cy w h``
- segment: ``class x1 y1 x2 y2 ...`` (the outline polygon)
- pose: ``class cx cy w h  px py v ...`` (v = 2 visible, 0 not, as Ultralytics datasets write it)
- obb: ``class x1 y1 x2 y2 x3 y3 x4 y4``

Classify results have no label file (classification datasets are folders per class): ``None``.
"""

from __future__ import annotations

import numpy as np

from edge.inference.prediction import Prediction

KEYPOINT_VISIBLE = 0.5  # keypoint confidence at or above which v = 2


def label_lines(pred: Prediction, decimals: int = 6) -> list[str] | None:
    if pred.probs is not None:
        return None
    h, w = pred.orig_shape
    scale = np.array([w, h], dtype=np.float64)
    fmt = f"{{:.{decimals}f}}"
    lines = []
    for i, cls in enumerate(pred.classes.tolist()):
        if pred.polygons is not None:
            poly = pred.polygons[i].astype(np.float64)
            if len(poly) < 3:
                continue  # an empty mask is no usable outline
            values = (np.clip(poly / scale, 0, 1)).ravel()
        elif pred.obb_corners is not None:
            values = np.clip(pred.obb_corners[i].astype(np.float64) / scale, 0, 1).ravel()
        else:
            x1, y1, x2, y2 = pred.boxes[i].astype(np.float64)
            values = np.array([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h])
            if pred.keypoints is not None:
                k = pred.keypoints[i].astype(np.float64)
                xy = np.clip(k[:, :2] / scale, 0, 1)
                if k.shape[1] == 3:
                    vis = np.where(k[:, 2] >= KEYPOINT_VISIBLE, 2.0, 0.0)
                    xy = np.where(vis[:, None] > 0, xy, 0.0)
                    xy = np.concatenate([xy, vis[:, None]], axis=1)
                values = np.concatenate([values, xy.ravel()])
        lines.append(" ".join([str(int(cls))] + [fmt.format(v) for v in values]))
    return lines


def label_text(pred: Prediction) -> str | None:
    """The label file's text (may be empty: a frame with no objects is a valid negative)."""
    lines = label_lines(pred)
    if lines is None:
        return None
    return "".join(line + "\n" for line in lines)
