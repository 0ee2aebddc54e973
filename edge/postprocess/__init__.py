"""Raw model outputs -> ``Prediction``, one module per Ultralytics task."""

from __future__ import annotations

import numpy as np

from edge.errors import ModelError
from edge.letterbox import Letterbox
from edge.model_repo import ModelSpec
from edge.predict_options import PredictOptions
from edge.prediction import Prediction


def postprocess(task: str, outputs: list[np.ndarray], lb: Letterbox, spec: ModelSpec,
                options: PredictOptions) -> Prediction:
    """Dispatch on ``task``; ``outputs`` are the model's raw outputs for one image (batch 1)."""
    nc = len(spec.names)
    if task == "detect":
        from edge.postprocess.detect import postprocess_detect
        return postprocess_detect(outputs, lb, nc, options, spec.end2end)
    raise ModelError(f"task {task!r} is not supported yet")
