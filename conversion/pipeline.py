"""One conversion, start to finish: check, export, quantize, gate, benchmark, write the bundle.

Each step is one function below, called in order by ``_convert``; what a step measures goes into a
typed section of ``conversion.report_data.Report``, written as ``report.json`` at the end.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conversion import calibration, data_split, dataset, devices, export, gate, quantize, report, speed
from conversion.bundle import Staging, check_target
from conversion.data_split import DataSplit
from conversion.dense_gate import DenseGate
from conversion.errors import AccuracyGateError, UsageError
from conversion.holdout_gate import HoldoutGate, failure_hint
from conversion.input_size import default_imgsz
from conversion.options import Options, check_options
from conversion.progress import Progress
from conversion.report_data import (
    AccuracyResult,
    Attempt,
    BundleInfo,
    Environment,
    Quantization,
    Report,
    SourceInfo,
    SpeedResult,
)
from conversion.shapes import record_shapes
from conversion.source import SourceModel, load_source
from edge.inference.repository import DENSE_TASKS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    """What every step reads: the options, the loaded source, the device and a scratch folder."""

    opts: Options
    source: SourceModel
    model_id: str
    device: str
    core: Any
    work: Path
    progress: Progress


@dataclass(frozen=True)
class _Fp32:
    """The FP32 export: its IR folder, metadata, input size (h, w), ``ov.Model`` and file stem."""

    folder: Path
    metadata: dict[str, Any]
    imgsz: tuple[int, int]
    model: Any
    stem: str


def run(opts: Options) -> Path:
    """Convert ``opts.source``; returns the bundle folder. Raises ``ConversionError`` subclasses."""
    import openvino as ov

    model_id = check_options(opts)
    target = opts.out / model_id
    check_target(target, opts.force)
    core = ov.Core()
    device = devices.check_device(opts.device, opts.dynamic, core)
    source = load_source(opts.source)
    if opts.imgsz is None:
        opts = replace(opts, imgsz=default_imgsz(source.task, source.model))
    _check_source(opts, source)
    work = Path(tempfile.mkdtemp(prefix="yolo-edge-convert-"))
    staging = Staging(target)
    try:
        _convert(_Job(opts, source, model_id, device, core, work, Progress(quiet=opts.quiet)), staging.path)
        return staging.commit(opts.force)
    finally:
        staging.discard()
        shutil.rmtree(work, ignore_errors=True)


def _check_source(opts: Options, source: SourceModel) -> None:
    assert opts.imgsz is not None  # resolved in run()
    if source.task == "classify" and opts.imgsz[0] != opts.imgsz[1]:
        raise UsageError(f"--imgsz {opts.imgsz[0]} {opts.imgsz[1]}: a classify model takes a square input "
                         "(its images are centre-cropped); give one N.")


def _convert(job: _Job, bundle: Path) -> None:
    """The steps in order; writes the bundle's files into ``bundle`` (a staging folder)."""
    data, warnings = data_split.collect(job.opts, job.source, job.work)
    for w in warnings:
        logger.warning("%s", w)
    fp32 = _export_fp32(job)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    environment = _environment(job)
    candidate = job.work / "candidate_openvino_model"  # Ultralytics knows IR folders by this suffix
    quantization = _quantize(job, fp32, data, candidate)
    accuracy, attempts = _gate_accuracy(job, fp32, data, candidate)
    if quantization is not None:
        quantization = replace(quantization, attempts=attempts)
    speed_result = _measure_speed(job, fp32, data, candidate, environment.device)
    rep = Report(
        created=created,
        source=SourceInfo(str(job.source.path), job.source.task, len(job.source.names)),
        bundle=BundleInfo(job.model_id, job.opts.precision, fp32.imgsz, job.opts.dynamic, job.device,
                          job.opts.shapes),
        environment=environment,
        warnings=tuple(warnings),
        data=data.info(job.opts) if data is not None else None,
        quantization=quantization,
        accuracy=accuracy,
        accuracy_note=_accuracy_note(job.opts) if accuracy is None else None,
        speed=speed_result,
    )
    _write_bundle(candidate, bundle, rep)
    record_shapes(bundle, job.opts.shapes)


def _export_fp32(job: _Job) -> _Fp32:
    assert job.opts.imgsz is not None  # resolved in run()
    folder = export.export_fp32(job.source, job.work, job.opts.imgsz, job.opts.dynamic, job.opts.end2end)
    metadata = export.read_metadata(folder)
    xml = export.ir_file(folder)
    imgsz = (int(metadata["imgsz"][0]), int(metadata["imgsz"][1]))
    return _Fp32(folder, metadata, imgsz, job.core.read_model(xml), xml.stem)


def _environment(job: _Job) -> Environment:
    import nncf
    import openvino as ov
    import ultralytics

    return Environment(ov.get_version(), nncf.__version__, ultralytics.__version__,
                       devices.device_label(job.device, job.core))


def _quantize(job: _Job, fp32: _Fp32, data: DataSplit | None, candidate: Path) -> Quantization | None:
    """INT8: quantize on the calibration images; FP16/FP32: the FP32 model. Saved to ``candidate``."""
    opts, source = job.opts, job.source
    quantization = None
    model = fp32.model
    if opts.precision == "int8":
        assert data is not None
        recipe = quantize.RECIPES[opts.recipe]
        images = data.split.calibration
        calib = calibration.nncf_dataset(images, fp32.imgsz, source.stride, job.progress, task=source.task)
        logger.info("quantizing with recipe %s on %d images", recipe.name, len(images))
        model = quantize.quantize(fp32.model, calib, len(images), recipe, job.device, source.task)
        quantization = Quantization(recipe.name, quantize.describe(recipe, source.task),
                                    len(quantize.ignored_names(fp32.model, recipe, source.task)))
    export.save_ir(model, fp32.metadata, candidate, fp32.stem, opts.precision)
    return quantization


