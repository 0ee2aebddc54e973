"""The accuracy gate: the candidate IR against the FP32 IR on held-out images.

With labels, both IRs go through Ultralytics' own validator (box mAP; mask mAP for segment;
keypoint mAP for pose). Without labels, the FP32 model's predictions (conf >= 0.25) are the
reference and the candidate's mAP against them is its agreement: box mAP, plus mask mAP for segment
(FP32's masks as the reference) and pose mAP for pose (OKS against FP32's keypoints), rotated-box
mAP for OBB. As with labels, the drop is the largest over these (keypoint agreement weighted
0.5: ``AGREEMENT_WEIGHTS``).
Classify: top-1 / top-5 accuracy with an ImageNet-style folder, else top-1 agreement and top-5
overlap with FP32 (``conversion.classify_eval``).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conversion import classify_eval, evaluate
from conversion.dataset import label_path
from conversion.progress import Progress
from edge.inference.repository import DENSE_TASKS

logger = logging.getLogger(__name__)

#: Ultralytics' results_dict key suffix -> our metric prefix, per task.
_KINDS = {"detect": {"B": "box"}, "segment": {"B": "box", "M": "mask"}, "pose": {"B": "box", "P": "pose"}}


@dataclass(frozen=True)
class Accuracy:
    """Metrics in [0, 1] keyed like ``box_map50_95``, ``mask_map50``; ``mode`` labels|agreement;
    ``reference_boxes``: for agreement, how many FP32 boxes were the reference."""

    mode: str
    images: int
    metrics: dict[str, float]
    reference_boxes: int | None = None


#: The gated agreement figures of semantic and depth models (``conversion.dense_gate``).
DENSE_GATED = ("miou", "depth_agreement", "depth_delta1")


def gated(key: str) -> bool:
    """Whether a metric counts for the drop: every mAP50-95, and classify's top-1 / top-5 figures."""
    return key.endswith("map50_95") or key.startswith("top") or key in DENSE_GATED


#: What a dense model's drop is counted in (``conversion.dense_gate``): 1 point = 1 % of the figure.
DENSE_UNITS = {"semantic": "mIoU", "depth": "depth agreement (1 - mean relative difference)"}


def points_label(mode: str, task: str) -> str:
    """What a drop is counted in, for messages: agreement points are not mAP points."""
    if task == "classify":
        return "top-1/top-5 agreement points" if mode == "agreement" else "top-1/top-5 points"
    if task in DENSE_UNITS:
        return f"{DENSE_UNITS[task]} points" + (" (agreement with FP32's maps)" if mode == "agreement" else "")
    if mode != "agreement":
        return "mAP50-95 points"
    if task in ("segment", "pose"):
        what = "masks" if task == "segment" else "keypoints"
        half = "; keypoints count half" if task == "pose" else ""
        return f"agreement points (mAP50-95 against FP32's own boxes and {what}, the largest drop{half})"
    return "agreement points (mAP50-95 against FP32's own boxes)"


def headline(accuracy: Accuracy) -> float:
    """The first gated metric (box mAP50-95, or top-1): what NNCF's accuracy control optimises."""
    return next(v for k, v in accuracy.metrics.items() if gated(k))


#: The unlabelled gate's limit in agreement points is ``AGREEMENT_FLOOR + AGREEMENT_SLOPE * --max-drop``.
#: Agreement moves more than real mAP: INT8 boxes that shift by a pixel or cross the 0.25 confidence
#: line next to FP32's count as misses and false alarms against FP32's predictions, while against
#: the labels they mostly do not matter. Measured with bench/gate_bench.py (docs/conversion.md, "What
#: the agreement drop means"): good INT8 detect, segment and pose models lost 1.6-3.6 box agreement
#: points (-0.5-1.2 real points) and segment's 3.2-4.5 mask agreement points; broken ones lost 9-52
#: (gated), about 2.4-3.9 agreement points per real point. So 5.0 at --max-drop 1, for the larger of box
#: and mask / pose agreement drop too (no separate mask limit: 5.0 sits between the good and weak ones).
AGREEMENT_FLOOR, AGREEMENT_SLOPE = 2.0, 3.0
#: Fewer reference boxes than this over the held-out images and agreement cannot judge anything.
MIN_REFERENCE_BOXES = 10


