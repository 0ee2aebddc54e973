"""Drawing results on frames: boxes, rotated boxes, masks, keypoints and classify text land where
the prediction says, and the input frame is left untouched."""

from __future__ import annotations

import numpy as np
import pytest

from edge.cameras.annotate import annotate, color
from edge.inference.prediction import Prediction

NAMES = {0: "person", 1: "car"}


def blank() -> np.ndarray:
    return np.zeros((200, 300, 3), np.uint8)


def changed(before: np.ndarray, after: np.ndarray, y: int, x: int) -> bool:
    return bool(np.any(before[y, x] != after[y, x]))


@pytest.mark.parametrize("kind", ["box", "obb", "mask", "pose", "classify", "empty"])
def test_annotate(kind: str) -> None:
    img = blank()
    keep = img.copy()
    p = Prediction(orig_shape=(200, 300), boxes=np.array([[50, 60, 150, 160]], np.float32),
                   scores=np.array([0.9], np.float32), classes=np.array([1]))
    if kind == "obb":
        p.obb_corners = np.array([[[100, 60], [150, 110], [100, 160], [50, 110]]], np.float32)
    if kind == "mask":
        p.polygons = [np.array([[60, 70], [140, 70], [140, 150], [60, 150]], np.float32)]
    if kind == "pose":
        kp = np.zeros((1, 17, 3), np.float32)
        kp[0, :, 0], kp[0, :, 1], kp[0, :, 2] = np.linspace(60, 140, 17), 100, 0.9
        kp[0, 16, 2] = 0.1  # not visible: not drawn
        kp[0, 16, :2] = (250, 20)
        p.keypoints = kp
    if kind == "classify":
        p = Prediction(orig_shape=(200, 300), probs=np.array([0.2, 0.8], np.float32))
    if kind == "empty":
        p = Prediction(orig_shape=(200, 300))
    out = annotate(img, p, NAMES)
    assert np.array_equal(img, keep) and out.shape == img.shape and out.dtype == np.uint8
    if kind == "box":
        assert changed(img, out, 110, 50) and not changed(img, out, 110, 100)  # edge drawn, inside clear
        assert np.abs(out[110, 50].astype(int) - color(1)).max() < 60  # in the class colour
    if kind == "obb":
        assert changed(img, out, 85, 125) and not changed(img, out, 65, 55)  # on the diamond's edge, not its box corner
    if kind == "mask":
        assert changed(img, out, 110, 100) and not changed(img, out, 190, 290)  # filled inside
    if kind == "pose":
        assert changed(img, out, 100, 100) and not changed(img, out, 20, 250)
    if kind == "classify":
        assert out[:60, :150].any()
    if kind == "empty":
        assert not out.any()


def test_tracks_lines_and_zones() -> None:
    """A tracked box is labelled ``id:N name conf`` (a wider label than the untracked one); a line and a
    zone are drawn where their points say, in pixels."""
    img = blank()
    p = Prediction(orig_shape=(200, 300), boxes=np.array([[50, 60, 150, 160]], np.float32),
                   scores=np.array([0.9], np.float32), classes=np.array([1]))
    plain = annotate(img, p, NAMES)
    p.track_ids = np.array([7])
    tracked = annotate(img, p, NAMES)
    label_row = 50  # inside the label band above the box
    assert np.count_nonzero(tracked[label_row].any(-1)) > np.count_nonzero(plain[label_row].any(-1))
    shapes = [("mid", [(250.0, 0.0), (250.0, 199.0)], "mid in 1 out 0"),
              ("zone", [(10.0, 170.0), (40.0, 170.0), (40.0, 195.0), (10.0, 195.0)], "zone 0")]
    drawn = annotate(img, Prediction(orig_shape=(200, 300)), NAMES, shapes)
    assert changed(img, drawn, 100, 250) and changed(img, drawn, 195, 25) and not changed(img, drawn, 100, 150)
