"""Raw model outputs -> ``Prediction``, one module per Ultralytics task; ``postprocess`` picks one."""

from __future__ import annotations

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.classify import postprocess_classify
from edge.inference.postprocess.detect import postprocess_detect
from edge.inference.postprocess.obb import postprocess_obb
from edge.inference.postprocess.pose import postprocess_pose
from edge.inference.postprocess.segment import postprocess_segment
from edge.inference.prediction import Prediction
from edge.inference.repository import ModelSpec

__all__ = ["postprocess", "postprocess_classify", "postprocess_detect", "postprocess_obb",
           "postprocess_pose", "postprocess_segment"]


def postprocess(task: str, outputs: list[np.ndarray], lb: Letterbox | tuple[int, int], spec: ModelSpec,
                options: PredictOptions) -> Prediction:
    """Dispatch on ``task`` (one of ``edge.inference.repository.TASKS``).

    ``outputs`` are the model outputs of one image (batch 1), in any order for segment. ``lb`` maps
    input pixels back to the original image; classify models are not letterboxed, so for them the
    original (height, width) is enough.
    """
    nc = len(spec.names)
    if task == "classify":
        return postprocess_classify(outputs, lb, nc)
    if not isinstance(lb, Letterbox):
        raise TypeError(f"task {task} needs the Letterbox of the image, got {type(lb).__name__}")
    if task == "detect":
        return postprocess_detect(outputs, lb, nc, options, spec.end2end)
    if task == "segment":
        return postprocess_segment(outputs, lb, nc, options, spec.end2end)
    if task == "pose":
        if spec.kpt_shape is None:
            raise ValueError(f"model {spec.model_id}: a pose model needs kpt_shape")
        return postprocess_pose(outputs, lb, nc, options, spec.kpt_shape, spec.end2end)
    if task == "obb":
        return postprocess_obb(outputs, lb, nc, options, spec.end2end)
    raise ValueError(f"unknown task {task!r}")
