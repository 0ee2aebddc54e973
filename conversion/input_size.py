"""The input size of a conversion when ``--imgsz`` is not given: the checkpoint's own.

A classify checkpoint is trained at a small size (Ultralytics' classifiers at 224) and its head is
only right near it; exporting it at the detectors' 640 makes a model 8x slower and less accurate. So a
classify model defaults to the size in its training arguments (224 when it records none); the other
tasks keep 640, the size every Ultralytics detection family is trained at.
"""

from __future__ import annotations

from typing import Any

DEFAULT = 640
CLASSIFY_DEFAULT = 224


def checkpoint_imgsz(model: Any) -> int | None:
    """The square size a loaded ``ultralytics.YOLO`` was trained at (its ``args['imgsz']``), or None."""
    args = getattr(getattr(model, "model", None), "args", None)
    size = args.get("imgsz") if isinstance(args, dict) else getattr(args, "imgsz", None)
    if isinstance(size, (list, tuple)) and size:
        size = max(size)
    return int(size) if isinstance(size, (int, float)) and size >= 32 else None


def default_imgsz(task: str, model: Any) -> tuple[int, int]:
    """(h, w) to export at when the user gave no ``--imgsz``."""
    if task != "classify":
        return DEFAULT, DEFAULT
    size = checkpoint_imgsz(model) or CLASSIFY_DEFAULT
    return size, size
