"""What f32 costs on this CPU, and what running an INT8 dynamic export static per shape costs, side by
side in one run (docs/benchmark.md, "Precision and shapes").

    python bench/precision_bench.py [--data ../shared/data] [--rounds 20]

1. f32 vs the CPU's default inference precision (bf16 on CPUs with AMX or AVX512-BF16, f32 elsewhere):
   batch-1 LATENCY inference of the same graph (pre-processing inside), yolov8n INT8 and an FP32 IR
   of yolov8n-dq.pt made here, alternating rounds. Also the largest box and confidence change.
2. yolo11n-seg INT8 (a dynamic export): one dynamic compilation vs one static compilation at the
   image's shape, alternating rounds; and the time to compile one new static shape.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from edge.inference.compile_options import compile_properties  # noqa: E402
from edge.inference.engine import embed_preprocessing  # noqa: E402
from edge.inference.letterbox import letterbox  # noqa: E402

CORE = ov.Core()


def compiled(xml: Path, properties: dict[str, str], shape: tuple[int, int] | None = None) -> ov.CompiledModel:
    model = CORE.read_model(xml)
    if shape is not None:
        model.reshape([1, 3, *shape])
    return CORE.compile_model(embed_preprocessing(model), "CPU", properties)


def side_by_side(models: dict[str, ov.CompiledModel], tensor: np.ndarray, rounds: int) -> dict[str, float]:
    """Median ms per inference of each model, rounds alternating between them."""
    requests = {k: m.create_infer_request() for k, m in models.items()}
    for r in requests.values():
        r.infer({0: tensor})
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(rounds):
        for k, r in requests.items():
            t = time.perf_counter()
            r.infer({0: tensor})
            times[k].append((time.perf_counter() - t) * 1000)
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def fp32_ir(data: Path, work: Path) -> Path:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    pt = work / "yolov8n-dq.pt"
    pt.write_bytes((data / "weights" / "yolov8n-dq.pt").read_bytes())
    return Path(YOLO(str(pt)).export(format="openvino", imgsz=640, half=False, device="cpu", verbose=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("YOLO_EDGE_TEST_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    image = cv2.imread(str(args.data / "coco128" / "images" / "train2017" / "000000000009.jpg"))
    default = str(CORE.get_property("CPU", "INFERENCE_PRECISION_HINT"))
    out: dict[str, object] = {"cpu": CORE.get_property("CPU", "FULL_DEVICE_NAME"), "default_precision": default,
                              "openvino": ov.get_version()}
    with tempfile.TemporaryDirectory() as tmp:
        irs = {"yolov8n-int8": next((args.data / "models" / "yolov8n_int8_openvino_model").glob("*.xml")),
               "yolov8n-fp32": next(fp32_ir(args.data, Path(tmp)).glob("*.xml"))}
        tensor = np.ascontiguousarray(letterbox(image, (640, 640))[0][None])
        for name, xml in irs.items():
            f32 = compiled(xml, compile_properties("CPU", "LATENCY"))
            dflt = compiled(xml, {"PERFORMANCE_HINT": "LATENCY"})
            ms = side_by_side({"f32": f32, "default": dflt}, tensor, args.rounds)
            a, b = f32(tensor)[0], dflt(tensor)[0]
            out[name] = {"f32_ms": ms["f32"], "default_ms": ms["default"], "f32_over_default": round(ms["f32"] / ms["default"], 3),
                         "max_box_change_px": round(float(np.abs(a[:, :4] - b[:, :4]).max()), 3),
                         "max_conf_change": round(float(np.abs(a[:, 4:] - b[:, 4:]).max()), 4)}
        seg = next((args.data / "models" / "yolo11n-seg_int8_openvino_model").glob("*.xml"))
        for shape in ((640, 640), (480, 640)):
            tensor = np.ascontiguousarray(letterbox(image, shape)[0][None])
            t = time.perf_counter()
            static = compiled(seg, compile_properties("CPU", "LATENCY"), shape)
            compile_s = time.perf_counter() - t
            ms = side_by_side({"dynamic": compiled(seg, compile_properties("CPU", "LATENCY")), "static": static},
                              tensor, args.rounds)
            out[f"yolo11n-seg-int8 {shape[0]}x{shape[1]}"] = {
                "dynamic_ms": ms["dynamic"], "static_ms": ms["static"],
                "static_over_dynamic": round(ms["static"] / ms["dynamic"], 3), "static_compile_s": round(compile_s, 2)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
