"""Letterbox resize, the exact twin of Ultralytics' ``LetterBox`` transform.

The conversion tool calibrates through this same function, so the INT8 statistics see exactly
the pixels the daemon feeds the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How an original image maps into the model input.

    ``gain_x``/``gain_y`` scale original pixels to input pixels (the resized size over the
    original, as Ultralytics' ``scale_boxes`` computes them); ``pad`` is (left, top) in input
    pixels; shapes are (height, width).
    """

    gain_x: float
    gain_y: float
    pad: tuple[int, int]
    input_shape: tuple[int, int]
    original_shape: tuple[int, int]


def letterbox(image: np.ndarray, size: tuple[int, int], stride: int = 32, minimal: bool = False,
              fit: tuple[int, int] | None = None) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` (H, W, 3) u8 BGR keeping its aspect ratio and pad it with 114.

    ``size`` is the target (h, w). ``fit`` (default ``size``) bounds the resized image when it
    must be smaller than the canvas (a static model asked for a smaller size). Returns the (h', w', 3) u8 BGR input and the mapping back.
    Rounding follows Ultralytics exactly (Python's round-half-even): ``round(dh - 0.1)`` top,
    ``round(dh + 0.1)`` bottom.
    """
    h, w = image.shape[:2]
    bound = fit or size
    r = min(bound[0] / h, bound[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = size[1] - new_w, size[0] - new_h
    if minimal:
        dw, dh = dw % stride, dh % stride
    dw_half, dh_half = dw / 2, dh / 2
    if (w, h) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh_half - 0.1)), int(round(dh_half + 0.1))
    left, right = int(round(dw_half - 0.1)), int(round(dw_half + 0.1))
    if top or bottom or left or right:
        image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return image, Letterbox(gain_x=new_w / w, gain_y=new_h / h, pad=(left, top), input_shape=image.shape[:2], original_shape=(h, w))


def stretch(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` (H, W, 3) u8 BGR to exactly ``size`` (h, w), ignoring its aspect ratio.

    Ultralytics' ``LetterBox(scale_fill=True)``: what its depth predictor feeds the model (no padding,
    so every input pixel is image). Returns the (h, w, 3) u8 BGR input and the mapping back.
    """
    h, w = image.shape[:2]
    if (h, w) != tuple(size):
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    return image, Letterbox(gain_x=size[1] / w, gain_y=size[0] / h, pad=(0, 0), input_shape=image.shape[:2],
                            original_shape=(h, w))


def minimal_canvas(image_hw: tuple[int, int], bound: tuple[int, int], stride: int) -> tuple[int, int]:
    """The (h, w) input ``letterbox(image, bound, stride, minimal=True)`` makes for an image of
    ``image_hw``: the resized image padded to a stride multiple (Ultralytics' ``LetterBox(auto=True)``;
    1280x720 at 640 is 384x640)."""
    h, w = image_hw
    r = min(bound[0] / h, bound[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    return new_h + (bound[0] - new_h) % stride, new_w + (bound[1] - new_w) % stride
