"""Where the time of one default conversion goes: wall and CPU time (user+sys, all threads) per step.

A new user's path: a plain folder of frames (no labels), every option at its default.

    YOLO_OFFLINE=1 python bench/convert_timing.py yolov8n-dq.pt --data frames/ [--precision int8] [--opt k=v ...]

The steps are the pipeline's own functions, wrapped with timers; the total is the whole ``run``
(load, export, calibration+quantization, gate, speed, writing). The machine's load average is
printed before and after: on a shared machine wall time alone says little, CPU time says what the
conversion itself spent.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion import data_split, pipeline
from conversion.holdout_gate import HoldoutGate
from conversion.options import Options

STEPS: list[tuple[str, float, float]] = []


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        w0, c0 = time.perf_counter(), _cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            STEPS.append((label, time.perf_counter() - w0, _cpu() - c0))
    return wrapper


def instrument() -> None:
    """Wrap the pipeline's steps (module attributes, so ``_convert`` calls the wrapped ones)."""
    data_split.collect = _timed("read data + split", data_split.collect)
    pipeline._export_fp32 = _timed("export FP32 (Ultralytics)", pipeline._export_fp32)
    pipeline._quantize = _timed("calibrate + quantize (NNCF)", pipeline._quantize)
    HoldoutGate.__init__ = _timed("gate: FP32 reference", HoldoutGate.__init__)
    HoldoutGate.measure = _timed("gate: candidate", HoldoutGate.measure)
    HoldoutGate.recover = _timed("accuracy control (whole)", HoldoutGate.recover)
    pipeline._measure_speed = _timed("speed measurement", pipeline._measure_speed)
    pipeline._write_bundle = _timed("write bundle", pipeline._write_bundle)


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source")
    p.add_argument("--data", required=True)
    p.add_argument("--precision", default="int8")
    p.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE", help="an Options field to change")
    p.add_argument("--json", type=Path, help="append the figures to this JSON-lines file")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    import nncf

    nncf.set_log_level(logging.WARNING)
    instrument()
    changes = {k: _value(v) for k, v in (o.split("=", 1) for o in args.opt)}
    out = Path(tempfile.mkdtemp(prefix="convert-timing-"))
    opts = Options(source=args.source, precision=args.precision, out=out, data=args.data, quiet=True, **changes)
    load0 = os.getloadavg()
    w0, c0 = time.perf_counter(), _cpu()
    error = None
    try:
        bundle = pipeline.run(opts)
        report = json.loads((bundle / "report.json").read_text())
    except Exception as exc:  # noqa: BLE001 - a refused conversion is a result too
        error, report = f"{type(exc).__name__}: {exc}", {}
    wall, cpu = time.perf_counter() - w0, _cpu() - c0
    load1 = os.getloadavg()
    print(f"\n{Path(args.source).name} {args.precision} on {args.data} {changes or 'defaults'}")
    print("| step | wall s | CPU s (user+sys) |\n|---|---|---|")
    for label, w, c in STEPS:
        print(f"| {label} | {w:.1f} | {c:.1f} |")
    print(f"| **total** | **{wall:.1f}** | **{cpu:.1f}** |")
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {os.cpu_count()} CPUs")
    acc = report.get("accuracy") or {}
    sp = report.get("speed") or {}
    print(f"result: {error or 'ok'}; gate {acc.get('mode')} drop {acc.get('drop_points')} "
          f"throughput ×{sp.get('throughput_ratio')}")
    if args.json:
        with args.json.open("a") as f:
            f.write(json.dumps({"source": args.source, "options": changes, "steps": STEPS, "wall": wall, "cpu": cpu,
                                "load_before": load0, "load_after": load1, "error": error,
                                "accuracy": acc, "speed": sp}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
