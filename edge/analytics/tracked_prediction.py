"""A frame's ``Prediction`` through a tracker, as Ultralytics' ``on_predict_postprocess_end`` does it.

The tracked result keeps only the detections a confirmed track matched in this frame, in the tracker's
order, with the track's (Kalman) box clipped to the image, its score and class, and ``track_ids``;
masks and keypoints follow their detection. A frame where the tracker reports nothing while a new
track waits for confirmation is emptied; one where it reports nothing otherwise is left as detected,
without ids (Ultralytics does both).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge.analytics.byte_tracker import ByteTracker
from edge.inference.prediction import Prediction


def track(tracker: ByteTracker, pred: Prediction) -> Prediction:
    """``pred`` (in original-image pixels) after one ``tracker.update``."""
    rows = tracker.update(pred.boxes, pred.scores, pred.classes)
    if len(rows) == 0:
        return _select(pred, np.zeros(0, dtype=np.int64)) if tracker.has_unconfirmed else pred
    idx = rows[:, -1].astype(int)
    out = _select(pred, idx)
    h, w = pred.orig_shape
    boxes = rows[:, :4].copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return replace(out, boxes=boxes, scores=rows[:, 5].copy(), classes=rows[:, 6].astype(np.int64),
                   track_ids=rows[:, 4].astype(np.int64))


def _select(pred: Prediction, idx: np.ndarray) -> Prediction:
    return replace(
        pred, boxes=pred.boxes[idx].reshape(-1, 4), scores=pred.scores[idx], classes=pred.classes[idx],
        polygons=[pred.polygons[i] for i in idx] if pred.polygons is not None else None,
        keypoints=pred.keypoints[idx] if pred.keypoints is not None else None,
        track_ids=np.zeros(0, np.int64) if len(idx) == 0 else None)
