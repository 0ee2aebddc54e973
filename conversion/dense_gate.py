"""The accuracy gate of the per-pixel tasks (YOLO26 semantic segmentation and depth): agreement with FP32.

The candidate runs on the held-out images through the daemon's pre-processing (letterbox for semantic,
stretch for depth) and its map is compared with the FP32 model's on the image pixels (letterbox padding
cut off):

- semantic: ``miou``, the mean over classes of the intersection over union of the two class maps (each
  class FP32 or the candidate gives any pixel), and ``pixel_agreement``, the share of pixels of the same class;
- depth: ``depth_agreement`` = 1 - the mean relative difference |d - d_fp32| / d_fp32, and ``depth_delta1``,
  the share of pixels within 1.25x of FP32 (the usual depth-accuracy threshold, against FP32).

``miou`` and ``depth_agreement`` are gated (``gate.gated``): a drop of 1 point is 1 % of mIoU, or 1 % mean
relative depth difference. FP32 against itself scores 1.

With labels for every held-out image (``conversion.dense_labels``: ``masks/`` or ``depth/`` beside
``images/``) both IRs go through Ultralytics' own validator instead: ``miou`` and ``pixel_acc`` for
semantic, ``depth_delta1`` and ``depth_abs_rel`` for depth (``miou`` and ``depth_delta1`` gated). With
accuracy control, NNCF returns layers to float judged by agreement on the calibration images.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from conversion import calibration, dataset, dense_labels, export
from conversion.gate import Accuracy, ultralytics_device
from conversion.options import Options
from conversion.progress import Progress, track
from conversion.recovering_gate import RecoveringGate
from conversion.source import SourceModel
from edge.inference.compile_options import compile_properties

logger = logging.getLogger(__name__)

_EPS = 1e-6


def predict_maps(compiled: Any, paths: Sequence[Path], imgsz: tuple[int, int], stride: int, task: str,
                 progress: Progress | None, desc: str) -> list[np.ndarray]:
    """Each image's map over its own pixels at the input resolution: (h, w) class indices or depth."""
    request = compiled.create_infer_request()
    maps: list[np.ndarray] = []
    for path in track(paths, progress, desc):
        image = calibration.read_bgr(path)
        if task == "semantic":
            tensor, lb = calibration.to_input(image, imgsz, stride)
        else:
            tensor = calibration.model_input(image, imgsz, stride, task)
        out = np.asarray(request.infer({0: tensor})[compiled.output(0)])
        rows, cols = int(out.shape[-2]), int(out.shape[-1])
        grid = out.reshape(rows, cols)
        if task == "semantic":  # cut the letterbox padding off: it is not the image
            left, top = lb.pad
            h, w = round(lb.original_shape[0] * lb.gain_y), round(lb.original_shape[1] * lb.gain_x)
            sy, sx = rows / imgsz[0], cols / imgsz[1]  # 1 unless the map is coarser than the input
            grid = grid[int(top * sy):int((top + h) * sy), int(left * sx):int((left + w) * sx)]
        maps.append(grid.astype(np.float32 if task == "depth" else np.int64))
    return maps


