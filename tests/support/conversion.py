"""Helpers for the conversion tests: real data, small checkpoints built from yamls, the CLI in-process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.support.shared_data import require_shared_data

os.environ.setdefault("YOLO_OFFLINE", "1")

#: Small inputs keep CI time low; the tool's logic does not depend on the size.
IMGSZ = "160"


def shared() -> Path:
    return require_shared_data()


def weights(name: str) -> Path:
    path = shared() / "weights" / name
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return path


def yaml_checkpoint(folder: Path, cfg: str = "yolov8n.yaml", seed: int = 0, spread: bool = False) -> Path:
    """A checkpoint built from an Ultralytics model yaml with fixed random weights, saved as .pt.

    ``spread``: weights from ``tests.support.parity.spread_weights``, so outputs depend on the image."""
    import torch
    from ultralytics import YOLO

    torch.manual_seed(seed)
    path = folder / (Path(cfg).stem + "-seed.pt")
    model = YOLO(cfg)
    if spread:
        from tests.support.parity import spread_weights

        spread_weights(model.model)
    model.save(str(path))
    return path


def images_folder(folder: Path, count: int = 8) -> Path:
    """Real coco128 images (copied) in a plain folder without labels."""
    folder.mkdir(parents=True, exist_ok=True)
    for jpg in sorted((shared() / "coco128" / "images" / "train2017").glob("*.jpg"))[:count]:
        shutil.copyfile(jpg, folder / jpg.name)
    return folder


def blank_images(folder: Path, count: int = 8, value: int = 0) -> Path:
    """Uniform images: a deliberately broken calibration set."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"blank_{i}.png"), np.full((480, 640, 3), value, np.uint8))
    return folder


def coco8_yaml(folder: Path, name: str = "coco8") -> Path:
    """A copy of a shared coco8* dataset with an absolute ``path:`` so Ultralytics never downloads."""
    import yaml

    src = shared() / name
    dst = folder / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.cache"))
    spec = yaml.safe_load((src / f"{name}.yaml").read_text())
    spec["path"] = str(dst)
    spec.pop("download", None)
    out = dst / f"{name}.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def convert(*args: str) -> int:
    """Run ``yolo-edge-convert`` in-process (fast: imports once) and return its exit code."""
    from conversion.cli import main

    return main([*map(str, args), "--quiet"])
