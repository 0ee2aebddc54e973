"""Shared helpers of the parity tests: find the data, export models once per session, run the same
OpenVINO IR through our pipeline and through ``ultralytics.YOLO``, and match the two predictions.

A plain module (not a conftest): the parity test modules import it. Figures of every comparison are
collected in ``FIGURES``, printed at the end of each test (``pytest -s``), written to
``$YOLO_EDGE_PARITY_JSON`` (default ``/tmp/yolo-edge-parity.json``) and to ``build/figures``, which
the conftest prints in the "figures" section of every run.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest

from edge.inference.compile_options import compile_properties, static_per_shape
from edge.inference.letterbox import letterbox
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from edge.inference.repository import ModelSpec, read_model_folder
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import require_shared_data, ultralytics_asset

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

CONF, IOU = 0.25, 0.45
OV_CONFIG = compile_properties("CPU", "LATENCY")  # as Ultralytics' OpenVINO backend, and f32 (conftest)
FIGURES_PATH = Path(os.environ.get("YOLO_EDGE_PARITY_JSON", "/tmp/yolo-edge-parity.json"))


# ---------------------------------------------------------------- data and models

def require_data() -> Path:
    """The shared data folder ($YOLO_EDGE_TEST_DATA or <repo>/../shared/data), else skip."""
    return require_shared_data()


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def assets() -> list[Path]:
    """Ultralytics' bus.jpg and zidane.jpg, from the installed package."""
    return [ultralytics_asset("bus.jpg"), ultralytics_asset("zidane.jpg")]


def coco128(data: Path, count: int) -> list[Path]:
    """The first ``count`` coco128 train images, sorted by name."""
    return sorted((data / "coco128" / "images" / "train2017").glob("*.jpg"))[:count]


def coco_images(data: Path, subset: str, extra: int = 12) -> list[Path]:
    """The images of ``subset`` (coco8-seg, coco8-pose) plus the first ``extra`` coco128 images not
    already there (coco8* are coco128 images), sorted by name."""
    first = sorted((data / subset / "images").rglob("*.jpg"))
    names = {p.name for p in first}
    return first + [p for p in coco128(data, 128) if p.name not in names][:extra]


_workdir: tempfile.TemporaryDirectory[str] | None = None


def workdir() -> Path:
    """A temporary folder for this test session's exports, removed at exit."""
    global _workdir
    if _workdir is None:
        _workdir = tempfile.TemporaryDirectory(prefix="yolo-edge-parity-")
    return Path(_workdir.name)


def spread_weights(model: Any, gain: float = 1.5) -> None:
    """Re-draw every convolution and linear layer (not the fixed DFL) as N(0, gain**2 / fan_in), biases
    N(0, 0.25), from the current torch seed.

    A model freshly built from a yaml has Ultralytics' training initialisation: its head output barely
    depends on the image (every anchor gets nearly the same score and every class ties), which makes
    a parity test meaningless. With these weights outputs vary with the image and rarely tie.
    """
    import torch

    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and "dfl" not in name:
            fan_in = module.weight[0].numel()
            module.weight.data.normal_(0.0, gain / math.sqrt(fan_in))
            if module.bias is not None:
                module.bias.data.normal_(0.0, 0.5)


@functools.lru_cache(maxsize=None)
def export_openvino(source: str, imgsz: int, seed: int | None = None, end2end: bool = False) -> Path:
    """Export a .pt checkpoint, or a model built from a yaml (seeded with ``torch.manual_seed(seed)``,
    weights from ``spread_weights``), to an FP32 OpenVINO folder (Ultralytics ``export
    format=openvino``; ``end2end``: its NMS-free head, ``nms=False``), once per session. Returns the folder."""
    import torch
    from ultralytics import YOLO

    out = workdir() / f"{Path(source).stem}-{imgsz}{'-e2e' if end2end else ''}"
    out.mkdir(parents=True, exist_ok=True)
    if source.endswith(".yaml"):
        if seed is not None:
            torch.manual_seed(seed)
        model = YOLO(source)
        spread_weights(model.model)
        pt = out / f"{Path(source).stem}.pt"
        model.save(pt)
    else:
        pt = out / Path(source).name
        pt.write_bytes(Path(source).read_bytes())
    folder = YOLO(str(pt)).export(format="openvino", imgsz=imgsz, dynamic=False, half=False, int8=False,
                                  device="cpu", verbose=False, **({"nms": False} if end2end else {}))
    return Path(folder)


# ---------------------------------------------------------------- the two pipelines

@functools.lru_cache(maxsize=None)
def compiled(xml: Path) -> Any:
    import openvino as ov

    return ov.Core().compile_model(str(xml), "CPU", OV_CONFIG)


def to_tensor(image_bgr: np.ndarray) -> np.ndarray:
    """u8 BGR (h, w, 3) -> float32 RGB (1, 3, h, w) in [0, 1], as Ultralytics' ``preprocess``."""
    rgb = image_bgr[..., ::-1].transpose(2, 0, 1)[None]
    return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(255)


