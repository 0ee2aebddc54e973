"""The options of one conversion, and the checks they pass before anything is loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from conversion import quantize
from conversion.errors import UsageError
from conversion.shapes import check_shapes
from edge.inference.repository import MODEL_ID

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class Options:
    """Validated command-line options. ``imgsz`` is (h, w), None for the checkpoint's own
    (``conversion.input_size``); ``max_drop`` is in mAP points; ``max_agreement_drop`` None: the
    unlabelled gate derives its limit from ``max_drop``."""

    source: str
    precision: str
    out: Path
    model_id: str | None = None
    data: str | None = None
    val: str | None = None
    imgsz: tuple[int, int] | None = None
    device: str = "CPU"
    dynamic: bool = False
    max_drop: float = 1.0
    max_agreement_drop: float | None = None
    force: bool = False
    quiet: bool = False
    holdout: float = 0.3
    calibrate_on_gate_frames: bool | None = None  # None: for unlabelled --data (data_split)
    recipe: str = quantize.DEFAULT.name
    accuracy_control: bool = True
    accuracy_control_seconds: float = 180.0
    bench_seconds: float = 12.0
    end2end: bool = False
    shapes: tuple[tuple[int, int], ...] = ()  # (h, w) recorded in the bundle (conversion.shapes)


def default_model_id(source: str, precision: str) -> str:
    """``yolov8n-int8`` from ``.../yolov8n.pt``: a valid daemon MODEL_ID."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(source).stem).strip("-._") or "model"
    return f"{stem}-{precision}"


def check_options(opts: Options) -> str:
    """Raise ``UsageError`` for options that cannot work together; returns the bundle's MODEL_ID."""
    if opts.precision not in PRECISIONS:
        raise UsageError(f"--precision {opts.precision}: not one of {', '.join(PRECISIONS)}")
    if opts.precision == "int8" and not opts.data:
        raise UsageError("--precision int8 needs --data: images to calibrate on (a folder, a dataset yaml or a video).")
    if not 0.0 < opts.holdout < 1.0:
        raise UsageError(f"--holdout {opts.holdout}: must be between 0 and 1")
    if not opts.accuracy_control_seconds > 0:
        raise UsageError(f"--accuracy-control-seconds {opts.accuracy_control_seconds}: must be more than 0 "
                         "(use --no-accuracy-control to skip it)")
    if opts.recipe not in quantize.RECIPES:
        raise UsageError(f"--recipe {opts.recipe}: not one of {', '.join(quantize.RECIPES)}")
    check_shapes(opts.shapes, opts.dynamic)
    model_id = opts.model_id or default_model_id(opts.source, opts.precision)
    if not MODEL_ID.match(model_id):
        raise UsageError(f"--id {model_id!r}: the daemon takes letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit (at most 128).")
    return model_id
