"""Semantic segmentation (YOLO26 ``-sem``): the class map of the input -> one class per original pixel.

The twin of Ultralytics' ``SemanticSegmentationPredictor.postprocess``. Its OpenVINO export bakes the
ArgMax into the graph, so the output is a (1, h, w) class map at the input resolution; it is brought
to the input size (nearest), the letterbox padding is cut off and the rest resized (nearest) to the
original image. An export that still outputs (1, C, h, w) logits gets its ArgMax here, at the input
resolution (Ultralytics resizes the logits first: the two differ only along class borders).
"""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.dense_resize import resize_nearest
from edge.inference.prediction import Prediction

#: The class index Ultralytics gives pixels whose class the request filtered out.
IGNORED = 255


def class_map_dtype(num_classes: int) -> type:
    """The smallest integer type for class indices (Ultralytics' ``_class_map_dtype``)."""
    return np.uint8 if num_classes <= 256 else np.int16 if num_classes <= 32768 else np.int32


def postprocess_semantic(outputs: list[np.ndarray], lb: Letterbox, num_classes: int,
                         options: PredictOptions) -> Prediction:
    """``outputs[0]``: (1, h, w) class indices, or (1, C, h, w) logits. Returns ``semantic_mask``
    (H, W) over the original image."""
    out = np.asarray(outputs[0])
    if out.ndim == 4:
        out = out[0].argmax(0) if out.shape[1] > 1 else (out[0, 0] > 0)
    elif out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"a semantic model outputs (1, h, w) class indices or (1, C, h, w) logits, got {out.shape}")
    grid = resize_nearest(out, lb.input_shape)
    left, top = lb.pad
    height = max(round(lb.original_shape[0] * lb.gain_y), 1)
    width = max(round(lb.original_shape[1] * lb.gain_x), 1)
    class_map = resize_nearest(grid[top:top + height, left:left + width], lb.original_shape)
    class_map = class_map.astype(class_map_dtype(max(num_classes, 2)))
    if options.classes is not None and num_classes > 1:
        class_map = class_map.copy()
        class_map[~np.isin(class_map, np.fromiter(options.classes, np.int64))] = IGNORED
    return Prediction(orig_shape=lb.original_shape, semantic_mask=class_map)
