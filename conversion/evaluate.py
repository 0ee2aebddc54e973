"""Box mAP of an OpenVINO model on held-out images, through the runtime letterbox.

Used where the model is only a compiled OpenVINO model: NNCF's accuracy-controlled quantization,
and agreement scoring when the data has no labels (the FP32 model's predictions become the
reference). Matching and AP come from Ultralytics' own validator and ``DetMetrics``; rotated boxes
(OBB) are matched by Ultralytics' ``batch_probiou`` and scored with its ``OBBMetrics``. Segment and pose
predictions also carry their masks and keypoints, scored like Ultralytics' ``SegmentationValidator``
(``mask_iou``, ``SegmentMetrics``) and ``PoseValidator`` (``kpt_iou`` with its sigmas, ``PoseMetrics``).
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
    in radians), (N,) confidences and (N,) class indices.

    Segment: ``masks``, (N, mh * mw / 8) bit-packed (``np.packbits``) binary masks of shape ``mask_shape``
    at the prototype resolution of the letterboxed input (``ops.process_mask`` without upsampling, as
    Ultralytics' validator does), cropped to each box. Bit-packed: a candidate's few hundred masks per
    image at conf 0.001 would otherwise take 25 KB each. Pose: ``keypoints``, (N, K, 3) x, y in
    original-image pixels and visibility."""

    boxes: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    masks: np.ndarray | None = None
    mask_shape: tuple[int, int] | None = None
    keypoints: np.ndarray | None = None

    def above(self, threshold: float) -> Detections:
        keep = self.conf >= threshold
        return Detections(self.boxes[keep], self.conf[keep], self.cls[keep],
                          None if self.masks is None else self.masks[keep], self.mask_shape,
                          None if self.keypoints is None else self.keypoints[keep])

    def unpacked_masks(self) -> np.ndarray:
        """(N, mh * mw) masks as 0/1 bytes."""
        assert self.masks is not None and self.mask_shape is not None
        return np.unpackbits(self.masks, axis=1, count=self.mask_shape[0] * self.mask_shape[1])


#: Rows of an NMS-free export (Ultralytics' default ``max_det``): (1, 300, 6 + extras).
END2END_ROWS = 300


def is_end2end(shape: Sequence[int]) -> bool:
    """Whether an output of ``shape`` is an NMS-free head's (1, 300, 6 + mask/keypoint/angle columns)
    rather than a one-to-many head's (1, 4 + classes + extras, anchors). A one-to-many head never has
    300 anchors (at any stride-32 size their count is 21/1024 of the pixels), and its anchors outnumber
    its channels from 160 pixels up."""
    return len(shape) == 3 and shape[1] == END2END_ROWS and shape[2] < shape[1]


def _outputs(result: Any, compiled: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(detections, prototypes or None): a segment model's prototypes are its one 4-D output."""
    arrays = [np.asarray(result[o]) for o in compiled.outputs]
    protos = [a for a in arrays if a.ndim == 4]
    dets = [a for a in arrays if a.ndim != 4]
    return dets[0], (protos[0] if protos else None)


def predict(compiled: Any, paths: Sequence[Path], imgsz: tuple[int, int], stride: int, nc: int,
            progress: Progress | None = None, desc: str = "validate", multi_label: bool = True,
            rotated: bool = False, masks: bool = False,
            kpt_shape: tuple[int, int] | None = None) -> list[Detections]:
    """Run ``compiled`` on each image (batch 1) and decode its detections with Ultralytics' NMS.

    ``multi_label`` True is what Ultralytics' validator does (a box may score for several classes);
    False is what its predictor does. ``rotated``: an OBB head (xywh, classes, angle), decoded with
    Ultralytics' rotated NMS into xywhr boxes. ``masks``: a segment head; each detection's mask from
    the prototypes with ``ops.process_mask`` (prototype resolution, letterboxed input). ``kpt_shape``:
    a pose head; each detection's keypoints (K, 2 or 3), returned as (K, 3) (visibility 1 if the head
    has none).
    """
    import torch
    from ultralytics.utils import ops
    from ultralytics.utils.nms import non_max_suppression

    request = compiled.create_infer_request()
    out: list[Detections] = []
    for path in track(paths, progress, desc):
        image = read_bgr(path)
        tensor, box = to_input(image, imgsz, stride)
        raw, protos = _outputs(request.infer({0: tensor}), compiled)
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
        packed, mask_shape, keypoints = None, None, None
        if masks:
            if protos is None:
                raise ValueError(f"a segment model has a 4-D prototype output; {path.name} gave none")
            tensor_hw = tensor.shape[2:]
            m = ops.process_mask(torch.from_numpy(protos[0]), torch.from_numpy(det[:, 6:]).float(),
                                 torch.from_numpy(det[:, :4]).float(), shape=tensor_hw).numpy()
            mask_shape = (int(m.shape[1]), int(m.shape[2]))
            packed = np.packbits(m.reshape(len(m), -1).astype(bool), axis=1)
        if kpt_shape is not None:
            k = det[:, 6:].reshape(-1, *kpt_shape).astype(np.float64)
            if kpt_shape[1] == 2:
                k = np.concatenate([k, np.ones((*k.shape[:2], 1))], axis=2)
            k[..., 0] = (k[..., 0] - box.pad[0]) / box.gain_x
            k[..., 1] = (k[..., 1] - box.pad[1]) / box.gain_y
            keypoints = k
        boxes = det[:, :4].copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - box.pad[0]) / box.gain_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - box.pad[1]) / box.gain_y
        h, w = image.shape[:2]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        out.append(Detections(boxes, det[:, 4].copy(), det[:, 5].astype(np.int64), packed, mask_shape, keypoints))
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


