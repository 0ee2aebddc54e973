"""What a model found in one image, in original-image pixels, independent of any wire format."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Prediction:
    """Results of one image, all coordinates in original-image pixels (x right, y down).

    - ``boxes``: (N, 4) float32 xyxy, clipped to the image. For OBB models the axis-aligned
      bounds of each rotated box.
    - ``scores``: (N,) float32 confidences, sorted descending.
    - ``classes``: (N,) int class indices.
    - ``polygons``: segment models only: N arrays of shape (K_i, 2) float32 xy, the outline of
      each instance mask (K_i may be 0 when a mask is empty).
    - ``keypoints``: pose models only: (N, K, 3) float32 (x, y, confidence).
    - ``obb_corners``: OBB models only: (N, 4, 2) float32 corner points xy.
    - ``probs``: classify models only: (C,) float32 class probabilities; the other arrays are empty.
    - ``track_ids``: (N,) int track ids when the camera tracks (``edge.analytics``); then
      ``scores`` follow the tracker's order, not descending.
    - ``semantic_mask``: semantic models only: (H, W) u8 (int16 past 256 classes) class index of every
      original-image pixel, 255 for a pixel whose class the request filtered out.
    - ``depth``: depth models only: (H, W) float32 depth of every original-image pixel (metres).
    - ``orig_shape``: (height, width) of the original image.
    """

    orig_shape: tuple[int, int]
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    polygons: list[np.ndarray] | None = None
    keypoints: np.ndarray | None = None
    obb_corners: np.ndarray | None = None
    probs: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    semantic_mask: np.ndarray | None = None
    depth: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)