@dataclass(frozen=True)
class Limit:
    """The limit a gate applies, in its own points, and where that figure comes from."""

    points: float
    source: str


def limit(mode: str, task: str, max_drop: float, max_agreement_drop: float | None) -> Limit:
    """The gate's limit: --max-drop mAP points with labels; without, the agreement drop that goes
    with it (or --max-agreement-drop). Classify's (top-1 / top-5) and the dense maps' agreement (semantic
    mIoU, depth) are held to --max-drop: the 2 + 3 x relation was measured on boxes only."""
    if mode != "agreement" or task in ("classify", *DENSE_TASKS):
        return Limit(max_drop, "--max-drop")
    if max_agreement_drop is not None:
        return Limit(max_agreement_drop, "--max-agreement-drop")
    return Limit(agreement_limit(max_drop),
                 f"--max-drop {max_drop:g} as agreement points: {AGREEMENT_FLOOR:g} + {AGREEMENT_SLOPE:g} × {max_drop:g}")


def agreement_limit(max_drop: float) -> float:
    """The agreement drop (points) that stands for a real mAP50-95 drop of ``max_drop`` points."""
    return AGREEMENT_FLOOR + AGREEMENT_SLOPE * max_drop


#: Agreement drops of these metrics count at this weight against the agreement limit. Keypoint agreement
#: (OKS against FP32's keypoints) moves about twice as much as box agreement: on a plain folder (64 coco128
#: frames, 93 persons) good INT8 pose models lost 7.7-8.7 keypoint agreement points (box 2.5-3.1), while
#: noise / 2-image / blank calibration lost 11.7-48.7 (bench/gate_results.md). So keypoints are held to
#: twice the box limit (10 at --max-drop 1). Mask agreement counts in full (good models: 3.2-4.5).
AGREEMENT_WEIGHTS = {"pose_map50_95": 0.5}


def drop_points(reference: Accuracy, candidate: Accuracy) -> float:
    """The largest loss over the task's gated metrics (mAP50-95; classify: top-1 and top-5), in points
    (1 point = 0.01); in agreement mode weighted by ``AGREEMENT_WEIGHTS``."""
    keys = [k for k in reference.metrics if gated(k)]
    weights = AGREEMENT_WEIGHTS if reference.mode == "agreement" else {}
    return max((reference.metrics[k] - candidate.metrics[k]) * 100.0 * weights.get(k, 1.0) for k in keys)


def ultralytics_device(device: str) -> str:
    """--device -> Ultralytics' OpenVINO device string."""
    return f"intel:{device.lower()}"


class HoldoutSet:
    """The held-out images as an Ultralytics dataset in ``workdir`` (images linked, labels copied)."""

    def __init__(self, images: Sequence[Path], workdir: Path, names: dict[int, str],
                 kpt_shape: tuple[int, int] | None) -> None:
        self.images = list(images)
        root = workdir / "holdout"
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(self.images):
            name = f"{i:05d}_{image.stem}"
            link = root / "images" / (name + image.suffix.lower())
            try:
                os.symlink(image.resolve(), link)
            except OSError:
                shutil.copyfile(image, link)
            label = label_path(image)
            if label.is_file():
                shutil.copyfile(label, root / "labels" / (name + ".txt"))
        spec: dict[str, Any] = {"path": str(root), "train": "images", "val": "images", "names": names}
        if kpt_shape is not None:
            spec["kpt_shape"] = list(kpt_shape)
            spec["flip_idx"] = list(range(kpt_shape[0]))
        self.yaml = root / "data.yaml"
        self.yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
        self.runs = workdir / "val_runs"


