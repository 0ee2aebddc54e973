"""SOURCE: a YOLO ``.pt`` checkpoint (or an Ultralytics model name) -> a loaded model and its facts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conversion.errors import SourceError
from edge.inference.repository import TASKS

logger = logging.getLogger(__name__)

#: Tasks whose outputs the daemon post-processes (classify images are centre-cropped, depth images
#: stretched, the rest letterboxed): the daemon's own list.
SUPPORTED_TASKS = TASKS
#: A bare Ultralytics release name such as ``yolo11n.pt`` or ``yolov8s-seg.pt``.
_RELEASE_NAME = re.compile(r"^yolo[a-z0-9.-]*\.pt$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceModel:
    """A loaded checkpoint.

    ``model`` is the ``ultralytics.YOLO`` object; ``names`` maps class index to name; ``stride`` is
    the largest head stride in pixels; ``kpt_shape`` is (keypoints, dims) for pose, else None.
    """

    path: Path
    model: Any
    task: str
    names: dict[int, str]
    stride: int
    kpt_shape: tuple[int, int] | None


def load_source(source: str) -> SourceModel:
    """Load ``source`` and check it is a YOLO checkpoint of a supported task.

    Raises ``SourceError`` with what to do for a missing file, a file that is not a YOLO checkpoint
    and a task the daemon cannot serve.
    """
    from ultralytics import YOLO

    path = Path(source).expanduser()
    if not path.exists():
        if _RELEASE_NAME.match(source) and "/" not in source:
            path = Path(source)  # Ultralytics downloads release names where the machine has internet
        else:
            raise SourceError(f"{source}: no such file. Give the path of a YOLO .pt checkpoint.")
    elif path.is_dir():
        raise SourceError(f"{source}: is a folder. Give the path of a YOLO .pt checkpoint file.")
    elif path.suffix != ".pt":
        raise SourceError(
            f"{source}: not a .pt file. yolo-edge-convert takes an Ultralytics PyTorch checkpoint "
            f"(for example best.pt from training)."
        )
    try:
        yolo = YOLO(str(path))
    except Exception as exc:  # torch.load and Ultralytics raise many kinds for foreign files
        if not path.exists():
            raise SourceError(
                f"{source}: not found locally and could not be downloaded ({exc}). "
                "Download the checkpoint on a machine with internet and pass its path."
            ) from exc
        raise SourceError(f"{source}: not an Ultralytics YOLO checkpoint ({type(exc).__name__}: {exc}).") from exc
    inner = getattr(yolo, "model", None)
    if inner is None or not hasattr(inner, "stride"):
        raise SourceError(f"{source}: not an Ultralytics YOLO checkpoint (it holds no YOLO model).")
    task = yolo.task
    if task not in SUPPORTED_TASKS:
        raise SourceError(
            f"{source}: task '{task}' is not supported; yolo-edge-convert converts {', '.join(SUPPORTED_TASKS)} models."
        )
    head = inner.model[-1]
    kpt = getattr(head, "kpt_shape", None)
    return SourceModel(
        path=path.resolve() if path.exists() else path,
        model=yolo,
        task=task,
        names={int(k): str(v) for k, v in yolo.names.items()},
        stride=int(max(inner.stride)),
        kpt_shape=(int(kpt[0]), int(kpt[1])) if kpt is not None else None,
    )
