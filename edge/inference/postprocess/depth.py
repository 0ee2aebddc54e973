"""Depth estimation (YOLO26 ``-depth``): the (1, 1, h, w) depth of the input -> depth per original pixel.

The twin of Ultralytics' ``DepthPredictor.postprocess``: the image was stretched to the input (no
letterbox: ``edge.inference.letterbox.stretch``), so the map is brought to the input size and then to
the original size, both bilinear with ``align_corners=True``, as Ultralytics does.
"""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.postprocess.dense_resize import resize_bilinear_aligned
from edge.inference.prediction import Prediction


def postprocess_depth(outputs: list[np.ndarray], lb: Letterbox) -> Prediction:
    """``outputs[0]``: (1, 1, h, w) or (1, h, w) depth in metres. Returns ``depth`` (H, W) float32."""
    out = np.asarray(outputs[0], dtype=np.float32)
    out = out.reshape(out.shape[-2:]) if out.size == out.shape[-1] * out.shape[-2] else out
    if out.ndim != 2:
        raise ValueError(f"a depth model outputs (1, 1, h, w) depth, got {np.shape(outputs[0])}")
    at_input = resize_bilinear_aligned(out, lb.input_shape)
    return Prediction(orig_shape=lb.original_shape, depth=resize_bilinear_aligned(at_input, lb.original_shape))
