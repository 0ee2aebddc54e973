"""Box mAP of an OpenVINO model on held-out images, through the runtime letterbox.

Used where the model is only a compiled OpenVINO model: NNCF's accuracy-controlled quantization,
and agreement scoring when the data has no labels (the FP32 model's predictions become the
reference). Matching and AP come from Ultralytics' own validator and ``DetMetrics``; rotated boxes
(OBB) are matched by Ultralytics' ``batch_probiou`` and scored with its ``OBBMetrics``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conversion.calibration import read_bgr, to_input
from conversion.dataset import label_path
from conversion.progress import Progress, track

#: Ultralytics' validation thresholds (``conf=0.001``, ``iou=0.7``) and predict default for references.
VAL_CONF, VAL_IOU, REFERENCE_CONF = 0.001, 0.7, 0.25
#: Candidates kept before rotated NMS (Ultralytics keeps 30000): its pairwise probabilistic IoU is
#: quadratic, and candidates past the 3000 most confident barely move an mAP.
ROTATED_MAX_NMS = 3000


@dataclass(frozen=True)
class Detections:
    """(N, 4) xyxy boxes in original-image pixels (OBB: (N, 5) xywhr, centre and size in pixels, angle
    in radians), (N,) confidences and (N,) class indices."""

    boxes: np.ndarray
    conf: np.ndarray
    cls: np.ndarray

    def above(self, threshold: float) -> Detections:
        keep = self.conf >= threshold
        return Detections(self.boxes[keep], self.conf[keep], self.cls[keep])


#: Rows of an NMS-free export (Ultralytics' default ``max_det``): (1, 300, 6 + extras).
END2END_ROWS = 300


def is_end2end(shape: Sequence[int]) -> bool:
    """Whether an output of ``shape`` is an NMS-free head's (1, 300, 6 + mask/keypoint/angle columns)
    rather than a one-to-many head's (1, 4 + classes + extras, anchors). A one-to-many head never has
    300 anchors (at any stride-32 size their count is 21/1024 of the pixels), and its anchors outnumber
    its channels from 160 pixels up."""
    return len(shape) == 3 and shape[1] == END2END_ROWS and shape[2] < shape[1]


def predict(compiled: Any, paths: Sequence[Path], imgsz: tuple[int, int], stride: int, nc: int,
            progress: Progress | None = None, desc: str = "validate", multi_label: bool = True,
            rotated: bool = False) -> list[Detections]:
    """Run ``compiled`` on each image (batch 1) and decode its first output with Ultralytics' NMS.

    ``multi_label`` True is what Ultralytics' validator does (a box may score for several classes);
    False is what its predictor does. ``rotated``: an OBB head (xywh, classes, angle), decoded with
    Ultralytics' rotated NMS into xywhr boxes.
    """
    import torch
    from ultralytics.utils.nms import non_max_suppression

    request = compiled.create_infer_request()
    out: list[Detections] = []
    for path in track(paths, progress, desc):
        image = read_bgr(path)
        tensor, box = to_input(image, imgsz, stride)
        raw = request.infer({0: tensor})[compiled.output(0)]
        det = non_max_suppression(
            torch.from_numpy(np.asarray(raw)), VAL_CONF, VAL_IOU, nc=nc, max_det=300, multi_label=multi_label,
            rotated=rotated, max_nms=ROTATED_MAX_NMS if rotated else 30000, end2end=is_end2end(raw.shape),
        )[0]
        det = det.numpy()
        if rotated:  # x, y, w, h, conf, cls, angle in input pixels
            boxes = np.concatenate([det[:, :4], det[:, 6:7]], axis=1)
            boxes[:, 0] = (boxes[:, 0] - box.pad[0]) / box.gain_x
            boxes[:, 1] = (boxes[:, 1] - box.pad[1]) / box.gain_y
            boxes[:, 2] /= box.gain_x
            boxes[:, 3] /= box.gain_y
            out.append(Detections(boxes, det[:, 4].copy(), det[:, 5].astype(np.int64)))
            continue
        boxes = det[:, :4].copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - box.pad[0]) / box.gain_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - box.pad[1]) / box.gain_y
        h, w = image.shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        out.append(Detections(boxes, det[:, 4].copy(), det[:, 5].astype(np.int64)))
    return out


def read_labels(paths: Sequence[Path]) -> list[Detections]:
    """Ground-truth boxes of YOLO label files (boxes, polygons or keypoint rows) in pixels."""
    out = []
    for path in paths:
        h, w = read_bgr(path).shape[:2]
        file = label_path(path)
        rows = [r.split() for r in file.read_text().splitlines() if r.strip()] if file.is_file() else []
        boxes, cls = [], []
        for row in rows:
            values = np.asarray(row[1:], dtype=np.float64)
            if len(values) >= 6 and len(values) % 2 == 0:  # polygon: its bounding box, like Ultralytics
                xs, ys = values[0::2] * w, values[1::2] * h
                boxes.append([xs.min(), ys.min(), xs.max(), ys.max()])
            else:
                cx, cy, bw, bh = values[:4] * [w, h, w, h]
                boxes.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
            cls.append(int(float(row[0])))
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        out.append(Detections(b, np.ones(len(b)), np.asarray(cls, dtype=np.int64)))
    return out


@dataclass(frozen=True)
class BoxScore:
    """mAP50-95 and mAP50 in [0, 1]."""

    map50_95: float
    map50: float


def box_map(predictions: Sequence[Detections], truths: Sequence[Detections], names: dict[int, str],
            rotated: bool = False) -> BoxScore:
    """Score predictions against truths with Ultralytics' matching (10 IoU thresholds) and AP.

    ``rotated``: xywhr boxes, matched by probabilistic IoU and scored with ``OBBMetrics``, as
    Ultralytics' OBB validator does."""
    import torch
    from ultralytics.models.yolo.detect.val import DetectionValidator
    from ultralytics.utils.metrics import DetMetrics, OBBMetrics, batch_probiou, box_iou

    with tempfile.TemporaryDirectory() as tmp:
        validator = DetectionValidator(save_dir=Path(tmp))
    validator.iouv = torch.linspace(0.5, 0.95, 10)  # type: ignore[assignment]
    metrics = OBBMetrics(names=names) if rotated else DetMetrics(names=names)
    iou_of = batch_probiou if rotated else box_iou
    for i, (pred, truth) in enumerate(zip(predictions, truths)):
        if len(truth.cls) == 0 or len(pred.cls) == 0:
            tp = np.zeros((len(pred.cls), 10), dtype=bool)
        else:
            iou = iou_of(torch.from_numpy(truth.boxes).float(), torch.from_numpy(pred.boxes).float())
            tp = validator.match_predictions(torch.from_numpy(pred.cls), torch.from_numpy(truth.cls), iou).numpy()
        metrics.update_stats({
            "tp": tp, "conf": pred.conf, "pred_cls": pred.cls, "target_cls": truth.cls,
            "target_img": np.unique(truth.cls), "im_name": str(i),
        })
    if not any(len(t.cls) for t in truths):
        return BoxScore(0.0, 0.0)
    metrics.process()
    return BoxScore(float(metrics.box.map), float(metrics.box.map50))
