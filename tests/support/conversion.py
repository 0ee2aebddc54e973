"""Helpers for the conversion tests: real data, small checkpoints built from yamls, the CLI in-process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
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


def convert(*args: str, quiet: bool = True) -> int:
    """Run ``yolo-edge-convert`` in-process (fast: imports once) and return its exit code."""
    from conversion.cli import main

    return main([*map(str, args), *(["--quiet"] if quiet else [])])


def sigint_as_default() -> None:
    """For ``Popen(preexec_fn=...)``: a test run in the background (CI) inherits SIGINT ignored, and the
    tools rightly keep an ignored signal ignored; the interrupt tests need it as a terminal sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when(proc: "subprocess.Popen[str]", ready: Callable[[], bool], sig: signal.Signals,
                   what: str) -> str:
    """Wait (at most 300 s) until ``ready()``, send ``sig`` to ``proc``; its stderr. ``proc`` must still
    run when ready, and end with 128 + sig saying it was interrupted."""
    try:
        deadline = time.monotonic() + 300
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"{what} ended before it could be interrupted"
        assert ready(), f"{what} did not reach the point to interrupt within 300 s"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, stderr[-3000:]
    assert f"interrupted ({sig.name})" in stderr
    return stderr
