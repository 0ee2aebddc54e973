"""What travels on Frigate's ``zmq`` detector socket (``edge/http/zmq_detector.py`` has the protocol):
the JSON header, Frigate's tensor turned into the image the predictor takes, and the (20, 6) rows back."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import orjson

from edge import errors
from edge.inference.prediction import Prediction

ROWS = 20  # Frigate's detector result is (20, 6)
CONFIDENCE = 0.4  # Frigate's detect() stops at the first row below 0.4
MIN_SIDE = 16  # smaller is no image, and keeps the four layouts apart
MAX_HEADER = 64 * 1024
# Frigate's model.input_tensor: the tensor's shape test and the (H, W, 3) view of it.
LAYOUTS: dict[str, tuple[Callable[[list[int]], bool], Callable[[np.ndarray], np.ndarray]]] = {
    "nhwc": (lambda s: s[0] == 1 and s[3] == 3 and min(s[1], s[2]) >= MIN_SIDE, lambda t: t[0]),
    "nchw": (lambda s: s[0] == 1 and s[1] == 3 and min(s[2], s[3]) >= MIN_SIDE, lambda t: t[0].transpose(1, 2, 0)),
    "hwnc": (lambda s: s[2] == 1 and s[3] == 3 and min(s[0], s[1]) >= MIN_SIDE, lambda t: t[:, :, 0, :]),
    "hwcn": (lambda s: s[2] == 3 and s[3] == 1 and min(s[0], s[1]) >= MIN_SIDE, lambda t: t[:, :, :, 0]),
}
DTYPES = {"uint8": np.uint8, "float32": np.float32}  # Frigate's input_dtype int, and float / float_denorm


def tensor_image(header: dict[str, Any], data: bytes, pixel_format: str, max_pixels: int) -> np.ndarray:
    """Frigate's tensor -> (H, W, 3) u8 BGR, the image ``Predictor.predict_image`` takes."""
    shape, dtype = header.get("shape"), header.get("dtype")
    if not (isinstance(shape, list) and len(shape) == 4
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise errors.BadRequest(f"shape must be 4 positive integers, e.g. [1, 320, 320, 3]; got {str(shape)[:80]}")
    if dtype not in DTYPES:
        raise errors.BadRequest(f"dtype must be uint8 (Frigate's input_dtype int) or float32 (float, "
                                f"float_denorm); got {str(dtype)[:40]}")
    view = next((pick for test, pick in LAYOUTS.values() if test(shape)), None)
    if view is None:
        raise errors.BadRequest(f"shape {shape} is not an image tensor as Frigate sends it: (1, H, W, 3) nhwc, "
                                f"(1, 3, H, W) nchw, (H, W, 1, 3) hwnc or (H, W, 3, 1) hwcn, H and W >= {MIN_SIDE}")
    needed = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if len(data) != needed:
        raise errors.BadRequest(f"the tensor has {len(data)} bytes; shape {shape} of {dtype} needs {needed}")
    hwc = view(np.frombuffer(data, DTYPES[dtype]).reshape(shape))
    if hwc.shape[0] * hwc.shape[1] > max_pixels:
        raise errors.PayloadTooLarge(f"the tensor is {hwc.shape[1]}x{hwc.shape[0]}; the limit is "
                                     f"{max_pixels / 1e6:.1f} megapixels (server.max_image_mpix)")
    if hwc.dtype == np.float32:
        hwc = float_pixels(hwc)
    hwc = np.ascontiguousarray(hwc)
    if pixel_format == "rgb":
        return cv2.cvtColor(hwc, cv2.COLOR_RGB2BGR)
    return hwc if hwc.flags.writeable else hwc.copy()  # a view of the received frame is read-only


def float_pixels(x: np.ndarray) -> np.ndarray:
    """0-1 (Frigate's ``float``: u8 / 255) or 0-255 (``float_denorm``) float32 -> u8, exactly the u8
    Frigate started from. An image whose every value is 0 or 1 reads as 0-1 (it is black either way)."""
    if not np.isfinite(x).all():
        raise errors.BadRequest("the float32 tensor holds NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise errors.BadRequest(f"float32 pixels must be 0-1 (input_dtype float) or 0-255 (float_denorm); "
                                f"got {lo:.4g} to {hi:.4g}")
    return np.rint(x * 255.0 if hi <= 1.0 else x).astype(np.uint8)


def rows(pred: Prediction) -> np.ndarray:
    """(20, 6) float32 ``[class, score, y_min, x_min, y_max, x_max]``, coordinates as 0-1 fractions of the
    image, best first (``pred`` is sorted), zero rows after the last."""
    h, w = pred.orig_shape
    out = np.zeros((ROWS, 6), np.float32)
    n = min(ROWS, len(pred))
    boxes = pred.boxes[:n].astype(np.float64)
    out[:n, 0] = pred.classes[:n]
    out[:n, 1] = pred.scores[:n]
    out[:n, 2:] = boxes[:, [1, 0, 3, 2]] / (h, w, h, w)
    return out


def error_reply(message: str) -> list[bytes]:
    """The reference server's error answer: Frigate reads it as a frame with no detections."""
    header = {"shape": [ROWS, 6], "dtype": "float32", "error": message}
    return [orjson.dumps(header), np.zeros((ROWS, 6), np.float32).tobytes()]


def read_header(body: list[bytes]) -> dict[str, Any]:
    if not body or len(body[0]) > MAX_HEADER:
        raise errors.BadRequest("the first frame must be a JSON header of at most 64 KB")
    try:
        header = orjson.loads(body[0])
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict):
        raise errors.BadRequest('the first frame must be a JSON object: {"shape", "dtype", "model_type"} or '
                                '{"model_request": true, "model_name"}')
    return header
