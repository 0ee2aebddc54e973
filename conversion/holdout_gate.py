"""Held-out accuracy of the FP32 reference and of candidates, NNCF's accuracy-controlled recovery,
and the hint a failed gate gives."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from conversion import calibration, classify_eval, dataset, export, gate, quantize
from conversion.options import Options
from conversion.progress import Progress
from conversion.report_data import Attempt
from conversion.source import SourceModel
from conversion.time_bound import BoundedImages, Deadline, run_accuracy_control
from edge.inference.compile_options import compile_properties  # what the daemon compiles with

logger = logging.getLogger(__name__)

#: Calibration images NNCF's accuracy control validates on (several passes each).
AC_VALIDATION = 100


class HoldoutGate:
    """Measures the FP32 reference on construction; ``measure`` scores a candidate IR folder."""

    def __init__(self, opts: Options, source: SourceModel, imgsz: tuple[int, int], device: str, core: Any,
                 work: Path, fp32_folder: Path, split: dataset.Split, labelled: bool, progress: Progress) -> None:
        self.opts, self.source, self.imgsz, self.device, self.core = opts, source, imgsz, device, core
        self.work, self.split, self.labelled, self.progress = work, split, labelled, progress
        self.holdout = split.holdout
        self.task = source.task
        self._ac_truth: dict[Path, Any] = {}
        self._deadline: Deadline | None = None
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
                                              self.task)
            self._truth = dict(zip(self.holdout, refs))
            self.reference = gate.agreement(compiled, self.holdout, refs, imgsz, source.stride, source.names,
                                            progress, "validate fp32", self.task)

    def measure(self, folder: Path, desc: str = "validate result") -> gate.Accuracy:
        if self.labelled and self.task != "classify":
            return gate.validate_labelled(folder, self.set, self.source.task, self.imgsz, self.device, self.opts.quiet)
        compiled = self.core.compile_model(self.core.read_model(export.ir_file(folder)), self.device,
                                             compile_properties(self.device, "LATENCY"))
        if self.labelled:
            return gate.classify_labelled(compiled, self.holdout, self._class_labels, self.imgsz[0], self.progress, desc)
        return gate.agreement(compiled, self.holdout, [self._truth[p] for p in self.holdout], self.imgsz,
                              self.source.stride, self.source.names, self.progress, desc, self.task)

    def _validation_fn(self, compiled: Any, items: Any) -> tuple[float, None]:
        if self._deadline is not None:
            self._deadline.check()
        paths = list(items)
        score = gate.agreement(compiled, paths, [self._ac_truth[p] for p in paths], self.imgsz, self.source.stride,
                               self.source.names, None, "accuracy control", self.task)
        return gate.headline(score), None

    def recover(self, fp32_model: Any, accuracy: gate.Accuracy, drop: float, folder: Path, metadata: dict[str, Any],
                stem: str) -> tuple[gate.Accuracy, float, Attempt]:
        """NNCF accuracy-controlled quantization; keeps whichever model drops less in ``folder``.
        Returns the kept model's accuracy and drop, and the attempt for the report."""
        import nncf

        recipe = quantize.RECIPES[self.opts.recipe]
        self._deadline = deadline = Deadline(self.opts.accuracy_control_seconds)
        calib = nncf.Dataset(BoundedImages(deadline, self.split.calibration, self.imgsz, self.source.stride,
                                            self.progress, task=self.task))
        # NNCF selects layers on the calibration images (agreement with FP32), never on the held-out
        # ones: the gate below stays an independent check.
        held = set(self.holdout)
        chosen = [p for p in self.split.calibration if p not in held][:AC_VALIDATION] \
            or list(self.split.calibration[:AC_VALIDATION])  # a single image serves for everything
        compiled = self.core.compile_model(fp32_model, self.device, compile_properties(self.device, "LATENCY"))
        refs = gate.reference_predictions(compiled, chosen, self.imgsz, self.source.stride, len(self.source.names),
                                          self.progress, self.task)
        self._ac_truth = dict(zip(chosen, refs))
        method = "nncf.quantize_with_accuracy_control"
        # its metric is agreement (on calibration images), so its target is the agreement limit
        limit = gate.limit("agreement", self.task, self.opts.max_drop, self.opts.max_agreement_drop).points
        recovered, why_not = run_accuracy_control(deadline, lambda: quantize.quantize_with_accuracy_control(
            fp32_model, calib, len(self.split.calibration), chosen, self._validation_fn,
            limit, recipe, self.device, task=self.task))
        self._deadline = None
        if recovered is None:
            return accuracy, drop, Attempt(method, drop, why_not)
        trial = self.work / "recovered_openvino_model"
        export.save_ir(recovered, metadata, trial, stem, "int8")
        new_accuracy = self.measure(trial)
        new_drop = gate.drop_points(self.reference, new_accuracy)
        kept = new_drop < drop
        attempt = Attempt(method, new_drop, "kept" if kept else "not better; kept the first model")
        if not kept:
            return accuracy, drop, attempt
        shutil.rmtree(folder)
        trial.rename(folder)
        return new_accuracy, new_drop, attempt


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
