"""Resize-and-centre-crop for classify models, the twin of Ultralytics' ``classify_transforms``.

Ultralytics' ``ClassificationPredictor`` runs torchvision's ``Resize(size)`` (the short side to
``size``, on a PIL image, bilinear with PIL's antialiasing filter) and ``CenterCrop(size)`` on the
u8 image, then the usual BGR->RGB, /255. PIL's 8-bit resampler is reproduced here exactly:
the same filter taps, fixed-point weights (22 fractional bits) and rounding, horizontal pass first.

Pillow 13 sometimes runs the vertical pass first, by a rule not reproduced here; its output then
differs from ours by at most 1 in some pixels. For the aspect-preserving resizes made here the
horizontal pass came first on every real image tried (bus.jpg, zidane.jpg, 60 COCO images).
"""

from __future__ import annotations

import math

import numpy as np

PRECISION_BITS = 22


def pil_coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """PIL's ``precompute_coeffs`` + ``normalize_coeffs_8bpc`` for the bilinear filter.

    Returns source indices (out_size, taps) and integer weights (out_size, taps); unused taps have
    weight 0 and index 0."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    taps = int(math.ceil(support)) * 2 + 1
    index = np.zeros((out_size, taps), np.int64)
    weight = np.zeros((out_size, taps), np.int64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [max(0.0, 1.0 - abs((x + xmin - center + 0.5) * ss)) for x in range(xmax)]
        total = sum(k)
        if total != 0.0:
            k = [v / total for v in k]
        for x, v in enumerate(k):
            index[xx, x] = x + xmin
            weight[xx, x] = int(v * (1 << PRECISION_BITS) + (0.5 if v >= 0 else -0.5))
    return index, weight


def resample_axis(image: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    """One 8-bit PIL bilinear pass along ``axis`` (0 rows, 1 columns) of a (H, W, C) u8 image."""
    index, weight = pil_coefficients(image.shape[axis], out_size)
    src = image.astype(np.int64)
    acc = np.full(list(image.shape[:axis]) + [out_size] + list(image.shape[axis + 1:]),
                  1 << (PRECISION_BITS - 1), np.int64)
    shape = [1, 1, 1]
    shape[axis] = out_size
    for t in range(index.shape[1]):
        acc += np.take(src, index[:, t], axis=axis) * weight[:, t].reshape(shape)
    return np.clip(acc >> PRECISION_BITS, 0, 255).astype(np.uint8)


def pil_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL ``Image.resize(size[::-1], BILINEAR)`` of a (H, W, 3) u8 image to (h, w)."""
    h, w = size
    if image.shape[1] != w:
        image = resample_axis(image, w, 1)
    if image.shape[0] != h:
        image = resample_axis(image, h, 0)
    return image


def resize_center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) u8 BGR -> (size, size, 3) u8 BGR: short side resized to ``size``, centre cropped."""
    h, w = image.shape[:2]
    if h <= w:
        new_h, new_w = size, int(size * w / h)
    else:
        new_h, new_w = int(size * h / w), size
    image = pil_resize(image, (new_h, new_w))
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.ascontiguousarray(image[top:top + size, left:left + size])
