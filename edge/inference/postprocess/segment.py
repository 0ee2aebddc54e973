"""Segment heads: detections (1, 4 + nc + 32, anchors) and prototypes (1, 32, mh, mw) -> boxes and
the outline polygon of each instance mask, in original pixels.

Mirrors Ultralytics' ``SegmentationPredictor`` with its defaults (``retina_masks=False``):
``process_mask(upsample=True)`` bilinearly upsamples each mask's logits from prototype resolution to
the model input (``align_corners=False``), thresholds at 0 and keeps the pixels whose index lies in
``[x1, x2) x [y1, y2)`` of the box in input pixels; instances whose mask ends up empty are dropped;
``Masks.xy`` traces the mask's external contours (``masks2segments``, strategy "all": several
contours are joined into one at their closest points) and maps them with ``scale_coords``.

Here the same samples are computed only inside each box: the logits of the prototype cells that
the box's pixels read, upsampled for those pixels alone. No full-size mask is ever allocated.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.detect import boxes_to_original, run_end2end, run_nms, to_original
from edge.inference.prediction import Prediction


def split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(detections (1, C, A) or (1, 300, C), prototypes (1, 32, mh, mw)), told apart by rank."""
    protos = [o for o in outputs if o.ndim == 4]
    dets = [o for o in outputs if o.ndim == 3]
    if len(protos) != 1 or len(dets) != 1:
        raise ValueError(f"a segment model has one 3-D and one 4-D output, got shapes {[o.shape for o in outputs]}")
    return dets[0], protos[0]


def bilinear_taps(start: int, stop: int, src_size: int, dst_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i1) and weight of i1 for destination pixels ``start..stop-1`` of a
    ``src_size -> dst_size`` bilinear resize with ``align_corners=False`` (torch's ``F.interpolate``)."""
    scale = np.float32(src_size / dst_size)
    src = (np.arange(start, stop, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, 0)
    i0 = np.minimum(src.astype(np.int64), src_size - 1)
    i1 = np.minimum(i0 + 1, src_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def mask_in_box(coeffs: np.ndarray, protos: np.ndarray, box: np.ndarray,
                input_shape: tuple[int, int]) -> tuple[np.ndarray, int, int] | None:
    """The binary mask of one instance inside its box, at input resolution.

    ``coeffs`` (32,), ``protos`` (32, mh, mw), ``box`` (4,) xyxy input pixels. Returns the u8 mask
    of the pixel rectangle the box covers and its (left, top) in input pixels, or None when empty.
    """
    h, w = input_shape
    _, mh, mw = protos.shape
    x0, x1 = max(0, math.ceil(box[0])), min(w, math.ceil(box[2]))
    y0, y1 = max(0, math.ceil(box[1])), min(h, math.ceil(box[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    ry0, ry1, wy = bilinear_taps(y0, y1, mh, h)
    cx0, cx1, wx = bilinear_taps(x0, x1, mw, w)
    r_lo, r_hi, c_lo, c_hi = int(ry0[0]), int(ry1[-1]) + 1, int(cx0[0]), int(cx1[-1]) + 1
    cells = protos[:, r_lo:r_hi, c_lo:c_hi].astype(np.float32)
    logits = (coeffs.astype(np.float32) @ cells.reshape(len(cells), -1)).reshape(r_hi - r_lo, c_hi - c_lo)
    rows = logits[ry0 - r_lo] * (1 - wy)[:, None] + logits[ry1 - r_lo] * wy[:, None]
    values = rows[:, cx0 - c_lo] * (1 - wx) + rows[:, cx1 - c_lo] * wx
    mask = (values > 0).astype(np.uint8)
    if not mask.any():
        return None
    return mask, x0, y0


def closest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(d, axis=None), d.shape)
    return int(i), int(j)


def merge_contours(segments: list[np.ndarray]) -> np.ndarray:
    """Join several (K_i, 2) contours into one polygon: Ultralytics' ``merge_multi_segment``."""
    segments = [s.reshape(-1, 2) for s in segments]
    idx_list: list[list[int]] = [[] for _ in segments]
    for i in range(1, len(segments)):
        i1, i2 = closest_pair(segments[i - 1], segments[i])
        idx_list[i - 1].append(i1)
        idx_list[i].append(i2)
    out: list[np.ndarray] = []
    last = len(idx_list) - 1
    for i, idx in enumerate(idx_list):  # forward pass
        if len(idx) == 2 and idx[0] > idx[1]:
            idx = [len(segments[i]) - 1 - x for x in idx]
            segments[i] = segments[i][::-1, :]
        segments[i] = np.roll(segments[i], -idx[0], axis=0)
        segments[i] = np.concatenate([segments[i], segments[i][:1]])
        if i in {0, last}:
            out.append(segments[i])
        else:
            out.append(segments[i][: idx[1] - idx[0] + 1])
    for i in range(last, -1, -1):  # backward pass
        if i not in {0, last}:
            idx = idx_list[i]
            out.append(segments[i][abs(idx[1] - idx[0]):])
    return np.concatenate(out)


def mask_outline(mask: np.ndarray, left: int, top: int) -> np.ndarray:
    """(K, 2) float32 outline, in input pixels, of a u8 mask whose top-left pixel sits at (left, top).

    The mask gets a 1-pixel zero border so its contours are those of the same pixels in a full
    input-size mask."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(left - 1, top - 1))[0]
    if not contours:
        return np.zeros((0, 2), np.float32)
    poly = merge_contours(list(contours)) if len(contours) > 1 else contours[0].reshape(-1, 2)
    return poly.astype(np.float32)


def polygon_to_original(poly: np.ndarray, lb: Letterbox) -> np.ndarray:
    """(K, 2) input pixels -> original pixels, clipped to the image (``scale_coords``)."""
    out = to_original(poly, lb)
    h, w = lb.original_shape
    out[:, 0] = out[:, 0].clip(0, w)
    out[:, 1] = out[:, 1].clip(0, h)
    return out


def postprocess_segment(outputs: list[np.ndarray], lb: Letterbox, nc: int, options: PredictOptions,
                        end2end: bool = False) -> Prediction:
    """``outputs``: (1, 4 + nc + 32, anchors) (or (1, 300, 6 + 32) when end2end) and the prototypes
    (1, 32, mh, mw), in either order.

    Returns ``polygons``: one (K_i, 2) float32 outline per instance in original pixels; instances
    whose mask is empty are dropped, as Ultralytics drops them.
    """
    dets, protos = split_outputs(outputs)
    cand = run_end2end(dets[0], options) if end2end else run_nms(dets[0], nc, options)
    keep: list[int] = []
    polygons: list[np.ndarray] = []
    for i in range(len(cand.scores)):
        found = mask_in_box(cand.extra[i], protos[0], cand.boxes[i], lb.input_shape)
        if found is None:
            continue
        keep.append(i)
        polygons.append(polygon_to_original(mask_outline(*found), lb))
    k = np.asarray(keep, dtype=np.int64)
    return Prediction(orig_shape=lb.original_shape, boxes=boxes_to_original(cand.boxes[k], lb),
                      scores=cand.scores[k], classes=cand.classes[k].astype(np.int64), polygons=polygons)
