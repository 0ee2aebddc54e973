"""The accuracy gate: the candidate IR against the FP32 IR on held-out images.

With labels, both IRs go through Ultralytics' own validator (box mAP; mask mAP for segment;
keypoint mAP for pose). Without labels, the FP32 model's predictions (conf >= 0.25) are the
reference and the candidate's box mAP against them is its agreement.
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

from conversion import evaluate
from conversion.dataset import label_path
from conversion.progress import Progress

logger = logging.getLogger(__name__)

#: Ultralytics' results_dict key suffix -> our metric prefix, per task.
_KINDS = {"detect": {"B": "box"}, "segment": {"B": "box", "M": "mask"}, "pose": {"B": "box", "P": "pose"}}


@dataclass(frozen=True)
class Accuracy:
    """Metrics in [0, 1] keyed like ``box_map50_95``, ``mask_map50``; ``mode`` labels|agreement."""

    mode: str
    images: int
    metrics: dict[str, float]


def drop_points(reference: Accuracy, candidate: Accuracy) -> float:
    """The largest mAP50-95 loss over the task's metrics, in points (1 point = 0.01 mAP)."""
    keys = [k for k in reference.metrics if k.endswith("map50_95")]
    return max((reference.metrics[k] - candidate.metrics[k]) * 100.0 for k in keys)


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
                          nc: int, progress: Progress | None) -> list[evaluate.Detections]:
    """FP32's confident predictions: the reference of the agreement score."""
    preds = evaluate.predict(compiled_fp32, images, imgsz, stride, nc, progress, desc="reference fp32",
                             multi_label=False)
    return [p.above(evaluate.REFERENCE_CONF) for p in preds]


def agreement(compiled: Any, images: Sequence[Path], reference: Sequence[evaluate.Detections],
              imgsz: tuple[int, int], stride: int, names: dict[int, str], progress: Progress | None,
              desc: str) -> Accuracy:
    """Box mAP of ``compiled`` scored against ``reference`` (FP32's predictions)."""
    preds = evaluate.predict(compiled, images, imgsz, stride, len(names), progress, desc=desc)
    score = evaluate.box_map(preds, reference, names)
    return Accuracy(mode="agreement", images=len(images),
                    metrics={"box_map50_95": score.map50_95, "box_map50": score.map50})
