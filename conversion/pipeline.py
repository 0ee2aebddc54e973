"""One conversion, start to finish: check, export, quantize, gate, benchmark, write the bundle."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conversion import calibration, classify_eval, dataset, devices, export, gate, quantize, report, speed
from conversion.bundle import Staging, check_target
from conversion.errors import AccuracyGateError, DataError, UsageError
from conversion.progress import Progress
from conversion.source import SourceModel, load_source
from edge.inference.repository import MODEL_ID

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
MAX_CALIBRATION, MAX_HOLDOUT = 300, 200
#: Below this many held-out images the gate's figure is mostly noise.
RECOMMENDED_HOLDOUT = 50
#: Calibration images NNCF's accuracy control validates on (several passes each).
AC_VALIDATION = 100


@dataclass(frozen=True)
class Options:
    """Validated command-line options. ``imgsz`` is (h, w); ``max_drop`` is in mAP points."""

    source: str
    precision: str
    out: Path
    model_id: str | None = None
    data: str | None = None
    val: str | None = None
    imgsz: tuple[int, int] = (640, 640)
    device: str = "CPU"
    dynamic: bool = False
    max_drop: float = 1.0
    force: bool = False
    quiet: bool = False
    holdout: float = 0.3
    recipe: str = quantize.DEFAULT.name
    accuracy_control: bool = True
    bench_seconds: float = 12.0


def default_model_id(source: str, precision: str) -> str:
    """``yolov8n-int8`` from ``.../yolov8n.pt``: a valid daemon MODEL_ID."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(source).stem).strip("-._") or "model"
    return f"{stem}-{precision}"


def run(opts: Options) -> Path:
    """Convert ``opts.source``; returns the bundle folder. Raises ``ConversionError`` subclasses."""
    import openvino as ov

    if opts.precision not in PRECISIONS:
        raise UsageError(f"--precision {opts.precision}: not one of {', '.join(PRECISIONS)}")
    if opts.precision == "int8" and not opts.data:
        raise UsageError("--precision int8 needs --data: images to calibrate on (a folder, a dataset yaml or a video).")
    if not 0.0 < opts.holdout < 1.0:
        raise UsageError(f"--holdout {opts.holdout}: must be between 0 and 1")
    if opts.recipe not in quantize.RECIPES:
        raise UsageError(f"--recipe {opts.recipe}: not one of {', '.join(quantize.RECIPES)}")
    model_id = opts.model_id or default_model_id(opts.source, opts.precision)
    if not MODEL_ID.match(model_id):
        raise UsageError(f"--id {model_id!r}: the daemon takes letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit (at most 128).")
    target = opts.out / model_id
    check_target(target, opts.force)
    core = ov.Core()
    device = devices.check_device(opts.device, opts.dynamic, core)
    progress = Progress(quiet=opts.quiet)
    warnings: list[str] = []

    source = load_source(opts.source)
    if source.task == "classify" and opts.imgsz[0] != opts.imgsz[1]:
        raise UsageError(f"--imgsz {opts.imgsz[0]} {opts.imgsz[1]}: a classify model takes a square input "
                         "(its images are centre-cropped); give one N.")
    work = Path(tempfile.mkdtemp(prefix="yolo-edge-convert-"))
    staging = Staging(target)
    try:
        _convert(opts, source, model_id, device, core, work, staging.path, progress, warnings)
        return staging.commit(opts.force)
    finally:
        staging.discard()
        shutil.rmtree(work, ignore_errors=True)


