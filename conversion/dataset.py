"""--data: a folder of images, an Ultralytics dataset yaml, or a video -> readable image files,
split into a calibration part and a held-out part.

Labels are found the Ultralytics way (``.../images/x.jpg`` -> ``.../labels/x.txt``). They are used
only when their format fits the model's task; otherwise the accuracy gate scores agreement with FP32.
Classify labels are folder names (ImageNet layout: ``<class name>/x.jpg``); OBB labels are not used
(its gate is always agreement).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import yaml

from conversion import dense_labels
from conversion.errors import DataError
from edge.inference.repository import DENSE_TASKS

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
#: Below this many calibration images NNCF's activation ranges get noisy.
RECOMMENDED_CALIBRATION = 100


@dataclass(frozen=True)
class ImageSet:
    """Readable images of --data (sorted), the files skipped as unreadable, and whether labels fit."""

    kind: str  # "folder" | "yaml" | "video"
    images: tuple[Path, ...]
    skipped: tuple[Path, ...]
    labelled: bool
    label_note: str


@dataclass(frozen=True)
class Split:
    """Disjoint calibration and held-out images (held-out is never used for calibration)."""

    calibration: tuple[Path, ...]
    holdout: tuple[Path, ...]


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` becomes ``/labels/`` and the suffix ``.txt``."""
    s = str(image)
    sa, sb = "/images/", "/labels/"
    if sa in s:
        head, _, tail = s.rpartition(sa)
        s = head + sb + tail
    return Path(s).with_suffix(".txt")


def collect(data: str | Path, workdir: Path, task: str, kpt_shape: tuple[int, int] | None,
            limit: int = 1000, video_frames: int = 300, names: dict[int, str] | None = None) -> ImageSet:
    """Find the images of ``data``; video frames are sampled evenly into ``workdir``.

    At most ``limit`` images are kept (evenly spaced over the sorted list). Raises ``DataError``
    when the path is missing or yields no readable image.
    """
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"{data}: no such file or folder. --data takes a folder of images, a dataset yaml or a video.")
    if path.is_dir():
        kind, candidates = "folder", _images_in(path)
    elif path.suffix.lower() in (".yaml", ".yml"):
        kind, candidates = "yaml", _images_of_yaml(path)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        kind, candidates = "video", _video_frames(path, workdir / "frames", video_frames)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        kind, candidates = "folder", [path]
    else:
        raise DataError(f"{data}: not a folder, a dataset .yaml or a video ({', '.join(sorted(VIDEO_SUFFIXES))}).")
    candidates = sorted(set(candidates))
    if len(candidates) > limit:
        step = len(candidates) / limit
        candidates = [candidates[int(i * step)] for i in range(limit)]
    readable: list[Path] = []
    skipped: list[Path] = []
    for image in candidates:
        (readable if _readable(image) else skipped).append(image)
    if skipped:
        logger.warning("%s: skipped %d unreadable image file(s), e.g. %s", data, len(skipped), skipped[0])
    if not readable:
        raise DataError(
            f"{data}: no readable image ({len(skipped)} unreadable file(s)). "
            f"Give images ({', '.join(sorted(IMAGE_SUFFIXES))}) that OpenCV can decode."
        )
    if kind == "video":
        labelled, note = False, "video: no labels"
    elif task in DENSE_TASKS:  # masks / depth maps, not .txt labels (conversion.dense_labels)
        labelled, note = dense_labels.labels_fit(readable, task)
    elif task == "classify":
        labelled, note = _class_folders_fit(readable, names or {})
    else:
        labelled, note = _labels_fit(readable, task, kpt_shape)
    return ImageSet(kind=kind, images=tuple(readable), skipped=tuple(skipped), labelled=labelled, label_note=note)


