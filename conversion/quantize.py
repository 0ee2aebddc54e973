"""INT8 with NNCF: Ultralytics' recipe (its ignored scope for the head), and our sharper default.

Ultralytics' recipe (``ultralytics/utils/export/openvino.py``) quantizes everything except the
head's decode arithmetic (boxes, DFL, sigmoid). Our default adds three things: the convolutions that
feed the outputs directly (box, class, mask coefficient and keypoint logits, plus the mask
prototypes) stay in float, which costs little speed since they are small 1x1 layers at the end;
activation ranges come from histograms (least quantization error) instead of the extremes seen; and
NNCF's transformer rules leave element-wise arithmetic (the residual adds) on float inputs. On
coco128 (docs/conversion.md) it meets the targets on every fold measured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.inference.repository import DENSE_TASKS

logger = logging.getLogger(__name__)


class _ExpectedRollback(logging.Filter):
    """Histogram ranges cannot be per-channel; for the few per-channel activation quantizers (the
    attention ``MatMul`` inputs under the transformer rules) NNCF falls back to min/max and warns once
    per quantizer. That is the recipe working as measured, not something a user can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "HistogramAggregator does not support per-channel" not in record.getMessage()


logging.getLogger("nncf").addFilter(_ExpectedRollback())


@dataclass(frozen=True)
class Recipe:
    """How to quantize. ``float_outputs`` keeps output-feeding convolutions in float;
    ``fast_bias_correction`` False runs NNCF's full BiasCorrection; ``preset`` is mixed or performance;
    ``activation_ranges`` is how each activation quantizer's range is set from the calibration
    statistics: ``minmax`` (NNCF's default: the extremes seen) or ``histogram`` (the range that
    minimises the quantization error over a histogram of the values seen, clipping rare outliers);
    ``transformer_rules`` passes ``model_type=TRANSFORMER`` to NNCF, which leaves the inputs of
    element-wise arithmetic (the residual ``Add``s, ``Subtract``, ``Divide``, ``Maximum``...) and of
    normalisations unquantized and quantizes the activations of attention ``MatMul``s symmetrically."""

    name: str
    preset: str = "mixed"
    fast_bias_correction: bool = True
    float_outputs: bool = False
    activation_ranges: str = "minmax"
    transformer_rules: bool = False
    extra_ignored: tuple[str, ...] = field(default=())


ULTRALYTICS = Recipe(name="ultralytics")
#: Fast bias correction: the full form cost 5 of the 8 minutes of a 64-image calibration on the shared
#: 2-core machine for no measurable accuracy (bench/gate_bench.py, docs/conversion.md).
#: Histogram ranges + transformer rules: with min/max ranges alone yolo11n-dq lost 0.61 mAP50-95 on
#: unseen coco128 images after a 64-frame plain-folder calibration (issue 12 asks <= 0.5); of the 20
#: variants measured (docs/conversion.md, "Recipe variants") this pair was the only one within 0.5
#: on both halves for yolo11n-dq and yolov8n-dq, at the same speed and under a minute of calibration.
DEFAULT = Recipe(name="yolo-edge", float_outputs=True, fast_bias_correction=True, activation_ranges="histogram",
                 transformer_rules=True)
RECIPES = {r.name: r for r in (ULTRALYTICS, DEFAULT)}


def describe(recipe: Recipe, task: str = "detect") -> str:
    """One sentence for the report: what ``recipe`` keeps in float and how it corrects biases."""
    parts = [f"NNCF {recipe.preset} preset"]
    if task not in NO_HEAD_SCOPE:  # Ultralytics ignores nothing in these heads
        parts.append("Ultralytics' head scope (box decoding, DFL, sigmoid) in float")
    if recipe.float_outputs:
        parts.append("output-feeding layers in float")
    parts.append("full bias correction" if not recipe.fast_bias_correction else "fast bias correction")
    if recipe.activation_ranges == "histogram":
        parts.append("activation ranges from histograms (least quantization error)")
    if recipe.transformer_rules:
        parts.append("NNCF's transformer rules (element-wise arithmetic on float inputs)")
    return "; ".join(parts) + "."

#: Heads that are not Detect subclasses: Ultralytics' exporter gives them no ignored scope.
NO_HEAD_SCOPE = ("classify", *DENSE_TASKS)

#: --device -> NNCF target device (the hardware config decides which ops get quantized).
TARGET_DEVICES = {"CPU": "CPU", "GPU": "GPU", "NPU": "NPU", "AUTO": "ANY"}