#: A reference keypoint counts (is "labelled") when FP32 gives it at least this visibility: the
#: pseudo-label of an unlabelled frame keeps the keypoints FP32 thinks more likely visible than not
#: (all of them for a person with none that visible).
KPT_VISIBLE = 0.5


def box_map(predictions: Sequence[Detections], truths: Sequence[Detections], names: dict[int, str],
            rotated: bool = False) -> BoxScore:
    """Score predictions against truths with Ultralytics' matching (10 IoU thresholds) and AP.

    ``rotated``: xywhr boxes, matched by probabilistic IoU and scored with ``OBBMetrics``, as
    Ultralytics' OBB validator does. Boxes only, whatever else the detections carry."""
    boxes_only = [Detections(t.boxes, t.conf, t.cls) for t in truths]
    return scores(predictions, boxes_only, names, rotated=rotated)["box"]


def scores(predictions: Sequence[Detections], truths: Sequence[Detections], names: dict[int, str],
           rotated: bool = False) -> dict[str, BoxScore]:
    """Box mAP (``"box"``) and, when the truths carry masks or keypoints, mask mAP (``"mask"``) or pose mAP
    (``"pose"``), matched and averaged as Ultralytics' segment and pose validators do: masks by
    ``mask_iou`` at the prototype resolution, keypoints by OKS (``kpt_iou``, COCO's sigmas for 17
    keypoints, else 1/K; area = 0.53 x the truth box's), both through ``match_predictions`` and AP."""
    import torch
    from ultralytics.models.yolo.detect.val import DetectionValidator
    from ultralytics.utils.metrics import (
        DetMetrics,
        OBBMetrics,
        PoseMetrics,
        SegmentMetrics,
        batch_probiou,
        box_iou,
    )

    extra = _extra_kind(truths)
    with tempfile.TemporaryDirectory() as tmp:
        validator = DetectionValidator(save_dir=Path(tmp))
    validator.iouv = torch.linspace(0.5, 0.95, 10)  # type: ignore[assignment]
    metrics = (OBBMetrics(names=names) if rotated else SegmentMetrics(names=names) if extra == "mask"
               else PoseMetrics(names=names) if extra == "pose" else DetMetrics(names=names))
    iou_of = batch_probiou if rotated else box_iou
    for i, (pred, truth) in enumerate(zip(predictions, truths)):
        stat: dict[str, Any] = {"conf": pred.conf, "pred_cls": pred.cls, "target_cls": truth.cls,
                                "target_img": np.unique(truth.cls), "im_name": str(i)}
        if len(truth.cls) == 0 or len(pred.cls) == 0:
            for key in ("tp", "tp_m", "tp_p"):
                stat[key] = np.zeros((len(pred.cls), 10), dtype=bool)
        else:
            pred_cls, truth_cls = torch.from_numpy(pred.cls), torch.from_numpy(truth.cls)
            ious = {"tp": iou_of(torch.from_numpy(truth.boxes).float(), torch.from_numpy(pred.boxes).float())}
            if extra == "mask":
                ious["tp_m"] = _mask_iou(truth, pred)
            elif extra == "pose":
                ious["tp_p"] = _oks(truth, pred)
            for key, iou in ious.items():
                stat[key] = validator.match_predictions(pred_cls, truth_cls, iou).numpy()
        metrics.update_stats(stat)
    zero = BoxScore(0.0, 0.0)
    if not any(len(t.cls) for t in truths):
        return {"box": zero, **({extra: zero} if extra else {})}
    metrics.process()
    out = {"box": BoxScore(float(metrics.box.map), float(metrics.box.map50))}
    if extra:
        part = metrics.seg if extra == "mask" else metrics.pose
        out[extra] = BoxScore(float(part.map), float(part.map50))
    return out


def _mask_iou(truth: Detections, pred: Detections) -> Any:
    """(truths, predictions) mask IoU, Ultralytics' ``mask_iou`` on the flattened prototype-resolution masks."""
    import torch
    from ultralytics.utils.metrics import mask_iou

    return mask_iou(torch.from_numpy(truth.unpacked_masks()).float(), torch.from_numpy(pred.unpacked_masks()).float())


def _oks(truth: Detections, pred: Detections) -> Any:
    """(truths, predictions) OKS as Ultralytics' ``PoseValidator``: ``kpt_iou``, COCO's sigmas for 17
    keypoints (else 1/K), area 0.53 x the truth box's; a truth keypoint counts when its visibility is
    ``KPT_VISIBLE`` or more."""
    import torch
    from ultralytics.utils import ops
    from ultralytics.utils.metrics import OKS_SIGMA, kpt_iou

    assert truth.keypoints is not None and pred.keypoints is not None
    kt = torch.from_numpy(truth.keypoints).float()
    k = kt.shape[1]
    sigma = OKS_SIGMA if k == 17 else np.ones(k) / k
    # a reference person with no keypoint that visible keeps them all: with none labelled its OKS would
    # be 0 for every prediction, FP32's own included
    visible = kt[..., 2] >= KPT_VISIBLE
    kt[..., 2] = (visible | ~visible.any(1, keepdim=True)).float()
    area = ops.xyxy2xywh(torch.from_numpy(truth.boxes).float())[:, 2:].prod(1) * 0.53
    return kpt_iou(kt, torch.from_numpy(pred.keypoints).float(), sigma=sigma.tolist(), area=area)


def _extra_kind(truths: Sequence[Detections]) -> str | None:
    """"mask", "pose" or None: what the truths carry besides boxes."""
    if truths and truths[0].masks is not None:
        return "mask"
    if truths and truths[0].keypoints is not None:
        return "pose"
    return None