def infer(spec: ModelSpec, tensor: np.ndarray) -> list[np.ndarray]:
    model = compiled(spec.xml)
    result = model(tensor)
    return [np.asarray(result[out]) for out in model.outputs]


def run_ours_letterboxed(spec: ModelSpec, image: np.ndarray, imgsz: int, postprocess_fn: Any) -> Prediction:
    """Letterbox as Ultralytics does (minimal rectangle for dynamic exports, unless run static per
    shape as on AMX CPUs), infer, post-process."""
    minimal = bool(spec.dynamic) and not static_per_shape("CPU", graph_precision(spec.xml), True)
    net_in, lb = letterbox(image, (imgsz, imgsz), stride=spec.stride, minimal=minimal)
    return postprocess_fn(infer(spec, to_tensor(net_in)), lb)


@functools.lru_cache(maxsize=None)
def graph_precision(xml: Path) -> str:
    """What the engine (and Ultralytics) decide by: the graph, not the metadata."""
    import openvino as ov

    from edge.inference.engine import detect_precision

    return detect_precision(ov.Core().read_model(xml))


@functools.lru_cache(maxsize=None)
def ultralytics_model(folder: Path, task: str) -> Any:
    from ultralytics import YOLO

    return YOLO(str(folder), task=task)


def run_ultralytics(folder: Path, task: str, image: np.ndarray, **kwargs: Any) -> Any:
    kwargs = {"conf": CONF, "iou": IOU, "verbose": False, "device": "cpu", **kwargs}
    return ultralytics_model(folder, task).predict(image, **kwargs)[0]


def spec_of(folder: Path) -> ModelSpec:
    return read_model_folder(folder, model_id="parity")


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return image


# ---------------------------------------------------------------- matching

def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


@dataclass
class Match:
    """Pairs (ours, theirs) matched by class and best box IoU; unmatched rows on either side."""

    pairs: list[tuple[int, int]]
    ious: list[float]
    unmatched_ours: list[int]
    unmatched_theirs: list[int]


def match(ours_boxes: np.ndarray, ours_cls: np.ndarray, theirs_boxes: np.ndarray, theirs_cls: np.ndarray) -> Match:
    iou = box_iou(ours_boxes.astype(np.float64), theirs_boxes.astype(np.float64)) if len(ours_boxes) and len(theirs_boxes) \
        else np.zeros((len(ours_boxes), len(theirs_boxes)))
    iou = np.where(ours_cls[:, None] == theirs_cls[None, :], iou, -1.0)
    pairs, ious = [], []
    free_o, free_t = set(range(len(ours_boxes))), set(range(len(theirs_boxes)))
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] <= 0.5:
            break
        if i in free_o and j in free_t:
            pairs.append((int(i), int(j)))
            ious.append(float(iou[i, j]))
            free_o.discard(i)
            free_t.discard(j)
    return Match(pairs, ious, sorted(free_o), sorted(free_t))


def assert_unmatched_are_borderline(m: Match, ours_scores: np.ndarray, theirs_scores: np.ndarray,
                                    conf: float, where: str) -> None:
    """Rows only one side found are tolerated only when their score sits at the threshold."""
    for i in m.unmatched_ours:
        assert ours_scores[i] < conf + 0.01, f"{where}: we found instance {i} (score {ours_scores[i]:.3f}) Ultralytics did not"
    for j in m.unmatched_theirs:
        assert theirs_scores[j] < conf + 0.01, f"{where}: Ultralytics found instance {j} (score {theirs_scores[j]:.3f}) we did not"


def mask_from_polygon(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    if len(poly):
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32).reshape(-1, 1, 2)], 1)
    return mask


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


# ---------------------------------------------------------------- figures

def as_xyxy(items: list[dict[str, Any]]) -> np.ndarray:
    """``summary()`` items -> (N, 4) xyxy."""
    return np.array([[i["box"]["x1"], i["box"]["y1"], i["box"]["x2"], i["box"]["y2"]] for i in items], np.float64)