def split(images: tuple[Path, ...], holdout_fraction: float, seed: int = 0) -> Split:
    """Shuffle with a fixed seed and hold out ``holdout_fraction`` (at least one image each side).

    A single image is used for both, which the caller reports.
    """
    if len(images) == 1:
        return Split(calibration=images, holdout=images)
    order = list(images)
    random.Random(seed).shuffle(order)
    n_hold = min(max(1, round(len(order) * holdout_fraction)), len(order) - 1)
    return Split(calibration=tuple(sorted(order[n_hold:])), holdout=tuple(sorted(order[:n_hold])))


def _images_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def _images_of_yaml(path: Path) -> list[Path]:
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read the dataset yaml ({exc}).") from exc
    if not isinstance(spec, dict):
        raise DataError(f"{path}: not an Ultralytics dataset yaml (expected keys path/train/val).")
    root = Path(spec.get("path") or path.parent).expanduser()
    if not root.is_absolute():
        # Ultralytics resolves relative roots against its datasets dir; next to the yaml is what users mean offline
        root = (path.parent / root) if (path.parent / root).exists() else path.parent
    images: list[Path] = []
    for key in ("train", "val", "test"):
        entries = spec.get(key)
        for entry in entries if isinstance(entries, list) else [entries] if entries else []:
            target = Path(entry) if Path(entry).is_absolute() else root / entry
            if target.is_dir():
                images += _images_in(target)
            elif target.suffix == ".txt" and target.is_file():
                for line in target.read_text().splitlines():
                    line = line.strip()
                    if line:
                        p = Path(line) if Path(line).is_absolute() else root / line
                        images.append(p)
            elif target.is_file():
                images.append(target)
    if not images:
        raise DataError(f"{path}: its train/val entries under {root} hold no images.")
    return images


def _video_frames(path: Path, out: Path, count: int) -> list[Path]:
    cap = cv2.VideoCapture(str(path))
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        if total <= 0:
            raise DataError(f"{path}: OpenCV cannot read this video (no frames).")
        out.mkdir(parents=True, exist_ok=True)
        frames = []
        for index in sorted({int(i * total / min(count, total)) for i in range(min(count, total))}):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if ok and frame is not None:
                file = out / f"frame_{index:07d}.png"
                cv2.imwrite(str(file), frame)
                frames.append(file)
    finally:
        cap.release()
    if not frames:
        raise DataError(f"{path}: OpenCV could not decode any frame of this video.")
    return frames


def _readable(image: Path) -> bool:
    try:
        im = cv2.imread(str(image), cv2.IMREAD_COLOR)
    except cv2.error:
        return False
    return im is not None and im.size > 0


def _class_folders_fit(images: list[Path], names: dict[int, str]) -> tuple[bool, str]:
    """Whether every image sits in a folder named after one of the model's classes (ImageNet layout)."""
    known = set(names.values())
    folders = {p.parent.name for p in images}
    if folders and folders <= known:
        return True, f"class folders ({len(folders)} classes): top-1/top-5 accuracy"
    return False, "images are not in folders named after the model's classes: accuracy is agreement with FP32"


def _labels_fit(images: list[Path], task: str, kpt_shape: tuple[int, int] | None) -> tuple[bool, str]:
    """Whether label files exist and their columns fit ``task`` (boxes, polygons or keypoints)."""
    files = [label_path(p) for p in images]
    present = [f for f in files if f.is_file()]
    if not present:
        return False, "no label files: accuracy is agreement with FP32"
    for file in present:
        rows = [r.split() for r in file.read_text().splitlines() if r.strip()]
        if not rows:
            continue
        n = len(rows[0])
        if task == "detect":
            fits = n == 5 or (n >= 7 and n % 2 == 1)  # polygons carry boxes too
        elif task == "segment":
            fits = n >= 7 and n % 2 == 1
        elif task == "obb":
            return False, "OBB labels are not used by the gate: accuracy is agreement with FP32"
        else:
            fits = kpt_shape is not None and n == 5 + kpt_shape[0] * kpt_shape[1]
        if not fits:
            return False, f"labels ({n} columns in {file.name}) do not fit task '{task}': accuracy is agreement with FP32"
        return True, f"{len(present)} label files"
    return False, "label files are empty: accuracy is agreement with FP32"
