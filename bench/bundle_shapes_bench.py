"""Which bundle serves a 16:9 shape faster on CPU: one dynamic-shape IR reshaped to 384x640 and compiled
static (what the daemon does with ``models.shapes: minimal`` and a ``--shapes`` bundle), or an IR
exported static at 384x640; and what one more compiled shape costs in RSS.

    python bench/bundle_shapes_bench.py --dynamic DYN_IR --static STATIC_384x640_IR [--rounds 6] [--json out.json]

Both IRs are Ultralytics exports of the same weights (``yolo export format=openvino dynamic=True`` and
``imgsz=384,640``). Each is compiled as the daemon compiles (pre-processing in the graph, f32 on CPU),
with the LATENCY hint (batch-1 latency) and the THROUGHPUT hint (async queue, the optimal number of
requests). The variants run in alternating rounds, so that other load on a shared machine hits all of
them alike; the table gives medians over the rounds and the process CPU time per inference (steadier
than wall time under contention). RSS: the process's VmRSS before and after compiling one more shape
(a THROUGHPUT and a LATENCY compilation, as ``InferPool`` holds) and one inference on each, after a first
compilation (of another shape) has loaded the plugin.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.figures_out import print_and_write  # noqa: E402

SHAPE = (384, 640)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def compile_pair(core: Any, xml: Path, shape: tuple[int, int] | None) -> dict[str, Any]:
    """THROUGHPUT and LATENCY compilations of ``xml`` (reshaped to ``shape`` unless None)."""
    from edge.inference.compile_options import compile_properties
    from edge.inference.engine import embed_preprocessing

    out = {}
    for hint in ("THROUGHPUT", "LATENCY"):
        model = core.read_model(xml)
        if shape is not None:
            model.reshape([1, 3, *shape])
        out[hint] = core.compile_model(embed_preprocessing(model), "CPU", compile_properties("CPU", hint))
    return out


def one_round(compiled: dict[str, Any], tensor: np.ndarray, seconds: float) -> dict[str, float]:
    import openvino as ov

    request = compiled["LATENCY"].create_infer_request()
    request.infer({0: tensor})
    times, cpu0, t0 = [], os.times(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        request.infer({0: tensor})
        times.append((time.perf_counter() - s) * 1000)
    cpu1 = os.times()
    latency_cpu = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / len(times)
    nireq = int(compiled["THROUGHPUT"].get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    queue = ov.AsyncInferQueue(compiled["THROUGHPUT"], nireq)
    for _ in range(nireq):
        queue.start_async({0: tensor})
    queue.wait_all()
    count, cpu0, t0 = 0, os.times(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        queue.start_async({0: tensor})
        count += 1
    queue.wait_all()
    elapsed, cpu1 = time.perf_counter() - t0, os.times()
    return {"latency_p50_ms": statistics.median(times), "latency_cpu_ms": latency_cpu,
            "throughput_fps": count / elapsed,
            "throughput_cpu_ms": ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / count}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Dynamic IR reshaped per shape vs a static IR of that shape, on CPU.")
    p.add_argument("--dynamic", type=Path, required=True, help="an IR folder exported with dynamic shapes")
    p.add_argument("--static", type=Path, required=True, help="an IR folder exported static at 384x640")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--seconds", type=float, default=3.0, help="per round, per hint, per variant")
    p.add_argument("--json", type=Path, default=Path("bundle_shapes_bench.json"))
    args = p.parse_args(argv)
    import openvino as ov

    from edge.inference.repository import read_model_folder

    core = ov.Core()
    xml = {name: read_model_folder(folder, "m").xml for name, folder in
           (("dynamic IR reshaped to 384x640", args.dynamic), ("static IR exported at 384x640", args.static))}
    tensor = np.full((1, *SHAPE, 3), 114, np.uint8)
    tensor[0, 40:340, 100:540] = np.random.default_rng(0).integers(0, 255, (300, 440, 3), np.uint8)
    memory: dict[str, float] = {}
    compiled = {}
    # The first compilation also loads the CPU plugin and its kernels: done once, outside the RSS figures.
    for c in compile_pair(core, xml["dynamic IR reshaped to 384x640"], (320, 320)).values():
        c.create_infer_request().infer({0: np.full((1, 320, 320, 3), 114, np.uint8)})
    for name, path in xml.items():
        before = rss_mb()
        compiled[name] = compile_pair(core, path, SHAPE if "reshaped" in name else None)
        for c in compiled[name].values():
            c.create_infer_request().infer({0: tensor})
        memory[name] = round(rss_mb() - before, 1)
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in compiled}
    load_before = os.getloadavg()
    for i in range(args.rounds):
        for name in (list(compiled) if i % 2 == 0 else list(compiled)[::-1]):
            rounds[name].append(one_round(compiled[name], tensor, args.seconds))
    summary = {name: {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
               for name, runs in rounds.items()}
    for name in summary:
        summary[name]["rss_mb_for_this_shape"] = memory[name]
    names = list(summary)
    head = f"{'':34}{'p50 ms':>9}{'CPU ms':>9}{'inf/s':>9}{'CPU ms':>9}{'RSS MB':>9}"
    rows = [f"{'':34}{'LATENCY (batch 1)':>18}{'THROUGHPUT':>18}", head, "-" * len(head)]
    for name, s in summary.items():
        rows.append(f"{name:34}{s['latency_p50_ms']:9.2f}{s['latency_cpu_ms']:9.2f}{s['throughput_fps']:9.1f}"
                    f"{s['throughput_cpu_ms']:9.2f}{s['rss_mb_for_this_shape']:9.1f}")
    a, b = (summary[n] for n in names)
    ratios = {"throughput reshaped/static": round(a["throughput_fps"] / b["throughput_fps"], 3),
              "latency p50 reshaped/static": round(a["latency_p50_ms"] / b["latency_p50_ms"], 3),
              "cpu per inference (throughput) reshaped/static": round(a["throughput_cpu_ms"] / b["throughput_cpu_ms"], 3)}
    result = {"setup": {"dynamic": str(args.dynamic), "static": str(args.static), "shape": list(SHAPE),
                        "rounds": args.rounds, "seconds": args.seconds, "openvino": ov.get_version(),
                        "cpus": len(os.sched_getaffinity(0)), "load_before": load_before,
                        "load_after": os.getloadavg()},
              "variants": summary, "rounds": rounds, "ratios": ratios}
    print_and_write("\n".join(rows), result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
