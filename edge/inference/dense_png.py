"""Per-pixel results as the Ultralytics Platform sends them: a base64 PNG with its shape.

``semantic_mask``: ``{"shape": [H, W], "encoding": "png", "data"}``, the class index of every pixel
(8-bit PNG; 16-bit past 256 classes). ``depth``: the same plus ``min``, ``max`` (metres) and ``bits``:
each pixel holds ``depth / max`` on 8, 12 or 16 bits, stored in an 8-bit PNG for 8 and a 16-bit PNG
for 12 and 16 (12 bits are 4096 levels spread over the 16-bit range). The ``ultralytics-platform``
SDK decodes it as ``pixels * max / (255 if bits == 8 else 65535)``.
"""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from edge.inference.prediction import Prediction

BITS = (8, 12, 16)
#: Fast zlib level: a 1080p 16-bit map encodes in tens of milliseconds instead of hundreds.
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def png_base64(pixels: np.ndarray) -> str:
    """(H, W) u8 or u16 -> base64 of its PNG."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(pixels), _PNG)
    if not ok:  # cv2 fails only on unsupported dtypes, which the callers never pass
        raise ValueError(f"cannot encode a {pixels.dtype} map as PNG")
    return base64.b64encode(data.tobytes()).decode("ascii")


def semantic_mask_field(class_map: np.ndarray) -> dict[str, Any]:
    pixels = class_map.astype(np.uint8 if class_map.dtype == np.uint8 else np.uint16)
    return {"shape": list(class_map.shape), "encoding": "png", "data": png_base64(pixels)}


def depth_levels(depth: np.ndarray, bits: int) -> np.ndarray:
    """The PNG pixels of ``depth`` (H, W) float: ``depth / max`` on ``bits`` bits, as u8 or u16."""
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, got {bits}")
    top = float(depth.max()) if depth.size else 0.0
    scaled = np.clip(depth / top, 0.0, 1.0) if top > 0 else np.zeros_like(depth)
    if bits == 8:
        return np.rint(scaled * 255.0).astype(np.uint8)
    levels = np.rint(scaled * float(2 ** bits - 1))
    if bits == 12:
        levels = np.rint(levels * (65535.0 / 4095.0))
    return levels.astype(np.uint16)


def depth_field(depth: np.ndarray, bits: int) -> dict[str, Any]:
    return {"shape": list(depth.shape), "encoding": "png", "data": png_base64(depth_levels(depth, bits)),
            "min": float(depth.min()) if depth.size else 0.0, "max": float(depth.max()) if depth.size else 0.0,
            "bits": bits}


def dense_fields(pred: Prediction, bits: int) -> dict[str, Any]:
    """The per-image ``semantic_mask`` / ``depth`` entries of ``pred`` (none for other tasks)."""
    fields: dict[str, Any] = {}
    if pred.semantic_mask is not None:
        fields["semantic_mask"] = semantic_mask_field(pred.semantic_mask)
    if pred.depth is not None:
        fields["depth"] = depth_field(pred.depth, bits)
    return fields