def semantic_agreement(maps: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> dict[str, float]:
    """``miou`` (classes pooled over all images) and ``pixel_agreement`` of ``maps`` against ``references``."""
    inter: dict[int, int] = {}
    union: dict[int, int] = {}
    same = total = 0
    for ours, ref in zip(maps, references):
        same += int((ours == ref).sum())
        total += ref.size
        for cls in np.union1d(np.unique(ours), np.unique(ref)).tolist():
            a, b = ours == cls, ref == cls
            inter[cls] = inter.get(cls, 0) + int((a & b).sum())
            union[cls] = union.get(cls, 0) + int((a | b).sum())
    ious = [inter[c] / union[c] for c in union if union[c]]
    return {"miou": float(np.mean(ious)) if ious else 1.0, "pixel_agreement": same / max(total, 1)}


def depth_agreement(maps: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> dict[str, float]:
    """``depth_agreement`` (1 - mean relative difference) and ``depth_delta1`` against ``references``."""
    rel: list[float] = []
    within: list[float] = []
    for ours, ref in zip(maps, references):
        ref = np.maximum(ref.astype(np.float64), _EPS)
        ours = np.maximum(ours.astype(np.float64), _EPS)
        rel.append(float(np.mean(np.abs(ours - ref) / ref)))
        within.append(float(np.mean(np.maximum(ours / ref, ref / ours) < 1.25)))
    return {"depth_agreement": max(0.0, 1.0 - float(np.mean(rel))) if rel else 1.0,
            "depth_delta1": float(np.mean(within)) if within else 1.0}


def agreement(task: str, maps: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> dict[str, float]:
    return semantic_agreement(maps, references) if task == "semantic" else depth_agreement(maps, references)


class DenseHoldoutSet:
    """The held-out images and their masks / depth maps as an Ultralytics dataset in ``workdir``."""

    def __init__(self, images: Sequence[Path], workdir: Path, task: str, names: dict[int, str]) -> None:
        root = workdir / "holdout"
        folder = dense_labels.FOLDERS[task]
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            name = f"{i:05d}_{image.stem}"
            shutil.copyfile(image, root / "images" / (name + image.suffix.lower()))
            label = dense_labels.label_file(image, task)
            assert label is not None  # labels_fit said every image has one
            shutil.copyfile(label, root / folder / (name + label.suffix))
        spec: dict[str, Any] = {"path": str(root), "train": "images", "val": "images", "names": names}
        if task == "semantic":
            spec["masks_dir"] = folder
        self.yaml = root / "data.yaml"
        self.yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
        self.runs = workdir / "val_runs"
        self.images = len(images)


def validate_labelled(ir_folder: Path, holdout: DenseHoldoutSet, task: str, imgsz: tuple[int, int], device: str,
                      quiet: bool) -> Accuracy:
    """Ultralytics' semantic / depth ``val`` of an IR folder on the held-out labels."""
    from ultralytics import YOLO

    results = YOLO(str(ir_folder), task=task).val(
        data=str(holdout.yaml), imgsz=max(imgsz), batch=1, device=ultralytics_device(device), plots=False,
        verbose=not quiet, project=str(holdout.runs), name=ir_folder.name, exist_ok=True, workers=0, rect=False)
    stats = results.results_dict
    if task == "semantic":
        metrics = {"miou": float(stats["metrics/mIoU"]), "pixel_acc": float(stats["metrics/pixel_acc"])}
    else:
        metrics = {"depth_delta1": float(stats["metrics/delta1"]), "depth_abs_rel": float(stats["metrics/abs_rel"])}
    return Accuracy("labels", holdout.images, metrics)


class DenseGate(RecoveringGate):
    """``HoldoutGate``'s interface for semantic and depth models: FP32's maps on the held-out images are
    the reference (``reference`` scores 1); ``measure`` scores a candidate IR folder; ``recover`` runs
    NNCF's accuracy control."""

    ac_validation = 50  # a map per image: heavier to score than boxes

    def __init__(self, opts: Options, source: SourceModel, imgsz: tuple[int, int], device: str, core: Any,
                 work: Path, fp32_folder: Path, split: dataset.Split, labelled: bool, progress: Progress) -> None:
        self.opts, self.source, self.imgsz, self.device, self.core = opts, source, imgsz, device, core
        self.work, self.split, self.progress, self.task = work, split, progress, source.task
        self.holdout = list(split.holdout)
        self.labelled = labelled
        if labelled:
            self.set = DenseHoldoutSet(self.holdout, work, self.task, source.names)
            self.reference = validate_labelled(fp32_folder, self.set, self.task, imgsz, device, opts.quiet)
            return
        self._truth = self._maps(self._compile(export.ir_file(fp32_folder)), self.holdout, "reference fp32")
        self.reference = Accuracy("agreement", len(self.holdout), agreement(self.task, self._truth, self._truth))

    def _compile(self, model_or_xml: Any) -> Any:
        model = self.core.read_model(model_or_xml) if isinstance(model_or_xml, Path) else model_or_xml
        return self.core.compile_model(model, self.device, compile_properties(self.device, "LATENCY"))

    def _maps(self, compiled: Any, paths: Sequence[Path], desc: str, progress: Progress | None = None) -> list[np.ndarray]:
        return predict_maps(compiled, paths, self.imgsz, self.source.stride, self.task,
                            self.progress if progress is None else progress, desc)

    def measure(self, folder: Path, desc: str = "validate result") -> Accuracy:
        if self.labelled:
            return validate_labelled(folder, self.set, self.task, self.imgsz, self.device, self.opts.quiet)
        maps = self._maps(self._compile(export.ir_file(folder)), self.holdout, desc)
        return Accuracy("agreement", len(self.holdout), agreement(self.task, maps, self._truth))

    def _score(self, compiled: Any, paths: list[Path], references: list[np.ndarray]) -> float:
        maps = predict_maps(compiled, paths, self.imgsz, self.source.stride, self.task, None, "accuracy control")
        score = agreement(self.task, maps, references)
        return score["miou" if self.task == "semantic" else "depth_agreement"]

    def _reference_outputs(self, fp32_model: Any, paths: list[Path]) -> list[np.ndarray]:
        return self._maps(self._compile(fp32_model), paths, "reference fp32")

    def _recovery_limit(self) -> float:
        return self.opts.max_drop