def _convert(opts: Options, source: SourceModel, model_id: str, device: str, core: Any, work: Path,
             bundle: Path, progress: Progress, warnings: list[str]) -> None:
    import nncf
    import openvino as ov
    import ultralytics

    images = split = None
    labelled, label_note = False, ""
    if opts.val and not opts.data:
        raise UsageError("--val needs --data: it replaces the held-out part of --data.")
    if opts.data:
        images = dataset.collect(opts.data, work / "data", source.task, source.kpt_shape, names=source.names)
        labelled, label_note = images.labelled, images.label_note
        if opts.val:
            held = dataset.collect(opts.val, work / "val", source.task, source.kpt_shape, names=source.names)
            gate_files = {p.resolve() for p in held.images}
            calib = tuple(p for p in images.images if p.resolve() not in gate_files)
            if len(calib) < len(images.images):
                warnings.append(f"{len(images.images) - len(calib)} --data images are also in --val: "
                                "left out of calibration so the gate stays independent.")
            if not calib:
                raise DataError(f"{opts.data}: every image is also in --val {opts.val}; nothing is left to calibrate on.")
            split = dataset.Split(calib, held.images)
            labelled, label_note = held.labelled, held.label_note
        else:
            split = dataset.split(images.images, opts.holdout)
        split = dataset.Split(split.calibration[:MAX_CALIBRATION], split.holdout[:MAX_HOLDOUT])
        if len(images.images) == 1 and not opts.val:
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
    for w in warnings:
        logger.warning("%s", w)

    fp32_folder = export.export_fp32(source, work, opts.imgsz, opts.dynamic)
    metadata = export.read_metadata(fp32_folder)
    imgsz = (int(metadata["imgsz"][0]), int(metadata["imgsz"][1]))
    fp32_xml = export.ir_file(fp32_folder)
    fp32_model = core.read_model(fp32_xml)
    stem = fp32_xml.stem

    rep: dict[str, Any] = {
        "tool": "yolo-edge-convert",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"path": str(source.path), "task": source.task, "classes": len(source.names)},
        "bundle": {"model_id": model_id, "precision": opts.precision, "imgsz": list(imgsz),
                   "dynamic": opts.dynamic, "device": device},
        "environment": {"openvino": ov.get_version(), "nncf": nncf.__version__,
                        "ultralytics": ultralytics.__version__, "device": devices.device_label(device, core)},
        "warnings": warnings,
    }
    if images is not None and split is not None:
        rep["data"] = {"path": str(opts.data), "kind": images.kind, "images": len(images.images),
                       "skipped": len(images.skipped), "calibration": len(split.calibration),
                       "holdout": len(split.holdout), "holdout_from": opts.val or f"{opts.holdout:.0%} of --data",
                       "labels": labelled, "label_note": label_note}

    candidate_folder = work / "candidate_openvino_model"  # Ultralytics knows IR folders by this suffix
    if opts.precision == "int8":
        assert split is not None
        recipe = quantize.RECIPES[opts.recipe]
        calib = calibration.nncf_dataset(split.calibration, imgsz, source.stride, progress, task=source.task)
        logger.info("quantizing with recipe %s on %d images", recipe.name, len(split.calibration))
        model = quantize.quantize(fp32_model, calib, len(split.calibration), recipe, device, source.task)
        rep["quantization"] = {
            "recipe": recipe.name,
            "description": _describe(recipe, source.task),
            "ignored_ops": len(quantize.ignored_names(fp32_model, recipe, source.task)),
            "attempts": [],
        }
    else:
        model = fp32_model
    export.save_ir(model, metadata, candidate_folder, stem, opts.precision)

    if opts.precision != "fp32" and split is not None:
        checker = _Gate(opts, source, imgsz, device, core, work, fp32_folder, split, labelled, progress)
        accuracy = checker.measure(candidate_folder)
        drop = gate.drop_points(checker.reference, accuracy)
        if opts.precision == "int8":
            rep["quantization"]["attempts"].append({"method": f"nncf.quantize ({opts.recipe})", "drop_points": drop})
        if drop > opts.max_drop and opts.precision == "int8" and opts.accuracy_control:
            logger.warning("INT8 drop %.2f points exceeds --max-drop %.2f: trying NNCF accuracy-controlled "
                           "quantization", drop, opts.max_drop)
            model, accuracy, drop = checker.recover(fp32_model, model, accuracy, drop, candidate_folder, metadata,
                                                    stem, rep["quantization"]["attempts"])
        passed = drop <= opts.max_drop
        rep["accuracy"] = {"mode": accuracy.mode, "images": accuracy.images, "fp32": checker.reference.metrics,
                           "result": accuracy.metrics, "drop_points": drop, "max_drop": opts.max_drop,
                           "passed": passed, "forced": not passed and opts.force}
        if not passed and not opts.force:
            raise AccuracyGateError(
                f"{opts.precision.upper()} loses {drop:.2f} {gate.metric_label(source.task)} points against FP32 on {accuracy.images} held-out "
                f"images (limit --max-drop {opts.max_drop:.2f}); no bundle written. "
                + _gate_hint(rep, split.calibration) + " Pass --force to write it anyway.")
    elif opts.precision != "fp32":
        rep["accuracy_note"] = "Not gated: no --data was given to hold images out from."
    else:
        rep["accuracy_note"] = "FP32 is the reference; nothing to gate."

    if opts.bench_seconds > 0:
        tensor = _bench_input(split, imgsz, source.stride, source.task)
        models = {"fp32": fp32_model}
        if opts.precision != "fp32":
            models["result"] = core.read_model(export.ir_file(candidate_folder))
        speeds = speed.benchmark(models, device, tensor, opts.bench_seconds, progress=progress, core=core)
        sp: dict[str, Any] = {"device": rep["environment"]["device"], "openvino": ov.get_version(),
                              "seconds": opts.bench_seconds, **{k: vars(v) for k, v in speeds.items()}}
        if "result" in speeds:
            sp["throughput_ratio"] = speeds["result"].throughput_fps / speeds["fp32"].throughput_fps
            sp["latency_speedup"] = speeds["fp32"].latency_ms / speeds["result"].latency_ms
        rep["speed"] = sp

    for item in candidate_folder.iterdir():
        shutil.move(str(item), bundle / item.name)
    report.write_reports(rep, bundle)
    logger.info("%s", report.markdown(rep, False).strip())


