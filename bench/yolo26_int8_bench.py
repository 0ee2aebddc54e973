"""YOLO26 INT8 per task through ``yolo-edge-convert`` itself: gate figure, conversion time, speed.

Every YOLO26 task (detect, segment, pose, OBB with the NMS-free head; classify; semantic; depth) is
built from its yaml with seeded, spread weights (no pretrained YOLO26 file is available offline),
converted to INT8 on a plain folder of coco128 frames with default options (but ``--max-drop 100``, so
every figure is written, and no accuracy control) and its report read back. Besides the tool's gate
figure it prints the relative error of the INT8 raw output against FP32 on the held-out frames for the
dense tasks and classify, whose outputs are aligned element by element.

Random weights are a weak signal for box tasks: their boxes are near-degenerate, so box agreement there
mostly says the pipeline runs. Semantic mIoU of a random model is low because its logits nearly tie.

    YOLO_EDGE_TEST_DATA=../shared/data nice -n 5 python bench/yolo26_int8_bench.py --imgsz 160 --frames 32
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

TASKS = [  # (name, yaml, --end2end)
    ("detect", "yolo26n.yaml", True), ("detect-nms", "yolo26n.yaml", False), ("segment", "yolo26n-seg.yaml", True), ("pose", "yolo26n-pose.yaml", True),
    ("obb", "yolo26n-obb.yaml", True), ("classify", "yolo26n-cls.yaml", False),
    ("semantic", "yolo26n-sem.yaml", False), ("depth", "yolo26n-depth.yaml", False),
]


def shared_data() -> Path:
    return Path(os.environ.get("YOLO_EDGE_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def raw_error(fp32_xml: Path, int8_xml: Path, frames: list[Path], imgsz: int, task: str) -> float:
    """Mean over frames of ||int8 - fp32|| / ||fp32|| on the first output (semantic: share of pixels differing)."""
    import openvino as ov

    from conversion.calibration import model_input, read_bgr

    core = ov.Core()
    a, b = (core.compile_model(core.read_model(x), "CPU") for x in (fp32_xml, int8_xml))
    errs = []
    for frame in frames:
        tensor = model_input(read_bgr(frame), (imgsz, imgsz), 32, task)
        x, y = (np.asarray(m(tensor)[m.output(0)], np.float64) for m in (a, b))
        errs.append(float((x != y).mean()) if task == "semantic" else float(np.linalg.norm(y - x) / max(np.linalg.norm(x), 1e-12)))
    return float(np.mean(errs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--tasks", nargs="*", default=[t[0] for t in TASKS])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from conversion.cli import main as convert
    from tests.support.conversion import yaml_checkpoint

    work = Path(tempfile.mkdtemp(prefix="yolo26-bench-"))
    frames_dir = work / "frames"
    frames_dir.mkdir()
    for jpg in sorted((shared_data() / "coco128" / "images" / "train2017").glob("*.jpg"))[:args.frames]:
        shutil.copyfile(jpg, frames_dir / jpg.name)
    rows: list[dict] = []
    try:
        for name, cfg, e2e in TASKS:
            if name not in args.tasks:
                continue
            (work / name).mkdir()
            ckpt = yaml_checkpoint(work / name, cfg, seed=0, spread=True)
            imgsz = str(min(args.imgsz, 224) if name == "classify" else args.imgsz)
            started = time.perf_counter()
            code = convert([str(ckpt), "--precision", "int8", "--data", str(frames_dir), "--out", str(work / "m"),
                            "--id", name, "--imgsz", imgsz, "--max-drop", "100", "--no-accuracy-control",
                            "--bench-seconds", "5", "--force", "--quiet", *(["--end2end"] if e2e else [])])
            seconds = time.perf_counter() - started
            report = json.loads((work / "m" / name / "report.json").read_text()) if code == 0 else {}
            acc, spd = report.get("accuracy") or {}, report.get("speed") or {}
            row = {"task": name, "end2end": e2e, "exit": code, "seconds": round(seconds, 1),
                   "fp32": acc.get("fp32"), "int8": acc.get("result"), "drop_points": acc.get("drop_points"),
                   "throughput_ratio": spd.get("throughput_ratio")}
            if code == 0 and name in ("classify", "semantic", "depth"):
                fp32 = fp32_export(ckpt, int(imgsz))
                holdout = sorted(frames_dir.glob("*.jpg"))[-8:]
                row["raw_output_error"] = raw_error(fp32, next((work / "m" / name).glob("*.xml")), holdout, int(imgsz), name)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def fp32_export(ckpt: Path, imgsz: int) -> Path:
    """The FP32 IR of ``ckpt`` (Ultralytics' export, written beside it), for the raw-output comparison."""
    from ultralytics import YOLO

    folder = Path(YOLO(str(ckpt)).export(format="openvino", imgsz=imgsz, device="cpu", verbose=False))
    return next(folder.glob("*.xml"))


if __name__ == "__main__":
    main()
