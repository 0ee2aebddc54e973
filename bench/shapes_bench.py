"""Square vs shape-aware serving on 16:9 frames, one run.

    python bench/shapes_bench.py --model DYNAMIC_DIR [--static STATIC_DIR] [--duration 10] [--json out.json]

The 1280x720 JPEGs are coco128 images centre-cropped to 16:9 (``tests/support/wide_images.py``). The
same daemon (``yolo-edge serve``) serves the same dynamic-shape export twice: ``models.shapes: square``
(640x640, 40 % of it grey padding) and ``models.shapes: minimal`` (384x640, as Ultralytics' PyTorch
predictor pads); with ``--static`` also a static export of the same weights (what a default
``yolo export`` gives, square only). Before measuring, the minimal daemon has compiled the 16:9 shape
(``compiled_shapes`` of ``GET /v1/models``). ``wrk`` drives each server in turn at each concurrency
(``serving_bench.drive``); the table shows req/s, latency and CPU per request, and the ratio of the
best minimal throughput over the best square one, and of the server CPU time per request (square over
minimal: the least CPU per request of each, less moved by other load on a shared machine than req/s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.serving_bench import DEFAULT_COCO, MODEL_ID, best, drive, write_bodies  # noqa: E402
from tests.support.daemon import Daemon, free_port, link_models, write_config  # noqa: E402
from bench import cpu_isa  # noqa: E402
from bench.figures_out import print_and_write  # noqa: E402
from tests.support.wide_images import wide_jpegs  # noqa: E402


def start(work: Path, name: str, model_dir: Path, shapes: str) -> Daemon:
    folder = work / name
    folder.mkdir()
    port = free_port()
    config = write_config(folder, link_models(folder, {MODEL_ID: model_dir}), port,
                          {"server": {"max_pending": 64}, "models": {"shapes": shapes}, "auth": {"enabled": False}})
    return Daemon(config, port, folder / "daemon.log")


def compiled_shapes(server: Daemon) -> list[list[int]]:
    (model,) = requests.get(f"{server.base_url}/v1/models", timeout=10).json()["data"]
    return list(model.get("compiled_shapes") or [])


def wait_compiled(server: Daemon, image: Path, shape: list[int], timeout: float = 120) -> None:
    """One request starts the compile of ``shape``; wait until the daemon lists it as compiled."""
    with open(image, "rb") as f:
        requests.post(f"{server.base_url}/v1/predict/{MODEL_ID}", files={"image": f}, timeout=60).raise_for_status()
    deadline = time.monotonic() + timeout
    while shape not in compiled_shapes(server):
        if time.monotonic() > deadline:
            raise SystemExit(f"{shape} never compiled:\n{server.tail()}")
        time.sleep(0.1)


def table(result: dict[str, Any]) -> str:
    head = f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'RSS MB':>9}{'errors':>8}"
    rows = [head, "-" * len(head)]
    for name, server in result["servers"].items():
        for r in server["runs"]:
            rows.append(f"{name + ' c=' + str(r['concurrency']):24}{r['throughput_rps']:9.1f}{r['p50_ms']:9.2f}"
                        f"{r['p99_ms']:9.2f}{r['cpu_ms_per_request']:12.2f}{server['rss_mb']:9.1f}{r['errors']:8d}")
    rows.append("")
    rows += [f"{k}: {v}" for k, v in result["ratios"].items()]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Square vs minimal (shape-aware) serving on 1280x720 frames.")
    p.add_argument("--model", type=Path, required=True, help="an OpenVINO export with dynamic shapes")
    p.add_argument("--static", type=Path, help="a static export of the same weights, served square (optional)")
    p.add_argument("--coco", type=Path, default=DEFAULT_COCO, help="folder of coco128 JPEGs")
    p.add_argument("--images", type=int, default=16, help="coco128 images made 1280x720 (default 16)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each server's runs")
    p.add_argument("--concurrency", default="1,2,4", help="comma-separated (default 1,2,4)")
    p.add_argument("--json", type=Path, default=Path("shapes_bench.json"), help="where to write the figures")
    cpu_isa.add_argument(p)
    args = p.parse_args(argv)
    isa = cpu_isa.apply(args.isa)
    if shutil.which("wrk") is None:
        print("wrk is not on PATH (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    concurrency = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="yolo-edge-shapes-") as tmp:
        work = Path(tmp)
        images = wide_jpegs(sorted(args.coco.glob("*.jpg"))[:args.images], work / "wide")
        count = write_bodies(images, work / "bodies", 640)
        servers: dict[str, Daemon] = {}
        try:
            if args.static:
                servers["square (static export)"] = start(work, "static", args.static, "square")
            servers["square"] = start(work, "square", args.model, "square")
            servers["minimal"] = start(work, "minimal", args.model, "minimal")
            wait_compiled(servers["minimal"], images[0], [384, 640])
            print("load: " + ", ".join(servers) + " in turn at each concurrency...", file=sys.stderr)
            loads = drive(dict(servers), concurrency, args.duration, args.warmup, work / "bodies", count)
        finally:
            for server in servers.values():
                server.stop()
    top = {name: best(load["runs"])["throughput_rps"] for name, load in loads.items()}
    # The server's own CPU time per request: less moved by other load on the machine than req/s.
    cpu = {name: min(r["cpu_ms_per_request"] for r in load["runs"]) for name, load in loads.items()}
    ratios = {"minimal_over_square": round(top["minimal"] / top["square"], 3),
              "cpu_per_request_square_over_minimal": round(cpu["square"] / cpu["minimal"], 3)}
    if args.static:
        ratios["minimal_over_static_square"] = round(top["minimal"] / top["square (static export)"], 3)
        ratios["cpu_per_request_static_square_over_minimal"] = round(cpu["square (static export)"] / cpu["minimal"], 3)
    # The square-padded daemon of the target: the static export when given (on a CPU without AMX the dynamic
    # export under ``models.shapes: square`` pads minimally, as Ultralytics does for a dynamic export).
    target = ratios.get("minimal_over_static_square", ratios["minimal_over_square"])
    ratios["target minimal_over_square>=1.4"] = "yes" if target >= 1.4 else "NO"
    result = {"setup": {"model": str(args.model), "static": str(args.static) if args.static else None,
                        "images": [p.name for p in images], "image_size": "1280x720", "duration_s": args.duration,
                        "concurrency": concurrency, "cpus": len(os.sched_getaffinity(0)),
                        "load_before": os.getloadavg(), "max_cpu_isa": isa},
              "servers": loads, "ratios": ratios}
    print_and_write(table(result), result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
