"""Top-1 / top-5 of a classify OpenVINO model on held-out images, through the daemon's centre crop.

Images go through ``edge.inference.center_crop.resize_center_crop`` (the twin of Ultralytics' classify
pre-processing that the daemon runs), BGR -> RGB, /255. With an ImageNet-style folder (images in
subfolders named after the model's classes) the labels are the folder names and the metrics are
top-1 / top-5 accuracy; without, FP32's top-5 is the reference and the metrics are the top-1
agreement rate and the top-5 overlap. Every metric is in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from conversion.calibration import classify_input, read_bgr
from conversion.progress import Progress, track

TOP_K = 5


def predict_topk(compiled: Any, paths: Sequence[Path], size: int, progress: Progress | None = None,
                 desc: str = "validate") -> list[np.ndarray]:
    """For each image, the class indices of the ``TOP_K`` largest outputs, most probable first."""
    request = compiled.create_infer_request()
    out: list[np.ndarray] = []
    for path in track(paths, progress, desc):
        probs = np.asarray(request.infer({0: classify_input(read_bgr(path), size)})[compiled.output(0)]).reshape(-1)
        out.append(np.argsort(-probs, kind="stable")[:TOP_K])
    return out


def folder_labels(paths: Sequence[Path], names: dict[int, str]) -> list[int] | None:
    """Class index of each image from its parent folder's name (ImageNet layout), or None when any
    image sits in a folder that names no class of the model."""
    index = {name: i for i, name in names.items()}
    labels = [index.get(p.parent.name) for p in paths]
    return None if any(label is None for label in labels) else [int(label) for label in labels]  # type: ignore[arg-type]


def accuracy(predictions: Sequence[np.ndarray], labels: Sequence[int]) -> dict[str, float]:
    """``top1_acc`` and ``top5_acc`` against the true labels."""
    n = max(1, len(labels))
    top1 = sum(int(p[0] == t) for p, t in zip(predictions, labels)) / n
    top5 = sum(int(t in p[:TOP_K]) for p, t in zip(predictions, labels)) / n
    return {"top1_acc": top1, "top5_acc": top5}


def agreement(predictions: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> dict[str, float]:
    """``top1_agreement``: share of images whose top-1 is FP32's; ``top5_overlap``: mean share of
    FP32's top-5 classes also in the candidate's top-5."""
    n = max(1, len(references))
    top1 = sum(int(p[0] == r[0]) for p, r in zip(predictions, references)) / n
    top5 = sum(len(set(p[:TOP_K].tolist()) & set(r[:TOP_K].tolist())) / max(1, len(r[:TOP_K]))
               for p, r in zip(predictions, references)) / n
    return {"top1_agreement": top1, "top5_overlap": top5}
