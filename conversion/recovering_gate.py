"""What both accuracy gates (``HoldoutGate``, ``DenseGate``) do when a candidate fails: NNCF's
accuracy-controlled quantization, bounded in time, keeping whichever model drops less.

NNCF selects the layers to return to float on calibration images that the gate does not judge
(unlabelled frames calibrate on all of them, the held-out ones included), so the gate's verdict on the
held-out images stays an independent check. A gate supplies its references for those images
(``_reference_outputs``), the limit NNCF aims at (``_recovery_limit``) and ``_score``, which scores a
compiled model against those references; the time bound is checked here, before each score.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conversion import dataset, export, quantize
from conversion.gate import Accuracy, drop_points
from conversion.options import Options
from conversion.progress import Progress
from conversion.report_data import Attempt
from conversion.source import SourceModel
from conversion.time_bound import BoundedImages, Deadline, run_accuracy_control

METHOD = "nncf.quantize_with_accuracy_control"


class RecoveringGate:
    """The recovery half of a gate; subclasses set the attributes below and ``reference``/``measure``."""

    #: Calibration images NNCF's accuracy control validates on (several passes each).
    ac_validation = 100
    opts: Options
    source: SourceModel
    imgsz: tuple[int, int]
    device: str
    work: Path
    split: dataset.Split
    holdout: list[Path]
    progress: Progress
    task: str
    reference: Accuracy

    def measure(self, folder: Path, desc: str = "validate result") -> Accuracy:
        raise NotImplementedError

    def _reference_outputs(self, fp32_model: Any, paths: list[Path]) -> list[Any]:
        """FP32's outputs on ``paths``, which ``_score`` scores candidates against."""
        raise NotImplementedError

    def _recovery_limit(self) -> float:
        """The drop NNCF aims to stay within, in the points of ``_score``'s metric."""
        raise NotImplementedError

    def _score(self, compiled: Any, paths: list[Path], references: list[Any]) -> float:
        """``compiled``'s metric (0..1) on ``paths`` against FP32's ``references`` there."""
        raise NotImplementedError

    def recover(self, fp32_model: Any, accuracy: Accuracy, drop: float, folder: Path, metadata: dict[str, Any],
                stem: str) -> tuple[Accuracy, float, Attempt]:
        """NNCF accuracy-controlled quantization; keeps whichever model drops less in ``folder``.
        Returns the kept model's accuracy and drop, and the attempt for the report."""
        import nncf

        held = set(self.holdout)
        chosen = [p for p in self.split.calibration if p not in held][:self.ac_validation] \
            or list(self.split.calibration[:self.ac_validation])  # a single image serves for everything
        references = dict(zip(chosen, self._reference_outputs(fp32_model, chosen)))
        deadline = Deadline(self.opts.accuracy_control_seconds)

        def validation_fn(compiled: Any, items: Any) -> tuple[float, None]:  # NNCF's signature
            deadline.check()
            paths = list(items)
            return self._score(compiled, paths, [references[p] for p in paths]), None

        calib = nncf.Dataset(BoundedImages(deadline, self.split.calibration, self.imgsz, self.source.stride,
                                           self.progress, task=self.task))
        recovered, why_not = run_accuracy_control(deadline, lambda: quantize.quantize_with_accuracy_control(
            fp32_model, calib, len(self.split.calibration), chosen, validation_fn, self._recovery_limit(),
            quantize.RECIPES[self.opts.recipe], self.device, task=self.task))
        if recovered is None:
            return accuracy, drop, Attempt(METHOD, drop, why_not)
        trial = self.work / "recovered_openvino_model"
        export.save_ir(recovered, metadata, trial, stem, "int8")
        new_accuracy = self.measure(trial)
        new_drop = drop_points(self.reference, new_accuracy)
        if new_drop >= drop:
            return accuracy, drop, Attempt(METHOD, new_drop, "not better; kept the first model")
        shutil.rmtree(folder)
        trial.rename(folder)
        return new_accuracy, new_drop, Attempt(METHOD, new_drop, "kept")
