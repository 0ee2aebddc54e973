"""What a conversion reports, typed. ``Report.to_json()`` is the content of a bundle's ``report.json``
(same keys, same order); ``conversion.report`` renders that dict as ``report.md`` and ``chart.png``.

Optional sections (``data``, ``quantization``, ``accuracy`` or ``accuracy_note``, ``speed``) are left
out of the JSON when absent, and an attempt's ``note`` only appears when there is one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from conversion.speed import Speed

TOOL = "yolo-edge-convert"


@dataclass(frozen=True)
class SourceInfo:
    """The ``.pt`` checkpoint: its path, task and number of classes."""

    path: str
    task: str
    classes: int


@dataclass(frozen=True)
class BundleInfo:
    """What was written: ``imgsz`` is (h, w)."""

    model_id: str
    precision: str
    imgsz: tuple[int, int]
    dynamic: bool
    device: str
    shapes: tuple[tuple[int, int], ...] = ()  # (h, w) recorded for the daemon to compile at start (--shapes)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "imgsz": list(self.imgsz), "shapes": [list(hw) for hw in self.shapes]}


@dataclass(frozen=True)
class Environment:
    """Library versions and the device's readable name."""

    openvino: str
    nncf: str
    ultralytics: str
    device: str


@dataclass(frozen=True)
class DataInfo:
    """The --data images: how many were readable, skipped, used to calibrate and held out."""

    path: str
    kind: str
    images: int
    skipped: int
    calibration: int
    holdout: int
    holdout_from: str
    labels: bool
    label_note: str


@dataclass(frozen=True)
class Attempt:
    """One quantization tried: its method and drop against FP32 (points), and an optional note."""

    method: str
    drop_points: float
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "drop_points": self.drop_points}
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Quantization:
    """The INT8 recipe, the operations it kept in float, and every attempt in order."""

    recipe: str
    description: str
    ignored_ops: int
    attempts: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "description": self.description, "ignored_ops": self.ignored_ops,
                "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True)
class AccuracyResult:
    """The gate: metrics in [0, 1] of FP32 and of the result, the drop and the limit applied
    (``max_drop``) in the gate's own points, where that limit comes from, and for agreement how many
    FP32 boxes were the reference."""

    mode: str
    images: int
    fp32: dict[str, float]
    result: dict[str, float]
    drop_points: float
    max_drop: float
    passed: bool
    forced: bool
    limit_source: str = "--max-drop"
    reference_boxes: int | None = None


@dataclass(frozen=True)
class SpeedResult:
    """FP32 and (unless FP32 was asked for) the result, measured side by side for ``seconds`` each."""

    device: str
    openvino: str
    seconds: float
    fp32: Speed
    result: Speed | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device": self.device, "openvino": self.openvino, "seconds": self.seconds,
                               "fp32": vars(self.fp32)}
        if self.result is not None:
            out["result"] = vars(self.result)
            out["throughput_ratio"] = self.result.throughput_fps / self.fp32.throughput_fps
            out["latency_speedup"] = self.fp32.latency_ms / self.result.latency_ms
        return out


@dataclass(frozen=True)
class Report:
    """Everything ``report.json`` holds. ``created`` is an ISO 8601 UTC time."""

    created: str
    source: SourceInfo
    bundle: BundleInfo
    environment: Environment
    warnings: tuple[str, ...]
    data: DataInfo | None = None
    quantization: Quantization | None = None
    accuracy: AccuracyResult | None = None
    accuracy_note: str | None = None
    speed: SpeedResult | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": TOOL,
            "created": self.created,
            "source": asdict(self.source),
            "bundle": self.bundle.to_json(),
            "environment": asdict(self.environment),
            "warnings": list(self.warnings),
        }
        if self.data is not None:
            out["data"] = asdict(self.data)
        if self.quantization is not None:
            out["quantization"] = self.quantization.to_json()
        if self.accuracy is not None:
            out["accuracy"] = asdict(self.accuracy)
        if self.accuracy_note is not None:
            out["accuracy_note"] = self.accuracy_note
        if self.speed is not None:
            out["speed"] = self.speed.to_json()
        return out
