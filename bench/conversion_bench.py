"""Accuracy and speed of yolo-edge-convert's precisions on coco128, with 2-fold cross-validation.

coco128 is split in two halves (fixed seed). Each INT8 model is calibrated on one half and
validated (Ultralytics ``val``, real labels) on the other, and the other way round; the drop is
the mean over both folds, so every image is judged by a model that never calibrated on it. Speed
is FP32, FP16 and both INT8 recipes side by side in one run, alternating in rounds.

    YOLO_EDGE_TEST_DATA=../shared/data nice -n 5 python bench/conversion_bench.py --out bench/results

Segment labels come from coco128's COCO json (polygons, via Ultralytics' ``convert_coco``);
pose labels from coco8-pose (8 images, calibration excludes them: they are coco128 images too).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion import calibration, dataset, export, gate, quantize, speed
from conversion.progress import Progress
from conversion.source import load_source

logger = logging.getLogger("conversion_bench")


def shared_data() -> Path:
    return Path(os.environ.get("YOLO_EDGE_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def seg_labels(data: Path, work: Path) -> Path:
    """coco128 images (linked) with YOLO polygon labels converted from its COCO json."""
    from ultralytics.data.converter import convert_coco

    out = work / "coco128-seg"
    convert_coco(str(data / "coco128" / "annotations"), str(out), use_segments=True, cls91to80=True)
    images = out / "images" / "train2017"
    images.mkdir(parents=True, exist_ok=True)
    for jpg in sorted((data / "coco128" / "images" / "train2017").glob("*.jpg")):
        os.symlink(jpg, images / jpg.name)
    return images


def pose_set(data: Path, work: Path) -> Path:
    out = work / "coco8-pose"
    shutil.copytree(data / "coco8-pose", out)
    return out / "images"


def fold_split(images: tuple[Path, ...], seeds: tuple[int, ...] = (0,)) -> list[dataset.Split]:
    """Two complementary halves per seed."""
    folds = []
    for seed in seeds:
        half = dataset.split(images, 0.5, seed=seed)
        folds += [half, dataset.Split(calibration=half.holdout, holdout=half.calibration)]
    return folds


def run_model(name: str, weights: Path, task_images: Path, calib_pool: Path, recipes: list[str], work: Path,
              imgsz: int, fp16: bool, bench_seconds: float, exclude: set[str] | None = None,
              seeds: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """Both folds for one checkpoint; returns metrics per precision and speed."""
    import openvino as ov

    core = ov.Core()
    progress = Progress(quiet=True)
    source = load_source(str(weights))
    mwork = work / name
    mwork.mkdir()
    fp32_folder = export.export_fp32(source, mwork, (imgsz, imgsz), False)
    meta = export.read_metadata(fp32_folder)
    fp32_model = core.read_model(export.ir_file(fp32_folder))
    stem = export.ir_file(fp32_folder).stem
    labelled = sorted(dataset.collect(task_images, mwork, source.task, source.kpt_shape).images)
    pool = sorted(dataset.collect(calib_pool, mwork, source.task, source.kpt_shape).images)
    if exclude:
        pool = [p for p in pool if p.stem not in exclude]
    folds = fold_split(tuple(pool), seeds)
    variants: dict[str, list[dict[str, float]]] = {}
    models: dict[str, Any] = {"fp32": fp32_model}
    for k, fold in enumerate(folds):
        hold = [p for p in labelled if p.stem in {q.stem for q in fold.holdout}] if task_images != calib_pool else list(fold.holdout)
        if not hold:
            hold = labelled  # pose: the labelled images are outside the pool
        hs = gate.HoldoutSet(hold, mwork / f"fold{k}", source.names, source.kpt_shape)

        def val(folder: Path, hs: gate.HoldoutSet = hs) -> gate.Accuracy:
            return gate.validate_labelled(folder, hs, source.task, (imgsz, imgsz), "CPU", True)

        variants.setdefault("fp32", []).append(val(fp32_folder).metrics)
        if fp16:
            f16 = mwork / f"fp16_{k}_openvino_model"
            export.save_ir(fp32_model, meta, f16, stem, "fp16")
            variants.setdefault("fp16", []).append(val(f16).metrics)
            models["fp16"] = core.read_model(export.ir_file(f16))
        for r in recipes:
            calib = calibration.nncf_dataset(fold.calibration, (imgsz, imgsz), source.stride, progress)
            q = quantize.quantize(fp32_model, calib, len(fold.calibration), quantize.RECIPES[r], "CPU")
            folder = mwork / f"int8_{r}_{k}_openvino_model"
            export.save_ir(q, meta, folder, stem, "int8")
            variants.setdefault(f"int8 {r}", []).append(val(folder).metrics)
            models[f"int8 {r}"] = core.read_model(export.ir_file(folder))
            logger.warning("%s fold %d %s: %s (fp32 %s)", name, k, r, variants[f"int8 {r}"][-1], variants["fp32"][-1])
    tensor = calibration.to_input(calibration.read_bgr(pool[0]), (imgsz, imgsz), source.stride)[0]
    speeds = speed.benchmark(models, "CPU", tensor, bench_seconds, rounds=5, core=core) if bench_seconds else {}
    return {"task": source.task, "folds": len(folds), "calibration_images": [len(f.calibration) for f in folds],
            "holdout_images": [len(hold)], "metrics": variants, "speed": {k: vars(v) for k, v in speeds.items()}}


def table(results: dict[str, Any]) -> str:
    lines = [("| model | precision | metric | mAP50-95 (mean of folds) | drop vs FP32 (points) | per-fold drops | "
              "throughput img/s | × FP32 | latency ms |"), "|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        fp32 = res["metrics"]["fp32"]
        sp = res["speed"]
        for variant, folds in res["metrics"].items():
            for key in [k for k in folds[0] if k.endswith("map50_95")]:
                mean = sum(f[key] for f in folds) / len(folds)
                drops = [(a[key] - b[key]) * 100 for a, b in zip(fp32, folds)]
                s = sp.get(variant)
                ratio = s["throughput_fps"] / sp["fp32"]["throughput_fps"] if s else None
                lines.append(
                    f"| {name} | {variant} | {key.split('_')[0]} | {mean * 100:.2f} | {sum(drops) / len(drops):.2f} | "
                    f"{', '.join(f'{d:.2f}' for d in drops)} | {s['throughput_fps']:.2f} | {ratio:.2f} | "
                    f"{s['latency_ms']:.1f} |" if s else
                    f"| {name} | {variant} | {key.split('_')[0]} | {mean * 100:.2f} | {sum(drops) / len(drops):.2f} | "
                    f"{', '.join(f'{d:.2f}' for d in drops)} | | | |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("bench/results"))
    p.add_argument("--models", default="yolov8n,yolo11n-seg,yolo11n-pose")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--bench-seconds", type=float, default=40.0)
    p.add_argument("--seeds", default="0", help="split seeds; each gives two complementary folds")
    p.add_argument("--no-fp16", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import nncf

    nncf.set_log_level(logging.ERROR)
    data = shared_data()
    seeds = tuple(int(x) for x in args.seeds.split(","))
    work = Path(tempfile.mkdtemp(prefix="conversion-bench-"))
    coco = data / "coco128" / "images" / "train2017"
    results: dict[str, Any] = {}
    try:
        for name in args.models.split(","):
            if name == "yolov8n":
                results[name] = run_model(name, data / "weights" / "yolov8n-dq.pt", coco, coco,
                                          ["ultralytics", "yolo-edge"], work, args.imgsz, not args.no_fp16,
                                          args.bench_seconds, seeds=seeds)
            elif name == "yolo11n-seg":
                results[name] = run_model(name, data / "weights" / "yolo11n-seg-dq.pt", seg_labels(data, work), coco,
                                          ["ultralytics", "yolo-edge"], work, args.imgsz, False, args.bench_seconds)
            elif name == "yolo11n-pose":
                pose = pose_set(data, work)
                exclude = {p.stem for p in pose.rglob("*.jpg")}
                results[name] = run_model(name, data / "weights" / "yolo11n-pose.pt", pose, coco,
                                          ["ultralytics", "yolo-edge"], work, args.imgsz, False, args.bench_seconds,
                                          exclude=exclude)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "conversion_bench.json").write_text(json.dumps(results, indent=2))
            print(table({name: results[name]}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import openvino as ov

    text = table(results) + f"\n\nOpenVINO {ov.get_version()}, CPU, imgsz {args.imgsz}, batch 1.\n"
    (args.out / "conversion_bench.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
