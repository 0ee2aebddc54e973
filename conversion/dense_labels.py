"""Where Ultralytics keeps the labels of the per-pixel tasks, and whether ``--data`` has them.

Semantic segmentation: a PNG of class indices per image, the last ``/images/`` of its path becoming
``/masks/`` (Ultralytics' ``SemanticDataset`` with ``masks_dir: masks``). Depth: a uint16 PNG in
millimetres (``ultralytics.data.utils.save_depth_png``) or a float ``.npy`` in metres, ``/images/`` becoming
``/depth/`` (its ``DepthDataset``). With a label for every image the gate runs Ultralytics' own
validator (mIoU / pixel accuracy; delta1 / AbsRel); otherwise it scores agreement with FP32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FOLDERS = {"semantic": "masks", "depth": "depth"}


def label_file(image: Path, task: str) -> Path | None:
    """The label of ``image`` for ``task`` when it exists, else None."""
    parts = list(image.parts)
    if "images" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("images")
    parts[i] = FOLDERS[task]
    base = Path(*parts)
    for suffix in (".png",) if task == "semantic" else (".png", ".npy"):
        if base.with_suffix(suffix).is_file():
            return base.with_suffix(suffix)
    return None


def labels_fit(images: Sequence[Path], task: str) -> tuple[bool, str]:
    """Whether every image has its label (a partly labelled set would be scored on a subset)."""
    found = sum(label_file(p, task) is not None for p in images)
    where = f"{FOLDERS[task]}/ beside images/"
    if found == len(images) and images:
        return True, f"{found} {task} label files ({where})"
    if found:
        return False, f"only {found} of {len(images)} images have a {task} label ({where}): accuracy is agreement with FP32"
    return False, f"no {task} labels ({where}): accuracy is agreement with FP32"