def ultralytics_head_scope(ov_model: Any, task: str = "detect") -> list[str]:
    """The names Ultralytics ignores: every Sigmoid, and the head's own ops (``<head>/...``,
    ``<head>.dfl``): box decoding, DFL and class sigmoid. Mirrors ``torch2openvino(int8_detect=True)``,
    which Ultralytics' exporter sets for Detect heads and their subclasses (Segment, Pose, OBB); a
    Classify head gets no ignored scope there, nor here."""
    if task in NO_HEAD_SCOPE:
        return []
    operations = ov_model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in operations if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return []
    head = sigmoids[-1].split("/", 1)[0]
    return [
        op.get_friendly_name()
        for op in operations
        if op.get_type_name() == "Sigmoid" or op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl"))
    ]


def output_convolutions(ov_model: Any) -> list[str]:
    """Convolutions whose result reaches a model output through no other convolution.

    For YOLO heads these are the 1x1 layers producing box distributions, class logits, mask
    coefficients, keypoints, OBB angles and the last mask-prototype layer: tiny in FLOPs, large in
    effect. A classify head ends in a linear layer (MatMul), which is where the search stops there.
    """
    found: list[str] = []
    seen: set[str] = set()
    stack = [r.input_value(0).get_node() for r in ov_model.get_results()]
    while stack:
        node = stack.pop()
        key = node.get_friendly_name()
        if key in seen:
            continue
        seen.add(key)
        kind = node.get_type_name()
        # DFL's fixed arange convolution is decoding (in Ultralytics' scope): look through it
        if kind in ("Convolution", "GroupConvolution", "MatMul") and ".dfl" not in key:
            found.append(key)
            continue
        if kind in ("Constant", "Parameter", "ShapeOf"):  # shape-only paths carry no values
            continue
        stack.extend(v.get_node() for v in node.input_values())
    return sorted(set(found))


def ignored_names(ov_model: Any, recipe: Recipe, task: str = "detect") -> list[str]:
    names = ultralytics_head_scope(ov_model, task)
    if recipe.float_outputs:
        names += output_convolutions(ov_model)
    names += list(recipe.extra_ignored)
    return sorted(set(names))


def advanced_parameters(recipe: Recipe) -> Any:
    """NNCF's ``AdvancedQuantizationParameters`` for ``recipe``; None when it needs none."""
    if recipe.activation_ranges == "minmax":
        return None
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    return AdvancedQuantizationParameters(activations_range_estimator_params=RangeEstimatorParametersSet.HISTOGRAM)


def _recipe_arguments(ov_model: Any, size: int, recipe: Recipe, device: str, task: str) -> dict[str, Any]:
    """The arguments ``nncf.quantize`` and ``nncf.quantize_with_accuracy_control`` share: how ``recipe``
    quantizes (their advanced parameters differ in name, so the callers pass ``advanced_parameters``)."""
    import nncf

    return {
        "model": ov_model,
        "preset": nncf.QuantizationPreset.MIXED if recipe.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
        "target_device": getattr(nncf.TargetDevice, TARGET_DEVICES.get(device, "ANY")),
        "subset_size": size,
        "fast_bias_correction": recipe.fast_bias_correction,
        "ignored_scope": nncf.IgnoredScope(names=ignored_names(ov_model, recipe, task), validate=False),
        "model_type": nncf.ModelType.TRANSFORMER if recipe.transformer_rules else None,
    }


def quantize(ov_model: Any, calibration: Any, size: int, recipe: Recipe, device: str, task: str = "detect") -> Any:
    """Quantize ``ov_model`` on all ``size`` calibration inputs with ``recipe``; returns a new model."""
    import nncf

    return nncf.quantize(calibration_dataset=calibration, advanced_parameters=advanced_parameters(recipe),
                         **_recipe_arguments(ov_model, size, recipe, device, task))


def quantize_with_accuracy_control(ov_model: Any, calibration: Any, size: int, validation_items: Sequence[Any],
                                   validation_fn: Callable[[Any, Any], tuple[float, None]], max_drop_points: float,
                                   recipe: Recipe, device: str, max_iterations: int = 8, task: str = "detect") -> Any:
    """NNCF's accuracy-controlled quantization: quantize, then return layers to float, most harmful
    first, until the metric (``validation_fn``, in [0, 1]) is within ``max_drop_points``/100 of FP32.

    At most ``max_iterations`` groups go back to float, which bounds both time and lost speed.
    """
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    return nncf.quantize_with_accuracy_control(
        calibration_dataset=calibration,
        validation_dataset=nncf.Dataset(list(validation_items)),
        validation_fn=validation_fn,
        max_drop=max_drop_points / 100.0,
        drop_type=nncf.DropType.ABSOLUTE,
        advanced_quantization_parameters=advanced_parameters(recipe),
        advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
            max_num_iterations=max_iterations, ranking_subset_size=min(len(validation_items), 64)
        ),
        **_recipe_arguments(ov_model, size, recipe, device, task),
    )