def _describe(recipe: quantize.Recipe, task: str = "detect") -> str:
    parts = [f"NNCF {recipe.preset} preset"]
    if task != "classify":  # Ultralytics ignores nothing in a Classify head
        parts.append("Ultralytics' head scope (box decoding, DFL, sigmoid) in float")
    if recipe.float_outputs:
        parts.append("output-feeding layers in float")
    parts.append("full bias correction" if not recipe.fast_bias_correction else "fast bias correction")
    return "; ".join(parts) + "."


def _gate_hint(rep: dict[str, Any], calibration_images: tuple[Path, ...]) -> str:
    tried = "; ".join(f"{a['method']}: {a['drop_points']:.2f}" + (f" ({a['note']})" if a.get("note") else "")
                      for a in rep.get("quantization", {}).get("attempts", []))
    return (f"Tried {tried}. " if tried else "") + _data_hint(rep, calibration_images)


def _data_hint(rep: dict[str, Any], calibration_images: tuple[Path, ...]) -> str:
    import numpy as np

    sample = calibration_images[:: max(1, len(calibration_images) // 10)][:10]
    spread = [float(calibration.read_bgr(p).std()) for p in sample]
    if spread and float(np.median(spread)) < 8.0:
        return ("The calibration images are almost uniform (blank or dark frames?): INT8 ranges learnt from them "
                "clip real images. Calibrate on real frames from the deployment.")
    data = rep.get("data", {})
    if data.get("calibration", 0) < dataset.RECOMMENDED_CALIBRATION:
        return f"Calibrate on more images ({data.get('calibration', 0)} used; 100-300 recommended) like the deployment's."
    return "Check that the calibration images look like the deployment's (not blank, not another domain)."


def _bench_input(split: dataset.Split | None, imgsz: tuple[int, int], stride: int, task: str) -> Any:
    import numpy as np

    if split is not None and split.holdout:
        return calibration.model_input(calibration.read_bgr(split.holdout[0]), imgsz, stride, task)
    rng = np.random.default_rng(0)
    return rng.random((1, 3, *imgsz), dtype=np.float32)


class _Gate:
    """Held-out accuracy of the FP32 reference and of candidates, and the NNCF recovery."""

    def __init__(self, opts: Options, source: SourceModel, imgsz: tuple[int, int], device: str, core: Any,
                 work: Path, fp32_folder: Path, split: dataset.Split, labelled: bool, progress: Progress) -> None:
        self.opts, self.source, self.imgsz, self.device, self.core = opts, source, imgsz, device, core
        self.work, self.split, self.labelled, self.progress = work, split, labelled, progress
        self.holdout = split.holdout
        self.task = source.task
        self._ac_truth: dict[Path, Any] = {}
        self._class_labels: list[int] = []
        if labelled and self.task == "classify":
            self._class_labels = classify_eval.folder_labels(self.holdout, source.names) or []
            self.reference = self.measure(fp32_folder, "validate fp32")
        elif labelled:
            self.set = gate.HoldoutSet(self.holdout, work, source.names, source.kpt_shape)
            self.reference = gate.validate_labelled(fp32_folder, self.set, source.task, imgsz, device, opts.quiet)
        else:
            compiled = core.compile_model(core.read_model(export.ir_file(fp32_folder)), device)
            refs = gate.reference_predictions(compiled, self.holdout, imgsz, source.stride, len(source.names), progress,
                                              self.task)
            self._truth = dict(zip(self.holdout, refs))
            self.reference = gate.agreement(compiled, self.holdout, refs, imgsz, source.stride, source.names,
                                            progress, "validate fp32", self.task)

    def measure(self, folder: Path, desc: str = "validate result") -> gate.Accuracy:
        if self.labelled and self.task != "classify":
            return gate.validate_labelled(folder, self.set, self.source.task, self.imgsz, self.device, self.opts.quiet)
        compiled = self.core.compile_model(self.core.read_model(export.ir_file(folder)), self.device)
        if self.labelled:
            return gate.classify_labelled(compiled, self.holdout, self._class_labels, self.imgsz[0], self.progress, desc)
        return gate.agreement(compiled, self.holdout, [self._truth[p] for p in self.holdout], self.imgsz,
                              self.source.stride, self.source.names, self.progress, desc, self.task)

    def _validation_fn(self, compiled: Any, items: Any) -> tuple[float, None]:
        paths = list(items)
        score = gate.agreement(compiled, paths, [self._ac_truth[p] for p in paths], self.imgsz, self.source.stride,
                               self.source.names, None, "accuracy control", self.task)
        return gate.headline(score), None

    def recover(self, fp32_model: Any, model: Any, accuracy: gate.Accuracy, drop: float, folder: Path,
                metadata: dict[str, Any], stem: str, attempts: list[dict[str, Any]]) -> tuple[Any, gate.Accuracy, float]:
        """NNCF accuracy-controlled quantization; keeps whichever model drops less."""
        recipe = quantize.RECIPES[self.opts.recipe]
        calib = calibration.nncf_dataset(self.split.calibration, self.imgsz, self.source.stride, self.progress,
                                         task=self.task)
        # NNCF selects layers on the calibration images (agreement with FP32), never on the held-out
        # ones: the gate below stays an independent check.
        chosen = list(self.split.calibration[:AC_VALIDATION])
        compiled = self.core.compile_model(fp32_model, self.device)
        refs = gate.reference_predictions(compiled, chosen, self.imgsz, self.source.stride, len(self.source.names),
                                          self.progress, self.task)
        self._ac_truth = dict(zip(chosen, refs))
        try:
            recovered = quantize.quantize_with_accuracy_control(
                fp32_model, calib, len(self.split.calibration), chosen, self._validation_fn,
                self.opts.max_drop, recipe, self.device, task=self.task)
        except Exception as exc:  # noqa: BLE001 - NNCF raises assorted errors when it cannot restore; the gate decides
            logger.warning("accuracy-controlled quantization failed: %s", exc)
            attempts.append({"method": "nncf.quantize_with_accuracy_control", "drop_points": drop,
                             "note": f"failed: {type(exc).__name__}: {exc}"[:300]})
            return model, accuracy, drop
        trial = self.work / "recovered_openvino_model"
        export.save_ir(recovered, metadata, trial, stem, "int8")
        new_accuracy = self.measure(trial)
        new_drop = gate.drop_points(self.reference, new_accuracy)
        kept = new_drop < drop
        attempts.append({"method": "nncf.quantize_with_accuracy_control", "drop_points": new_drop,
                         "note": "kept" if kept else "not better; kept the first model"})
        if not kept:
            return model, accuracy, drop
        shutil.rmtree(folder)
        trial.rename(folder)
        return recovered, new_accuracy, new_drop