def _gate_accuracy(job: _Job, fp32: _Fp32, data: DataSplit | None,
                   candidate: Path) -> tuple[AccuracyResult | None, tuple[Attempt, ...]]:
    """FP16/INT8 with --data: the candidate against FP32 on the held-out images (INT8 may be
    re-quantized with accuracy control). Raises ``AccuracyGateError`` past the limit without --force:
    --max-drop mAP points with labels, the agreement points that stand for it without."""
    opts, task = job.opts, job.source.task
    if opts.precision == "fp32" or data is None:
        return None, ()
    checker = _gate_class(job.source.task)(opts, job.source, fp32.imgsz, job.device, job.core, job.work, fp32.folder, data.split,
                          data.labelled, job.progress)
    _check_reference(opts, checker.reference)
    limit = gate.limit(checker.reference.mode, task, opts.max_drop, opts.max_agreement_drop)
    accuracy = checker.measure(candidate)
    drop = gate.drop_points(checker.reference, accuracy)
    attempts: list[Attempt] = []
    if opts.precision == "int8":
        attempts.append(Attempt(f"nncf.quantize ({opts.recipe})", drop))
    if drop > limit.points and opts.precision == "int8" and opts.accuracy_control:
        logger.warning("INT8 drop %.2f %s points exceeds the limit %.2f (%s): trying NNCF accuracy-controlled "
                       "quantization (at most %.0f s)", drop, checker.reference.mode, limit.points, limit.source,
                       opts.accuracy_control_seconds)
        accuracy, drop, attempt = checker.recover(fp32.model, accuracy, drop, candidate, fp32.metadata, fp32.stem)
        attempts.append(attempt)
    passed = drop <= limit.points
    if not passed and not opts.force:
        raise AccuracyGateError(
            f"{opts.precision.upper()} loses {drop:.2f} {gate.points_label(checker.reference.mode, task)} against "
            f"FP32 on {accuracy.images} held-out images (limit {limit.points:.2f}, {limit.source}); no bundle "
            "written. " + failure_hint(tuple(attempts), data.split.calibration) + " Pass --force to write it anyway.")
    result = AccuracyResult(accuracy.mode, accuracy.images, checker.reference.metrics, accuracy.metrics, drop,
                            limit.points, passed, not passed and opts.force, limit_source=limit.source,
                            reference_boxes=checker.reference.reference_boxes)
    return result, tuple(attempts)


def _gate_class(task: str) -> type[HoldoutGate | DenseGate]:
    """Semantic and depth models are gated on agreement of their maps; the rest by ``HoldoutGate``."""
    return DenseGate if task in DENSE_TASKS else HoldoutGate


def _check_reference(opts: Options, reference: gate.Accuracy) -> None:
    """Agreement needs FP32 to find something in the held-out frames; blank or empty scenes prove nothing."""
    boxes = reference.reference_boxes
    if boxes is None or boxes >= gate.MIN_REFERENCE_BOXES:
        return
    message = (f"FP32 finds only {boxes} objects (confidence ≥ {gate.evaluate.REFERENCE_CONF}) in the "
               f"{reference.images} held-out frames, so agreement with FP32 cannot tell a good conversion from a "
               "broken one. Give frames that show what the model detects (or labelled images with --val).")
    if not opts.force:
        raise AccuracyGateError(message + " No bundle written (--force writes it anyway).")
    logger.warning("%s", message)


def _accuracy_note(opts: Options) -> str:
    """Why there is no accuracy section."""
    if opts.precision != "fp32":
        return "Not gated: no --data was given to hold images out from."
    return "FP32 is the reference; nothing to gate."


def _measure_speed(job: _Job, fp32: _Fp32, data: DataSplit | None, candidate: Path,
                   device_label: str) -> SpeedResult | None:
    """FP32 and the result side by side on the device; None with --bench-seconds 0."""
    import openvino as ov

    opts, source = job.opts, job.source
    if not opts.bench_seconds > 0:
        return None
    tensor = _bench_input(data.split if data is not None else None, fp32.imgsz, source.stride, source.task)
    models = {"fp32": fp32.model}
    if opts.precision != "fp32":
        models["result"] = job.core.read_model(export.ir_file(candidate))
    speeds = speed.benchmark(models, job.device, tensor, opts.bench_seconds, progress=job.progress, core=job.core)
    return SpeedResult(device_label, ov.get_version(), opts.bench_seconds, speeds["fp32"], speeds.get("result"))


def _bench_input(split: dataset.Split | None, imgsz: tuple[int, int], stride: int, task: str) -> Any:
    """(1, 3, h, w): the first held-out image as the daemon feeds it, else seeded noise."""
    import numpy as np

    if split is not None and split.holdout:
        return calibration.model_input(calibration.read_bgr(split.holdout[0]), imgsz, stride, task)
    rng = np.random.default_rng(0)
    return rng.random((1, 3, *imgsz), dtype=np.float32)


def _write_bundle(candidate: Path, bundle: Path, rep: Report) -> None:
    """Move the candidate IR into ``bundle`` and write report.json, report.md and chart.png beside it."""
    for item in candidate.iterdir():
        shutil.move(str(item), bundle / item.name)
    content = rep.to_json()
    report.write_reports(content, bundle)
    logger.info("%s", report.markdown(content, False).strip())
