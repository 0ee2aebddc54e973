"""Held-out accuracy of the FP32 reference and of candidates, NNCF's accuracy-controlled recovery,
and the hint a failed gate gives."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from conversion import calibration, classify_eval, dataset, export, gate
from conversion.options import Options
from conversion.progress import Progress
from conversion.recovering_gate import RecoveringGate
from conversion.report_data import Attempt
from conversion.source import SourceModel
from edge.inference.compile_options import compile_properties  # what the daemon compiles with

logger = logging.getLogger(__name__)

class HoldoutGate(RecoveringGate):
    """Measures the FP32 reference on construction; ``measure`` scores a candidate IR folder; ``recover``
    (``RecoveringGate``) runs NNCF's accuracy control."""

    def __init__(self, opts: Options, source: SourceModel, imgsz: tuple[int, int], device: str, core: Any,
                 work: Path, fp32_folder: Path, split: dataset.Split, labelled: bool, progress: Progress) -> None:
        self.opts, self.source, self.imgsz, self.device, self.core = opts, source, imgsz, device, core
        self.work, self.split, self.labelled, self.progress = work, split, labelled, progress
        self.holdout = split.holdout
        self.task = source.task
        self._class_labels: list[int] = []
        if labelled and self.task == "classify":
            self._class_labels = classify_eval.folder_labels(self.holdout, source.names) or []
            self.reference = self.measure(fp32_folder, "validate fp32")
        elif labelled:
            self.set = gate.HoldoutSet(self.holdout, work, source.names, source.kpt_shape)
            self.reference = gate.validate_labelled(fp32_folder, self.set, source.task, imgsz, device, opts.quiet)
        else:
            compiled = core.compile_model(core.read_model(export.ir_file(fp32_folder)), device,
                                        compile_properties(device, "LATENCY"))
            refs = gate.reference_predictions(compiled, self.holdout, imgsz, source.stride, len(source.names), progress,
                                              self.task, source.kpt_shape)
            self._truth = dict(zip(self.holdout, refs))
            self.reference = gate.agreement(compiled, self.holdout, refs, imgsz, source.stride, source.names,
                                            progress, "validate fp32", self.task, source.kpt_shape)

    def measure(self, folder: Path, desc: str = "validate result") -> gate.Accuracy:
        if self.labelled and self.task != "classify":
            return gate.validate_labelled(folder, self.set, self.source.task, self.imgsz, self.device, self.opts.quiet)
        compiled = self.core.compile_model(self.core.read_model(export.ir_file(folder)), self.device,
                                             compile_properties(self.device, "LATENCY"))
        if self.labelled:
            return gate.classify_labelled(compiled, self.holdout, self._class_labels, self.imgsz[0], self.progress, desc)
        return gate.agreement(compiled, self.holdout, [self._truth[p] for p in self.holdout], self.imgsz,
                              self.source.stride, self.source.names, self.progress, desc, self.task,
                              self.source.kpt_shape)

    def _score(self, compiled: Any, paths: list[Path], references: list[Any]) -> float:
        score = gate.agreement(compiled, paths, references, self.imgsz, self.source.stride, self.source.names,
                               None, "accuracy control", self._ac_task)
        return gate.headline(score)

    @property
    def _ac_task(self) -> str:
        # NNCF ranks layers by one metric, the headline (box agreement): segment's masks and pose's
        # keypoints are left undecoded there; the gate that judges the result compares them
        return "detect" if self.task in ("segment", "pose") else self.task

    def _reference_outputs(self, fp32_model: Any, paths: list[Path]) -> list[Any]:
        compiled = self.core.compile_model(fp32_model, self.device, compile_properties(self.device, "LATENCY"))
        return gate.reference_predictions(compiled, paths, self.imgsz, self.source.stride, len(self.source.names),
                                          self.progress, self._ac_task)

    def _recovery_limit(self) -> float:
        # NNCF's metric is agreement (on calibration images), so its target is the agreement limit
        return gate.limit("agreement", self.task, self.opts.max_drop, self.opts.max_agreement_drop).points


def failure_hint(attempts: tuple[Attempt, ...], calibration_images: tuple[Path, ...]) -> str:
    """What was tried, and the likeliest fix, for a gate that failed."""
    tried = "; ".join(f"{a.method}: {a.drop_points:.2f}" + (f" ({a.note})" if a.note else "") for a in attempts)
    return (f"Tried {tried}. " if tried else "") + _data_hint(calibration_images)


def _data_hint(calibration_images: tuple[Path, ...]) -> str:
    import numpy as np

    sample = calibration_images[:: max(1, len(calibration_images) // 10)][:10]
    spread = [float(calibration.read_bgr(p).std()) for p in sample]
    if spread and float(np.median(spread)) < 8.0:
        return ("The calibration images are almost uniform (blank or dark frames?): INT8 ranges learnt from them "
                "clip real images. Calibrate on real frames from the deployment.")
    used = len(calibration_images)
    if used < dataset.RECOMMENDED_CALIBRATION:
        return f"Calibrate on more images ({used} used; 100-300 recommended) like the deployment's."
    return "Check that the calibration images look like the deployment's (not blank, not another domain)."