@dataclass
class ParityFigures:
    compared: int = 0  # reference instances
    matched: int = 0
    worst_iou: float = 1.0
    worst_conf_gap: float = 0.0
    failures: list[str] = field(default_factory=list)

    def match(self, ours: list[dict], ref: list[dict], label: str, min_iou: float = 0.99,
              max_conf_gap: float = 0.01) -> None:
        """Greedy one-to-one matching by class and IoU; a mismatch is recorded, not raised."""
        self.compared += len(ref)
        used: set[int] = set()
        for r in ref:
            best, best_iou = None, -1.0
            for j, o in enumerate(ours):
                if j in used or o["class"] != r["class"]:
                    continue
                iou = float(box_iou(as_xyxy([o]), as_xyxy([r]))[0, 0])
                if iou > best_iou:
                    best, best_iou = j, iou
            if best is None:
                self.failures.append(f"{label}: no match for {r['name']} {r['confidence']}")
                continue
            used.add(best)
            gap = abs(ours[best]["confidence"] - r["confidence"])
            self.worst_iou = min(self.worst_iou, best_iou)
            self.worst_conf_gap = max(self.worst_conf_gap, gap)
            if best_iou >= min_iou and gap <= max_conf_gap:
                self.matched += 1
            else:
                self.failures.append(f"{label}: {r['name']} iou {best_iou:.4f} conf gap {gap:.4f}")
        extra = len(ours) - len(used)
        if extra:
            self.failures.append(f"{label}: {extra} detections Ultralytics does not have")

    def save(self, name: str) -> None:
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        body = asdict(self)
        body["failures"] = body["failures"][:20]
        (FIGURES_DIR / f"{name}.json").write_text(json.dumps(body, indent=2))



@dataclass
class Figures:
    """Parity figures of one model: instances compared and matched, worst errors seen."""

    images: int = 0
    ours: int = 0
    theirs: int = 0
    matched: int = 0
    worst_box_iou: float = 1.0
    worst_conf_diff: float = 0.0
    worst_mask_iou: float | None = None
    worst_keypoint_px: float | None = None
    worst_visible_diff: float | None = None
    notes: list[str] = field(default_factory=list)

    def worst(self, name: str, value: float, low: bool) -> None:
        old = getattr(self, name)
        setattr(self, name, value if old is None else (min(old, value) if low else max(old, value)))


FIGURES: dict[str, Figures] = {}


def figures(key: str) -> Figures:
    return FIGURES.setdefault(key, Figures())


def report(key: str) -> None:
    """Print one model's figures and merge them into the JSON file."""
    fig = FIGURES[key]
    line = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in fig.__dict__.items()}
    print(f"\nPARITY {key}: {json.dumps(line)}")
    try:
        existing = json.loads(FIGURES_PATH.read_text()) if FIGURES_PATH.exists() else {}
    except (OSError, ValueError):
        existing = {}
    existing[key] = line
    FIGURES_PATH.write_text(json.dumps(existing, indent=1))
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)  # the conftest prints these at the end of the run
    (FIGURES_DIR / f"parity_{key.replace('-', '_')}.json").write_text(json.dumps(line, indent=1))


# ---------------------------------------------------------------- one model against Ultralytics

PairCheck = Callable[[Prediction, Any, int, int, str, "Figures"], None]


def compare_instances(key: str, folder: Path, task: str, images: list[Path], options: PredictOptions,
                      check_image: Callable[[Prediction], None], check_pair: PairCheck) -> Figures:
    """Our post-processing and Ultralytics on each image of ``images``: ``check_image(ours)`` checks our
    task outputs are there, instances are matched by class and box, every pair has box IoU >= 0.99
    and confidences within 0.01, then ``check_pair(ours, theirs, i, j, where, figures)`` checks the
    task's own output. Unmatched instances must sit at the threshold. Figures go under ``key``."""
    from edge.inference.postprocess import postprocess

    spec = spec_of(folder)
    fig = figures(key)
    for path in images:
        image = read_image(path)
        ours = run_ours_letterboxed(spec, image, options.size,
                                    lambda out, lb: postprocess(task, out, lb, spec, options))
        theirs = run_ultralytics(folder, task, image, imgsz=options.size)
        boxes = theirs.obb if task == "obb" else theirs.boxes
        t_conf = boxes.conf.numpy()
        m = match(ours.boxes, ours.classes, boxes.xyxy.numpy(), boxes.cls.numpy().astype(np.int64))
        assert_unmatched_are_borderline(m, ours.scores, t_conf, options.confidence, f"{key} {path.name}")
        fig.images += 1
        fig.ours += len(ours)
        fig.theirs += len(theirs)
        fig.matched += len(m.pairs)
        check_image(ours)
        for (i, j), iou in zip(m.pairs, m.ious):
            where = f"{key} {path.name} instance {j}"
            conf_diff = abs(float(ours.scores[i]) - float(t_conf[j]))
            fig.worst("worst_box_iou", iou, low=True)
            fig.worst("worst_conf_diff", conf_diff, low=False)
            assert iou >= 0.99, f"{where}: box IoU {iou:.4f}"
            assert conf_diff <= 0.01, f"{where}: confidence differs by {conf_diff:.4f}"
            check_pair(ours, theirs, i, j, where, fig)
    return fig


# ---------------------------------------------------------------- summary() comparison

def same_shape(ours: Any, theirs: Any, where: str = "") -> None:
    """Same keys at every level and the same value types (list items included)."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), f"{where}: keys {list(ours)} != {list(theirs)}"
        for k in theirs:
            same_shape(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, list) and theirs and ours:
        for i, (a, b) in enumerate(zip(ours, theirs)):
            same_shape(a, b, f"{where}[{i}]")
