"""A new user's INT8 conversion (a plain folder of frames, default options) judged on labelled images
that no step of the conversion saw.

coco128 is split in two halves (seed 0). For each fold, one half is copied into a plain folder with
no labels and converted by ``conversion.pipeline.run`` exactly as ``yolo-edge-convert SOURCE
--precision int8 --data frames/ --out m/`` does; the bundle and the FP32 export are then validated
with Ultralytics' ``val`` on the other half's labels. Speed is the bundle's own report (FP32 and
INT8 side by side in one run). Wall and CPU time (user+sys, all threads) of each conversion are
printed with the load average, since the machine is shared.

    YOLO_EDGE_TEST_DATA=../shared/data python bench/plain_folder_bench.py [--opt holdout=0.1 ...]
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
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conversion_bench import shared_data
from convert_timing import _cpu, _value

from conversion import dataset, export, gate, pipeline
from conversion.options import Options
from conversion.source import load_source

logger = logging.getLogger("plain_folder_bench")


def fold_folders(coco: Path, work: Path) -> list[tuple[Path, list[Path]]]:
    """(plain frames folder, labelled held-out images) for both halves of coco128."""
    half = dataset.split(tuple(sorted(coco.glob("*.jpg"))), 0.5, seed=0)
    folds = []
    for k, (frames, held) in enumerate(((half.calibration, half.holdout), (half.holdout, half.calibration))):
        folder = work / f"frames{k}"
        folder.mkdir()
        for p in frames:
            shutil.copyfile(p, folder / p.name)  # a copy: no labels folder next to it
        folds.append((folder, sorted(held)))
    return folds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="yolov8n-dq,yolo11n-dq")
    p.add_argument("--folds", default="0,1")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help="an Options field to change")
    p.add_argument("--json", type=Path, default=Path("bench/results/plain_folder_bench.jsonl"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.environ["YOLO_VERBOSE"] = "False"
    import nncf

    nncf.set_log_level(logging.ERROR)
    changes = {k: _value(v) for k, v in (o.split("=", 1) for o in args.opt)}
    data = shared_data()
    coco = data / "coco128" / "images" / "train2017"
    work = Path(tempfile.mkdtemp(prefix="plain-folder-bench-"))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        folds = fold_folders(coco, work)
        for name in args.models.split(","):
            weights = data / "weights" / f"{name}.pt"
            source = load_source(str(weights))
            fp32 = export.export_fp32(source, work / name, (640, 640), False)
            for k in (int(x) for x in args.folds.split(",")):
                frames, held = folds[k]
                hs = gate.HoldoutSet(held, work / f"{name}-held{k}", source.names, None)
                out = work / f"{name}-out{k}"
                opts = Options(source=str(weights), precision="int8", out=out, data=str(frames), quiet=True, **changes)
                load0 = os.getloadavg()
                w0, c0 = time.perf_counter(), _cpu()
                try:
                    bundle, error = pipeline.run(opts), None
                except Exception as exc:  # noqa: BLE001 - a refused conversion is a result too
                    bundle, error = None, f"{type(exc).__name__}: {str(exc)[:300]}"
                wall, cpu = time.perf_counter() - w0, _cpu() - c0
                load1 = os.getloadavg()
                if bundle is None:  # measure what --force would have written
                    bundle = pipeline.run(Options(**{**vars(opts), "force": True, "accuracy_control": False,
                                                     "bench_seconds": 12.0}))
                report = json.loads((bundle / "report.json").read_text())
                named = shutil.copytree(bundle, work / f"{name}-int8-{k}_openvino_model")  # Ultralytics knows IR
                ref = gate.validate_labelled(fp32, hs, "detect", (640, 640), "CPU", True).metrics  # folders by name
                res = gate.validate_labelled(named, hs, "detect", (640, 640), "CPU", True).metrics
                row = {"model": name, "fold": k, "options": changes, "error": error, "wall": wall, "cpu": cpu,
                       "load": [load0[0], load1[0]], "gate": report.get("accuracy"),
                       "attempts": (report.get("quantization") or {}).get("attempts"),
                       "calibration": report["data"]["calibration"],
                       "fp32_map": ref["box_map50_95"], "int8_map": res["box_map50_95"],
                       "drop": (ref["box_map50_95"] - res["box_map50_95"]) * 100,
                       "drop50": (ref["box_map50"] - res["box_map50"]) * 100,
                       "throughput_ratio": (report.get("speed") or {}).get("throughput_ratio")}
                rows.append(row)
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                g = row["gate"] or {}
                print(f"| {name} | {k} | {changes or 'defaults'} | {row['calibration']} | "
                      f"{'refused' if error else 'ok'} ({g.get('mode')} drop {g.get('drop_points', float('nan')):.2f}) | "
                      f"{row['fp32_map'] * 100:.2f} → {row['int8_map'] * 100:.2f} | **{row['drop']:.2f}** | "
                      f"{row['drop50']:.2f} | ×{row['throughput_ratio'] or float('nan'):.2f} | {wall:.0f} | {cpu:.0f} | "
                      f"{load0[0]:.1f}–{load1[0]:.1f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
