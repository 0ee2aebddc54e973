"""Agreement drop against labelled mAP drop, for good and deliberately broken INT8 models.

The unlabelled gate scores INT8 against FP32's own predictions (agreement); the labelled gate scores
both against the labels. This bench measures both on the same held-out images for several INT8
models of one checkpoint, so the unlabelled gate's threshold can be read off: the good models
(the default recipe, Ultralytics' recipe) must pass it and the broken ones (head quantized, blank or
noise calibration, too few images) must fail it.

    YOLO_EDGE_TEST_DATA=../shared/data nice -n 5 python bench/gate_bench.py --out bench/results

Held-out images: detect and segment, one half of coco128 (seed 0; the other half calibrates);
segment labels are coco128's COCO json polygons (Ultralytics' ``convert_coco``); pose, the 8
coco8-pose images (calibration: the rest of coco128). Agreement is computed exactly as the gate
computes it (``conversion.gate``: box, and mask / pose agreement for segment / pose), plus the box
variants that were considered for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conversion_bench import pose_set, seg_labels, shared_data

from conversion import calibration, dataset, evaluate, export, gate, quantize
from conversion.source import load_source
from edge.inference.compile_options import compile_properties

logger = logging.getLogger("gate_bench")

#: name -> (checkpoint, task images kind)
MODELS = {
    "yolov8n-dq": ("yolov8n-dq.pt", "detect"),
    "yolo11n-dq": ("yolo11n-dq.pt", "detect"),
    "yolo11n-seg-dq": ("yolo11n-seg-dq.pt", "segment"),
    "yolo11n-pose": ("yolo11n-pose.pt", "pose"),
}
#: What each INT8 variant is; "good" ones must pass the gate, the others must fail it.
VARIANTS = {
    "default": "good: yolo-edge recipe, all calibration images",
    "ultralytics": "good: Ultralytics' recipe, all calibration images",
    "full-bc": "good: yolo-edge recipe with NNCF's full bias correction (the default until issue 12)",
    "calib70": "yolo-edge recipe on 70 % of the calibration images (the old --holdout 0.3 split)",
    "head-int8": "broken: yolo-edge recipe but the head (decode, DFL, sigmoid, output convs) quantized too",
    "blank": "broken: calibrated on 8 black frames",
    "noise": "broken: calibrated on 8 uniform-noise frames",
    "few": "weak: calibrated on 2 real images",
}


def synthetic(folder: Path, kind: str, count: int = 8) -> tuple[Path, ...]:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        image = np.zeros((480, 640, 3), np.uint8) if kind == "blank" else rng.integers(0, 256, (480, 640, 3), np.uint8)
        paths.append(folder / f"{kind}_{i}.png")
        cv2.imwrite(str(paths[-1]), image)
    return tuple(paths)


def int8_model(variant: str, fp32: Any, pool: tuple[Path, ...], work: Path, imgsz: int, stride: int,
               task: str) -> Any:
    import nncf

    recipe = {"ultralytics": quantize.ULTRALYTICS,
              "full-bc": replace(quantize.DEFAULT, fast_bias_correction=False)}.get(variant, quantize.DEFAULT)
    images = {"blank": lambda: synthetic(work / "blank", "blank"), "noise": lambda: synthetic(work / "noise", "noise"),
              "few": lambda: pool[:2], "calib70": lambda: dataset.split(pool, 0.3).calibration,
              }.get(variant, lambda: pool)()
    calib = calibration.nncf_dataset(images, (imgsz, imgsz), stride, None, task=task)
    if variant != "head-int8":
        return quantize.quantize(fp32, calib, len(images), recipe, "CPU", task)
    return nncf.quantize(model=fp32, calibration_dataset=calib, preset=nncf.QuantizationPreset.MIXED,
                         target_device=nncf.TargetDevice.CPU, subset_size=len(images), fast_bias_correction=False)


def agreement_scores(preds: list[evaluate.Detections], fp32_preds: list[evaluate.Detections],
                     names: dict[int, str], gate_reference: list[evaluate.Detections]) -> dict[str, float]:
    """The gate's agreement (reference FP32 conf >= 0.25, mAP50-95; box, and mask / pose for segment /
    pose) and the box variants considered.

    ``gate_agree_*`` take exactly the gate's reference (``gate.reference_predictions``: one label per
    box, as Ultralytics' predictor does, with FP32's masks / keypoints); ``agree25_*`` / ``agree50_*`` take
    FP32's validator-style predictions (multi-label) as the reference, box only, as the rows in
    docs/conversion.md did before the gate compared masks and keypoints."""
    out: dict[str, float] = {}
    for kind, score in evaluate.scores(preds, gate_reference, names).items():
        out[f"gate_agree_{kind}_map50_95"] = score.map50_95
        out[f"gate_agree_{kind}_map50"] = score.map50
    boxes_only = [evaluate.Detections(p.boxes, p.conf, p.cls) for p in preds]
    for conf in (0.25, 0.5):
        refs = [evaluate.Detections(p.boxes, p.conf, p.cls).above(conf) for p in fp32_preds]
        score = evaluate.box_map(boxes_only, refs, names)
        out[f"agree{int(conf * 100)}_map50_95"] = score.map50_95
        out[f"agree{int(conf * 100)}_map50"] = score.map50
    return out


def run_model(name: str, data: Path, work: Path, imgsz: int, variants: list[str],
              weights_dir: Path | None = None, pose_unlabelled: bool = False, seed: int = 0) -> dict[str, Any]:
    import openvino as ov

    weights, kind = MODELS[name]
    core = ov.Core()
    source = load_source(str((weights_dir or data / "weights") / weights))
    mwork = work / name
    mwork.mkdir()
    coco = data / "coco128" / "images" / "train2017"
    fp32_folder = export.export_fp32(source, mwork, (imgsz, imgsz), False)
    meta = export.read_metadata(fp32_folder)
    fp32 = core.read_model(export.ir_file(fp32_folder))
    stem = export.ir_file(fp32_folder).stem
    all_images = tuple(sorted(coco.glob("*.jpg")))
    labelled_gate = not (kind == "pose" and pose_unlabelled)
    if kind == "pose" and not pose_unlabelled:
        labelled = sorted(pose_set(data, mwork).rglob("*.jpg"))
        held = {p.stem for p in labelled}
        pool = tuple(p for p in all_images if p.stem not in held)
    else:
        half = dataset.split(all_images, 0.5, seed=seed)
        pool = half.calibration
        root = seg_labels(data, mwork) if kind == "segment" else coco
        held = {p.stem for p in half.holdout}
        labelled = sorted(p for p in root.glob("*.jpg") if p.stem in held)
    hs = gate.HoldoutSet(labelled, mwork / "holdout", source.names, source.kpt_shape)

    def compiled(model: Any) -> Any:
        return core.compile_model(model, "CPU", compile_properties("CPU", "LATENCY"))

    def predictions(model: Any) -> list[evaluate.Detections]:
        return evaluate.predict(compiled(model), labelled, (imgsz, imgsz), source.stride, len(source.names),
                                masks=source.task == "segment",
                                kpt_shape=source.kpt_shape if source.task == "pose" else None)

    fp32_preds = predictions(fp32)
    gate_ref = gate.reference_predictions(compiled(fp32), labelled, (imgsz, imgsz), source.stride, len(source.names),
                                          None, source.task, source.kpt_shape)
    def labelled_metrics(folder: Path) -> dict[str, float]:
        # coco128's labels are boxes, not keypoints: an unlabelled pose run measures agreement only
        return gate.validate_labelled(folder, hs, source.task, (imgsz, imgsz), "CPU", True).metrics \
            if labelled_gate else {}

    rows: dict[str, dict[str, float]] = {"fp32": {**labelled_metrics(fp32_folder),
                                                  **agreement_scores(fp32_preds, fp32_preds, source.names, gate_ref)}}
    for variant in variants:
        t = os.times()
        w0, c0 = time.perf_counter(), t.user + t.system
        model = int8_model(variant, fp32, pool, mwork, imgsz, source.stride, source.task)
        t = os.times()
        timing = {"quantize_wall_s": time.perf_counter() - w0, "quantize_cpu_s": t.user + t.system - c0}
        folder = mwork / f"{variant}_openvino_model"
        export.save_ir(model, meta, folder, stem, "int8")
        labels = labelled_metrics(folder)
        rows[variant] = {**labels, **agreement_scores(predictions(model), fp32_preds, source.names, gate_ref), **timing}
        drops = {k: round((rows["fp32"][k] - v) * 100, 2) for k, v in rows[variant].items() if k.endswith("50_95")}
        logger.warning("%s %s: %s %s", name, variant, drops, timing)
    return {"task": source.task, "holdout_images": len(labelled), "calibration_pool": len(pool), "metrics": rows}


def as_gate(row: dict[str, float]) -> gate.Accuracy:
    """A row's ``gate_agree_*`` figures as the gate's own agreement ``Accuracy``, for ``gate.drop_points``."""
    return gate.Accuracy("agreement", 0, {k.removeprefix("gate_agree_"): v for k, v in row.items()
                                          if k.startswith("gate_agree_")})


def table(results: dict[str, Any], limit: float = gate.agreement_limit(1.0)) -> str:
    header = ("| model | INT8 variant | labelled drop: box | mask/pose | agreement drop (gate), box | "
              "agreement drop (gate), mask/pose | **gated agreement drop** (largest; keypoints × 0.5) | "
              f"passes {limit:g}? | box agreement drop, multi-label ref conf ≥ 0.25 | ref conf ≥ 0.5 | "
              "quantization CPU s |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        m = res["metrics"]
        ref = m["fp32"]
        second = next((k for k in ref if k.endswith("map50_95") and k.split("_")[0] in ("mask", "pose")), None)
        gate_second = next((k for k in ref if k.startswith("gate_agree_") and k.endswith("map50_95")
                            and k.split("_")[2] in ("mask", "pose")), None)
        for variant, row in m.items():
            if variant == "fp32":
                continue

            def drop(key: str, row: dict[str, float] = row, ref: dict[str, float] = ref) -> float:
                return (ref[key] - row[key]) * 100

            def d(key: str | None, row: dict[str, float] = row) -> str:
                return f"{drop(key, row):.2f}" if key and key in row else "—"

            gated = gate.drop_points(as_gate(ref), as_gate(row))
            cpu = f"{row['quantize_cpu_s']:.0f}" if "quantize_cpu_s" in row else ""
            lines.append(f"| {name} | {variant} | {d('box_map50_95')} | {d(second)} | "
                         f"{d('gate_agree_box_map50_95')} | {d(gate_second)} | **{gated:.2f}** | "
                         f"{'yes' if gated <= limit else 'no'} | {d('agree25_map50_95')} | {d('agree50_map50_95')} | "
                         f"{cpu} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--weights", type=Path, default=None,
                   help="folder of the checkpoints (default: the shared data's weights/); "
                        "bench/repair_seg_dq.py writes a yolo11n-seg-dq.pt with working masks")
    p.add_argument("--pose-unlabelled", action="store_true",
                   help="pose judged like detect (64 coco128 images of the seed-0 half, the other half calibrates): "
                        "more persons than coco8-pose's 21, agreement only (coco128 has no keypoint labels)")
    p.add_argument("--seed", type=int, default=0, help="seed of the coco128 halves (detect, segment, --pose-unlabelled)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import nncf

    nncf.set_log_level(logging.ERROR)
    os.environ["YOLO_VERBOSE"] = "False"
    data = shared_data()
    work = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    results: dict[str, Any] = {}
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.models.split(","):
            results[name] = run_model(name, data, work, args.imgsz, args.variants.split(","), args.weights,
                                      args.pose_unlabelled, args.seed)
            (args.out / "gate_bench.json").write_text(json.dumps(results, indent=2))
            print(table({name: results[name]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(results) + f"\n\nimgsz {args.imgsz}, CPU. Variants: " + "; ".join(
        f"{k}: {v}" for k, v in VARIANTS.items()) + "\n"
    (args.out / "gate_bench.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
