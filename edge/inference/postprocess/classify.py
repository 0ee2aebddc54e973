"""Classify heads: (1, C) -> class probabilities.

Ultralytics' ``Classify`` head ends in a softmax in exported models, so the output already is a
distribution and is passed through; an output that is not one (a head exported without the
softmax) is turned into one here.
"""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def is_distribution(x: np.ndarray) -> bool:
    return bool(x.min() >= 0 and abs(float(x.sum()) - 1.0) < 1e-3)


def postprocess_classify(outputs: list[np.ndarray], original_shape: tuple[int, int] | Letterbox,
                         nc: int | None = None, options: PredictOptions | None = None,
                         end2end: bool = False) -> Prediction:
    """``outputs[0]``: (1, C). Returns ``probs`` (C,) float32; boxes, scores and classes are empty.

    ``original_shape`` is the (height, width) of the image (a ``Letterbox`` is accepted too);
    ``options`` does not apply to classify (Ultralytics ignores conf, iou and classes there).
    """
    shape = original_shape.original_shape if isinstance(original_shape, Letterbox) else original_shape
    probs = outputs[0].reshape(-1).astype(np.float32)
    if nc is not None and len(probs) != nc:
        raise ValueError(f"classify output has {len(probs)} values, the model names {nc} classes")
    if not is_distribution(probs):
        probs = softmax(probs.astype(np.float64)).astype(np.float32)
    return Prediction(orig_shape=tuple(shape), probs=probs)