def validate_labelled(ir_folder: Path, holdout: HoldoutSet, task: str, imgsz: tuple[int, int], device: str,
                      quiet: bool) -> Accuracy:
    """Ultralytics ``val`` of an IR folder on the held-out labels."""
    from ultralytics import YOLO

    os.environ.setdefault("YOLO_OFFLINE", "1")
    model = YOLO(str(ir_folder), task=task)
    results = model.val(
        data=str(holdout.yaml), imgsz=max(imgsz), batch=1, device=ultralytics_device(device), plots=False,
        verbose=not quiet, project=str(holdout.runs), name=ir_folder.name, exist_ok=True, workers=0, rect=False,
    )
    stats = results.results_dict
    metrics: dict[str, float] = {}
    for suffix, kind in _KINDS[task].items():
        metrics[f"{kind}_map50_95"] = float(stats[f"metrics/mAP50-95({suffix})"])
        metrics[f"{kind}_map50"] = float(stats[f"metrics/mAP50({suffix})"])
    return Accuracy(mode="labels", images=len(holdout.images), metrics=metrics)


def reference_predictions(compiled_fp32: Any, images: Sequence[Path], imgsz: tuple[int, int], stride: int,
                          nc: int, progress: Progress | None, task: str = "detect",
                          kpt_shape: tuple[int, int] | None = None) -> list[Any]:
    """FP32's predictions, the reference of the agreement score: confident ``Detections`` (rotated
    for OBB; with masks for segment, keypoints for pose), or for classify each image's top-5 class
    indices."""
    if task == "classify":
        return classify_eval.predict_topk(compiled_fp32, images, imgsz[0], progress, desc="reference fp32")
    preds = evaluate.predict(compiled_fp32, images, imgsz, stride, nc, progress, desc="reference fp32",
                             multi_label=False, **_extras(task, kpt_shape))
    return [p.above(evaluate.REFERENCE_CONF) for p in preds]


def _extras(task: str, kpt_shape: tuple[int, int] | None) -> dict[str, Any]:
    """What ``evaluate.predict`` decodes besides boxes for ``task``."""
    if task == "pose" and kpt_shape is None:
        raise ValueError("a pose model's agreement needs its kpt_shape")
    return {"rotated": task == "obb", "masks": task == "segment",
            "kpt_shape": tuple(kpt_shape) if task == "pose" else None}


def agreement(compiled: Any, images: Sequence[Path], reference: Sequence[Any],
              imgsz: tuple[int, int], stride: int, names: dict[int, str], progress: Progress | None,
              desc: str, task: str = "detect", kpt_shape: tuple[int, int] | None = None) -> Accuracy:
    """``compiled`` scored against ``reference`` (FP32's predictions): box mAP (rotated for OBB), plus
    mask mAP for segment (masks compared at the prototype resolution of the letterboxed input, FP32's
    and the candidate's alike, as Ultralytics' validator compares them) and pose mAP for pose (OKS
    against FP32's keypoints that it gives visibility >= 0.5); or top-1 agreement and top-5 overlap for
    classify."""
    if task == "classify":
        top = classify_eval.predict_topk(compiled, images, imgsz[0], progress, desc=desc)
        return Accuracy(mode="agreement", images=len(images), metrics=classify_eval.agreement(top, reference))
    extras = _extras(task, kpt_shape)
    preds = evaluate.predict(compiled, images, imgsz, stride, len(names), progress, desc=desc, **extras)
    scores = evaluate.scores(preds, reference, names, rotated=extras["rotated"])
    metrics: dict[str, float] = {}
    for kind, score in scores.items():
        metrics[f"{kind}_map50_95"] = score.map50_95
        metrics[f"{kind}_map50"] = score.map50
    return Accuracy(mode="agreement", images=len(images), metrics=metrics,
                    reference_boxes=sum(len(r.cls) for r in reference))


def classify_labelled(compiled: Any, images: Sequence[Path], labels: Sequence[int], size: int,
                      progress: Progress | None, desc: str) -> Accuracy:
    """Top-1 / top-5 accuracy of a classify model against folder labels."""
    top = classify_eval.predict_topk(compiled, images, size, progress, desc=desc)
    return Accuracy(mode="labels", images=len(images), metrics=classify_eval.accuracy(top, labels))
