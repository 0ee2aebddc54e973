"""Raw model outputs -> ``Prediction``, one module per Ultralytics task; ``postprocess`` picks one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge.inference.letterbox import Letterbox
from edge.inference.options import PredictOptions
from edge.inference.postprocess.classify import postprocess_classify
from edge.inference.postprocess.depth import postprocess_depth
from edge.inference.postprocess.detect import postprocess_detect
from edge.inference.postprocess.obb import postprocess_obb
from edge.inference.postprocess.pose import postprocess_pose
from edge.inference.postprocess.segment import postprocess_segment
from edge.inference.postprocess.semantic import postprocess_semantic
from edge.inference.prediction import Prediction
from edge.inference.repository import ModelSpec

__all__ = ["postprocess", "postprocess_classify", "postprocess_depth", "postprocess_detect", "postprocess_obb",
           "postprocess_pose", "postprocess_segment", "postprocess_semantic"]


Postprocessor = Callable[[list[np.ndarray], Letterbox, ModelSpec, PredictOptions], Prediction]


def _pose(outputs: list[np.ndarray], lb: Letterbox, spec: ModelSpec, options: PredictOptions) -> Prediction:
    if spec.kpt_shape is None:
        raise ValueError(f"model {spec.model_id}: a pose model needs kpt_shape")
    return postprocess_pose(outputs, lb, len(spec.names), options, spec.kpt_shape, spec.end2end)


# One entry per task of the letterboxed kind; a new task registers here.
LETTERBOXED: dict[str, Postprocessor] = {
    "detect": lambda o, lb, spec, opt: postprocess_detect(o, lb, len(spec.names), opt, spec.end2end),
    "segment": lambda o, lb, spec, opt: postprocess_segment(o, lb, len(spec.names), opt, spec.end2end),
    "obb": lambda o, lb, spec, opt: postprocess_obb(o, lb, len(spec.names), opt, spec.end2end),
    "pose": _pose,
    "semantic": lambda o, lb, spec, opt: postprocess_semantic(o, lb, len(spec.names), opt),
    "depth": lambda o, lb, spec, opt: postprocess_depth(o, lb),  # stretched, not letterboxed: no padding in lb
}


def postprocess(task: str, outputs: list[np.ndarray], lb: Letterbox | tuple[int, int], spec: ModelSpec,
                options: PredictOptions) -> Prediction:
    """The ``Prediction`` of ``task`` (one of ``edge.inference.repository.TASKS``).

    ``outputs`` are the model outputs of one image (batch 1), in any order for segment. ``lb`` maps
    input pixels back to the original image; classify models are not letterboxed, so for them the
    original (height, width) is enough.
    """
    if task == "classify":
        return postprocess_classify(outputs, lb, len(spec.names))
    if task not in LETTERBOXED:
        raise ValueError(f"unknown task {task!r}")
    if not isinstance(lb, Letterbox):
        raise TypeError(f"task {task} needs the Letterbox of the image, got {type(lb).__name__}")
    return LETTERBOXED[task](outputs, lb, spec, options)
