"""The per-request knobs that change what a model returns, already validated."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PredictOptions:
    """Validated request options, in Ultralytics' terms.

    ``size`` is the requested inference size in pixels (the long side); the engine rounds it up to
    a multiple of the model stride. ``classes`` keeps only those class indices when not None.
    """

    size: int = 640
    confidence: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    classes: frozenset[int] | None = None
