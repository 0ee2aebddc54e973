"""The model repository: every subfolder of ``models.dir`` is one model, named by its folder.

A folder is an Ultralytics OpenVINO export exactly as ``yolo export format=openvino`` writes it
(``*.xml``, ``*.bin``, ``metadata.yaml``), read unchanged. Anything else in the folder (our
conversion reports, a README) is ignored.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge.errors import ModelError

logger = logging.getLogger(__name__)

TASKS = ("detect", "segment", "pose", "obb", "classify", "semantic", "depth")
#: Tasks whose answer is a per-pixel map (semantic classes, depth) sized to the whole image: the daemon
#: resizes it off the infer request; the conversion gives them their own gate, labels and calibration.
DENSE_TASKS = ("semantic", "depth")
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ModelSpec:
    """What ``metadata.yaml`` says about one model.

    ``imgsz`` is the exported input (height, width); ``names`` maps class index -> name;
    ``kpt_shape`` is (keypoints, 2 or 3) for pose models; ``end2end`` marks NMS-free outputs.
    """

    model_id: str
    folder: Path
    xml: Path
    task: str
    names: dict[int, str]
    stride: int
    imgsz: tuple[int, int]
    kpt_shape: tuple[int, int] | None
    end2end: bool
    dynamic: bool | None  # None: metadata does not say; the engine reads it from the graph
    version: str  # Ultralytics version that exported it
    description: str
    # (h, w) shapes a ``yolo-edge-convert --shapes`` bundle records (``yolo_edge_shapes`` in metadata.yaml):
    # compiled at start under ``models.shapes: minimal``. Empty for a plain Ultralytics export.
    shapes: tuple[tuple[int, int], ...] = ()


def model_folders(models_dir: Path) -> list[Path]:
    """The folders under ``models_dir`` that are models, sorted. Dot-folders are not: staging folders of
    an upload or of an interrupted conversion."""
    return sorted(p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan(models_dir: Path) -> dict[str, ModelSpec]:
    """Read every model folder under ``models_dir``; a broken folder raises ``ModelError`` naming it."""
    if not models_dir.is_dir():
        raise ModelError(f"models.dir {models_dir} does not exist or is not a folder")
    specs: dict[str, ModelSpec] = {}
    for folder in model_folders(models_dir):
        spec = read_model_folder(folder)
        specs[spec.model_id] = spec
    return specs


def read_model_folder(folder: Path, model_id: str | None = None) -> ModelSpec:
    model_id = model_id or folder.name
    if not MODEL_ID.match(model_id):
        raise ModelError(f"{folder}: folder name {model_id!r} is not a usable MODEL_ID "
                         "(letters, digits, '.', '_' and '-', starting with a letter or digit)")
    xmls = sorted(folder.glob("*.xml"))
    if len(xmls) != 1:
        raise ModelError(f"{folder}: expected exactly one OpenVINO .xml file, found {len(xmls)}")
    xml = xmls[0]
    if not xml.with_suffix(".bin").is_file():
        raise ModelError(f"{folder}: {xml.name} has no {xml.with_suffix('.bin').name} beside it")
    meta_path = folder / "metadata.yaml"
    if not meta_path.is_file():
        raise ModelError(f"{folder}: no metadata.yaml (export with Ultralytics or yolo-edge-convert)")
    try:
        meta = yaml.safe_load(meta_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{meta_path}: not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{meta_path}: expected a mapping")
    try:
        return _spec_from_metadata(model_id, folder, xml, meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: {exc}") from None


def _spec_from_metadata(model_id: str, folder: Path, xml: Path, meta: dict[str, Any]) -> ModelSpec:
    task = meta.get("task")
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    names = meta.get("names")
    if isinstance(names, str):  # very old exports store the dict as its repr
        names = ast.literal_eval(names)
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise ValueError("names must map class indices to names")
    names = {int(k): str(v) for k, v in names.items()}
    imgsz = meta.get("imgsz", [640, 640])
    imgsz = (int(imgsz), int(imgsz)) if isinstance(imgsz, int) else (int(imgsz[0]), int(imgsz[1]))
    kpt = meta.get("kpt_shape")
    if task == "pose" and not kpt:
        raise ValueError("a pose model needs kpt_shape")
    args = meta.get("args") or {}
    return ModelSpec(
        model_id=model_id, folder=folder, xml=xml, task=task, names=names,
        stride=int(meta.get("stride", 32)), imgsz=imgsz,
        kpt_shape=(int(kpt[0]), int(kpt[1])) if kpt else None,
        end2end=bool(meta.get("end2end", False) or args.get("nms", False)),
        dynamic=bool(args["dynamic"]) if "dynamic" in args else None,
        version=str(meta.get("version", "")),
        description=str(meta.get("description", "")),
        shapes=recorded_shapes(meta.get(SHAPES_KEY), int(meta.get("stride", 32))),
    )


SHAPES_KEY = "yolo_edge_shapes"


def recorded_shapes(value: Any, stride: int) -> tuple[tuple[int, int], ...]:
    """``[[h, w], ...]`` from metadata.yaml: each a multiple of ``stride`` from ``stride`` to 1280."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"{SHAPES_KEY} must be a list of [height, width] pairs, not {value!r}")
    shapes = []
    for hw in value:
        if not (isinstance(hw, list) and len(hw) == 2 and all(type(v) is int for v in hw)
                and all(stride <= v <= 1280 and v % stride == 0 for v in hw)):
            raise ValueError(f"{SHAPES_KEY}: {hw!r} is not a [height, width] pair of multiples of {stride} "
                             f"from {stride} to 1280")
        shapes.append((hw[0], hw[1]))
    return tuple(dict.fromkeys(shapes))

