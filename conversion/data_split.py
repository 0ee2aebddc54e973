"""The --data and --val images of a conversion, split into calibration and held-out sets, with the
warnings a person should see about them (too few, overlapping, a single image)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conversion import dataset
from conversion.errors import DataError, UsageError
from conversion.options import Options
from conversion.report_data import DataInfo
from conversion.source import SourceModel

MAX_CALIBRATION, MAX_HOLDOUT = 300, 200
#: Below this many held-out images the gate's figure is mostly noise.
RECOMMENDED_HOLDOUT = 50


@dataclass(frozen=True)
class DataSplit:
    """The readable --data images, the (capped) split, and whether the held-out images have labels."""

    images: dataset.ImageSet
    split: dataset.Split
    labelled: bool
    label_note: str
    #: unlabelled frames: calibration uses every frame, the gate's frames included
    gate_calibrated: bool = False

    def info(self, opts: Options) -> DataInfo:
        """The report's ``data`` section."""
        return DataInfo(path=str(opts.data), kind=self.images.kind, images=len(self.images.images),
                        skipped=len(self.images.skipped), calibration=len(self.split.calibration),
                        holdout=len(self.split.holdout),
                        holdout_from=opts.val or (f"{opts.holdout:.0%} of --data"
                                                  + (", also calibrated on" if self.gate_calibrated else "")),
                        labels=self.labelled, label_note=self.label_note)


def collect(opts: Options, source: SourceModel, work: Path) -> tuple[DataSplit | None, list[str]]:
    """Read --data (and --val) into ``work``; None without --data. Returns the warnings too."""
    if opts.val and not opts.data:
        raise UsageError("--val needs --data: it replaces the held-out part of --data.")
    if not opts.data:
        return None, []
    warnings: list[str] = []
    images = dataset.collect(opts.data, work / "data", source.task, source.kpt_shape, names=source.names)
    labelled, label_note = images.labelled, images.label_note
    if opts.val:
        held = dataset.collect(opts.val, work / "val", source.task, source.kpt_shape, names=source.names)
        split = _without_held(opts, images, held, warnings)
        labelled, label_note = held.labelled, held.label_note
    else:
        split = dataset.split(images.images, opts.holdout)
    gate_calibrated = calibrate_on_gate_frames(opts, labelled)
    if gate_calibrated:
        split = dataset.Split(tuple(sorted({*split.calibration, *split.holdout})), split.holdout)
    split = dataset.Split(split.calibration[:MAX_CALIBRATION], split.holdout[:MAX_HOLDOUT])
    data = DataSplit(images, split, labelled, label_note, gate_calibrated)
    return data, warnings + _size_warnings(opts, data)


def calibrate_on_gate_frames(opts: Options, labelled: bool) -> bool:
    """Whether calibration also uses the gate's frames: by default for unlabelled --data without
    --val. There the gate measures agreement with FP32 (does the conversion hold?), not accuracy on
    unseen images, so holding 30 % of a user's frames out of calibration costs calibration images
    and proves nothing more (its effect on real accuracy: docs/conversion.md, "How long, and how
    accurate, on a plain folder"). Labelled --data keeps an independent held-out part."""
    if opts.calibrate_on_gate_frames is not None:
        return opts.calibrate_on_gate_frames and not opts.val
    return not labelled and not opts.val


def _without_held(opts: Options, images: dataset.ImageSet, held: dataset.ImageSet,
                  warnings: list[str]) -> dataset.Split:
    """Calibrate on the --data images that are not in --val; hold out all of --val."""
    gate_files = {p.resolve() for p in held.images}
    calib = tuple(p for p in images.images if p.resolve() not in gate_files)
    if len(calib) < len(images.images):
        warnings.append(f"{len(images.images) - len(calib)} --data images are also in --val: "
                        "left out of calibration so the gate stays independent.")
    if not calib:
        raise DataError(f"{opts.data}: every image is also in --val {opts.val}; nothing is left to calibrate on.")
    return dataset.Split(calib, held.images)


def _size_warnings(opts: Options, data: DataSplit) -> list[str]:
    """Too few images for what was asked: a single image, few calibration or held-out images."""
    warnings: list[str] = []
    split = data.split
    if len(data.images.images) == 1 and not opts.val:
        warnings.append("--data holds a single image: it serves for both calibration and the gate, "
                        "so the gate proves little.")
    if opts.precision == "int8" and len(split.calibration) < dataset.RECOMMENDED_CALIBRATION:
        warnings.append(
            f"only {len(split.calibration)} calibration images (fewer than {dataset.RECOMMENDED_CALIBRATION}): "
            "INT8 activation ranges are estimated from them, so too few or unrepresentative images give "
            "clipped or coarse ranges and lost accuracy. Give 100-300 images like the ones the camera sees.")
    if opts.precision != "fp32" and len(split.holdout) < RECOMMENDED_HOLDOUT:
        warnings.append(
            f"only {len(split.holdout)} held-out images for the accuracy gate (fewer than {RECOMMENDED_HOLDOUT}): "
            "its mAP is noisy (64 coco128 images already vary by about ±0.4 points between splits), "
            "so a small --max-drop may pass or fail by chance.")
    return warnings
