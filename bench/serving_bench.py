"""Serving benchmark: the engine alone, the yolo-edge daemon and the Ultralytics baseline, one run.

    python bench/serving_bench.py [--model DIR] [--dynamic DIR] [--duration 10] [--json out.json] [--quick]

1. engine alone: the daemon's compiled graph (pre-processing inside) on already-letterboxed u8
   tensors, in this process. Throughput with PERFORMANCE_HINT=THROUGHPUT and its optimal number of
   async requests; batch-1 latency with PERFORMANCE_HINT=LATENCY, one synchronous request
   (what ``benchmark_app -hint throughput`` / ``-hint latency`` measure).
2. the daemon (``yolo-edge serve``) as a subprocess on loopback, started twice (cold compile cache,
   then warm) and driven by ``wrk`` (a separate process) at each concurrency with multipart bodies
   rotating over the same JPEGs.
3. the baseline (``bench/baseline_server.py``: Ultralytics ``YOLO(ir_dir)`` in an aiohttp handler),
   driven the same way.

4. with ``--dynamic`` (a dynamic-shape export of the same weights): 16:9 sets (1280x720 and 1920x1080
   JPEGs) served square vs shape-aware (``models.shapes: minimal``) and by the baseline, a camera
   scenario (N cameras at 720p, frames/s inferred per camera), the engine's batch-1 latency at 384x640
   and the time per stage of lone requests (``bench/serving_wide.py``).

Prints one table and writes the same figures as JSON. CPU time per request is the server process's
utime + stime (``/proc/PID/stat``, all threads) over the run divided by the requests served; RSS is
``VmRSS`` after the last run. Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import cpu_isa  # noqa: E402
from bench.figures_out import print_and_write  # noqa: E402
from tests.support.daemon import Daemon, ServerProcess, free_port, link_models, write_config  # noqa: E402

DEFAULT_MODEL = REPO.parent / "shared" / "data" / "models" / "yolov8n_int8_openvino_model"
DEFAULT_COCO = REPO.parent / "shared" / "data" / "coco128" / "images" / "train2017"
BOUNDARY = "yoloedgebenchboundary7MA4YWxkTrZu0gW"
MODEL_ID = "bench"


# ---------------------------------------------------------------- inputs

def bus_jpg() -> Path:
    """Ultralytics' bus.jpg from the installed package (no import of ultralytics needed)."""
    import importlib.util

    found = importlib.util.find_spec("ultralytics")
    if found is None or found.origin is None:
        raise SystemExit("ultralytics is not installed: bus.jpg comes from its assets")
    return Path(found.origin).parent / "assets" / "bus.jpg"


def pick_images(coco: Path, count: int) -> list[Path]:
    """bus.jpg, then the first ``count - 1`` coco128 images by name."""
    return [bus_jpg()] + sorted(coco.glob("*.jpg"))[: max(count - 1, 0)]


def multipart_body(jpeg: bytes, name: str, size: int) -> bytes:
    fields = [("size", str(size)), ("confidence", "0.25"), ("iou", "0.45")]
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + jpeg + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def write_bodies(images: list[Path], folder: Path, size: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(images):
        (folder / f"body_{i:03d}.bin").write_bytes(multipart_body(path.read_bytes(), path.name, size))
    return len(images)


# ---------------------------------------------------------------- engine alone

def bench_engine(model_dir: Path, images: list[Path], duration: float,
                 shape: tuple[int, int] | None = None) -> dict[str, Any]:
    """Throughput (THROUGHPUT hint, optimal async requests) and batch-1 latency (LATENCY hint), at the
    export's own size, or (a dynamic export) at ``shape`` (h, w) with the images padded minimally into it."""
    import openvino as ov

    from edge.inference.compile_options import compile_properties
    from edge.inference.engine import embed_preprocessing
    from edge.inference.letterbox import letterbox
    from edge.inference.repository import read_model_folder

    spec = read_model_folder(model_dir, model_id=MODEL_ID)
    core = ov.Core()
    tensors = []
    size = shape or (spec.imgsz[0], spec.imgsz[1])
    for path in images:
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"{path}: not a readable image")
        tensor = letterbox(image, (640, 640), spec.stride, minimal=True)[0] if shape else \
            letterbox(image, size, spec.stride)[0]
        if tensor.shape[:2] != size:
            raise SystemExit(f"{path}: pads to {tensor.shape[:2]}, not {size}")
        tensors.append(np.ascontiguousarray(tensor[None]))

    def compiled(hint: str) -> ov.CompiledModel:
        model = core.read_model(spec.xml)
        model.reshape([1, 3, *size])
        return core.compile_model(embed_preprocessing(model), "CPU", compile_properties("CPU", hint))

    # Throughput: keep every request busy for ``duration`` seconds.
    model = compiled("THROUGHPUT")
    nireq = int(model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    streams = int(model.get_property("NUM_STREAMS"))
    queue = ov.AsyncInferQueue(model, nireq)
    for i in range(nireq):  # warm-up
        queue.start_async({0: tensors[i % len(tensors)]})
    queue.wait_all()
    count, cpu0, t0 = 0, os.times(), time.perf_counter()
    while time.perf_counter() - t0 < duration:
        queue.start_async({0: tensors[count % len(tensors)]})
        count += 1
    queue.wait_all()
    elapsed, cpu1 = time.perf_counter() - t0, os.times()
    throughput = count / elapsed
    cpu_ms = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / count
    del queue, model

    # Latency: one synchronous request at a time.
    model = compiled("LATENCY")
    request = model.create_infer_request()
    for i in range(5):
        request.infer({0: tensors[i % len(tensors)]})
    times: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < duration:
        s = time.perf_counter()
        request.infer({0: tensors[len(times) % len(tensors)]})
        times.append((time.perf_counter() - s) * 1000)
    del request, model
    return {"throughput_fps": round(throughput, 2), "nireq": nireq, "streams": streams,
            "cpu_ms_per_inference": round(cpu_ms, 2),
            "latency_p50_ms": round(float(np.percentile(times, 50)), 2),
            "latency_p99_ms": round(float(np.percentile(times, 99)), 2),
            "latency_fps": round(len(times) / (time.perf_counter() - t0), 2)}


def conservative(first: dict[str, Any], last: dict[str, Any]) -> dict[str, Any]:
    """The engine is measured before and after the servers, so that drift in the machine's other load
    shows; the ratios use the better of the two (highest throughput, lowest latency)."""
    out = dict(first)
    out["throughput_fps"] = max(first["throughput_fps"], last["throughput_fps"])
    out["latency_p50_ms"] = min(first["latency_p50_ms"], last["latency_p50_ms"])
    out["latency_p99_ms"] = min(first["latency_p99_ms"], last["latency_p99_ms"])
    out["latency_fps"] = max(first["latency_fps"], last["latency_fps"])
    out["cpu_ms_per_inference"] = min(first["cpu_ms_per_inference"], last["cpu_ms_per_inference"])
    out["runs"] = [first, last]
    return out


# ---------------------------------------------------------------- servers

def predict_url(server: ServerProcess) -> str:
    return f"{server.base_url}/v1/predict/{MODEL_ID}"


def write_daemon_config(work: Path, model_dir: Path, port: int, infer_requests: int = 0) -> Path:
    """One model, auth off (wrk sends no key), room for every connection wrk opens."""
    return write_config(work, link_models(work, {MODEL_ID: model_dir}), port,
                        {"server": {"max_pending": 64}, "models": {"infer_requests": infer_requests},
                         "auth": {"enabled": False}})


# ---------------------------------------------------------------- load

def run_wrk(url: str, concurrency: int, duration: float, bodies: Path, count: int) -> dict[str, Any]:
    lua = REPO / "bench" / "multipart.lua"
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(duration, 1):.0f}s", "--timeout", "30s", "-s", str(lua),
            url, "--", str(bodies), str(count), BOUNDARY]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    for line in out.splitlines():
        if line.startswith("JSON "):
            return dict(json.loads(line[5:]))
    raise RuntimeError(f"wrk printed no summary:\n{out}")


def measure(server: ServerProcess, c: int, duration: float, bodies: Path, count: int) -> dict[str, Any]:
    """One ``wrk`` run at concurrency ``c``, with the server's CPU time over it."""
    cpu0, client0 = server.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    w = run_wrk(predict_url(server), c, duration, bodies, count)
    cpu, client1 = server.cpu_seconds() - cpu0, resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)
    errors = sum(v for k, v in w.items() if k.startswith("errors_"))
    ok = max(w["requests"] - w["errors_status"], 1)
    return {"concurrency": c, "throughput_rps": round(w["requests"] / (w["duration_us"] / 1e6), 2),
            "p50_ms": round(w["p50_us"] / 1000, 2), "p99_ms": round(w["p99_us"] / 1000, 2),
            "cpu_ms_per_request": round(cpu * 1000 / ok, 2),
            "wrk_cpu_ms_per_request": round(client * 1000 / max(w["requests"], 1), 3),
            "requests": w["requests"], "errors": errors}


def drive(servers: dict[str, ServerProcess], concurrency: list[int], duration: float, warmup: float, bodies: Path,
          count: int) -> dict[str, dict[str, Any]]:
    """Every concurrency on each server in turn (daemon, baseline, next concurrency...), so that a
    change in the machine's other load during the run hits both alike; one server is idle while the
    other is measured."""
    for server in servers.values():
        run_wrk(predict_url(server), max(concurrency), warmup, bodies, count)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for c in concurrency:
        for name, server in servers.items():
            runs[name].append(measure(server, c, duration, bodies, count))
    return {name: {"runs": runs[name], **server.rss_mb()} for name, server in servers.items()}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda r: r["throughput_rps"])


# ---------------------------------------------------------------- report

def ratios(engine: dict[str, Any], daemon: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    top = best(daemon["runs"])
    c1 = next((r for r in daemon["runs"] if r["concurrency"] == 1), None)
    out: dict[str, Any] = {
        "daemon_best_concurrency": top["concurrency"],
        "daemon_over_engine": round(top["throughput_rps"] / engine["throughput_fps"], 3),
        "daemon_c1_p50_minus_engine_latency_ms": round(c1["p50_ms"] - engine["latency_p50_ms"], 2) if c1 else None,
        "daemon_over_baseline": None,
    }
    if baseline and best(baseline["runs"])["throughput_rps"] > 0:
        out["daemon_over_baseline"] = round(top["throughput_rps"] / best(baseline["runs"])["throughput_rps"], 3)
    out["targets"] = {
        "daemon_over_engine>=0.80": out["daemon_over_engine"] >= 0.80,
        "daemon_over_baseline>=1.5": None if out["daemon_over_baseline"] is None else out["daemon_over_baseline"] >= 1.5,
        "c1_p50<=engine_latency+3ms": None if c1 is None else out["daemon_c1_p50_minus_engine_latency_ms"] <= 3.0,
        "daemon_rss<=200MB": daemon["rss_mb"] <= 200,
        "startup_warm<=3s": daemon["startup_warm_s"] <= 3.0,
    }
    return out


def table(result: dict[str, Any]) -> str:
    e = result["engine"]
    head = f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'RSS MB':>9}{'errors':>8}{'wrk ms/req':>12}"
    rows = [head, "-" * len(head),
            (f"{'engine throughput':24}{e['throughput_fps']:9.1f}{'':9}{'':9}{e['cpu_ms_per_inference']:12.2f}"
            f"{'':9}{'':8}   ({e['nireq']} requests, {e['streams']} streams; before/after the servers: "
            f"{e['runs'][0]['throughput_fps']:.1f} / {e['runs'][1]['throughput_fps']:.1f})"),
            (f"{'engine batch-1 latency':24}{e['latency_fps']:9.1f}{e['latency_p50_ms']:9.2f}{e['latency_p99_ms']:9.2f}"
            f"{'':12}{'':9}{'':8}{'':12}   (p50 before/after: {e['runs'][0]['latency_p50_ms']:.2f} / "
            f"{e['runs'][1]['latency_p50_ms']:.2f})")]
    for name in ("daemon", "baseline"):
        server = result.get(name)
        if not server:
            continue
        for r in server["runs"]:
            rows.append(f"{name + ' c=' + str(r['concurrency']):24}{r['throughput_rps']:9.1f}{r['p50_ms']:9.2f}"
                        f"{r['p99_ms']:9.2f}{r['cpu_ms_per_request']:12.2f}{server['rss_mb']:9.1f}{r['errors']:8d}"
                        f"{r['wrk_cpu_ms_per_request']:12.3f}")
    d, q = result["daemon"], result["ratios"]
    rows += ["",
             (f"daemon start to ready: cold cache {d['startup_cold_s']:.2f} s, warm cache {d['startup_warm_s']:.2f} s;"
             f" RSS {d['rss_mb']:.1f} MB (peak {d['rss_peak_mb']:.1f} MB)"),
             (f"daemon/engine {q['daemon_over_engine']:.3f} (daemon best at c={q['daemon_best_concurrency']}); "
             f"daemon/baseline {q['daemon_over_baseline'] if q['daemon_over_baseline'] is not None else 'n/a'}; "
             f"c=1 p50 - engine latency {q['daemon_c1_p50_minus_engine_latency_ms']} ms"),
             "targets: " + ", ".join(f"{k} {'yes' if v else ('n/a' if v is None else 'NO')}"
                                     for k, v in q["targets"].items())]
    if result.get("baseline"):
        rows.insert(-3, f"baseline start to ready: {result['baseline']['startup_s']:.2f} s")
    return "\n".join(rows)


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Engine alone vs the yolo-edge daemon vs the Ultralytics baseline.")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="OpenVINO export folder (default: %(default)s)")
    p.add_argument("--coco", type=Path, default=DEFAULT_COCO, help="folder of coco128 JPEGs")
    p.add_argument("--images", type=int, default=32, help="bus.jpg + this many - 1 coco images (default 32)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each server's runs")
    p.add_argument("--concurrency", default="1,2,4,8", help="comma-separated (default 1,2,4,8)")
    p.add_argument("--no-baseline", action="store_true", help="skip the Ultralytics baseline")
    p.add_argument("--infer-requests", type=int, default=0,
                   help="the daemon's models.infer_requests (0: OpenVINO's optimum; 1: lean, one LATENCY compilation)")
    p.add_argument("--json", type=Path, default=Path("serving_bench.json"), help="where to write the figures")
    p.add_argument("--dynamic", type=Path,
                   help="a dynamic-shape export of the same weights: adds the 16:9 sets and the camera scenario")
    p.add_argument("--cameras", type=int, default=4, help="cameras in the 16:9 camera scenario (default 4)")
    p.add_argument("--wide-images", type=int, default=16, help="coco128 images made 16:9 (default 16)")
    p.add_argument("--quick", action="store_true", help="seconds, not minutes: for the test")
    cpu_isa.add_argument(p)
    args = p.parse_args(argv)
    isa = cpu_isa.apply(args.isa)
    if args.quick:
        args.duration, args.warmup, args.images = 1.0, 1.0, min(args.images, 4)
    if shutil.which("wrk") is None:
        print("wrk is not on PATH (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    concurrency = [int(c) for c in args.concurrency.split(",")]
    images = pick_images(args.coco, args.images)
    size = 640
    result: dict[str, Any] = {"setup": {
        "model": str(args.model), "images": [p.name for p in images], "duration_s": args.duration,
        "concurrency": concurrency, "cpus": len(os.sched_getaffinity(0)), "load_before": os.getloadavg(),
        "daemon_infer_requests": args.infer_requests, "max_cpu_isa": isa,
        "python": sys.version.split()[0]}}
    import openvino as ov

    result["setup"]["openvino"] = ov.get_version()
    print(f"engine alone ({args.duration:g} s each)...", file=sys.stderr)
    first = bench_engine(args.model, images, args.duration)

    with tempfile.TemporaryDirectory(prefix="yolo-edge-bench-") as tmp:
        work = Path(tmp)
        count = write_bodies(images, work / "bodies", size)
        port = free_port()
        config = write_daemon_config(work, args.model, port, args.infer_requests)
        log = work / "daemon.log"
        print("daemon: cold start...", file=sys.stderr)
        server: ServerProcess = Daemon(config, port, log)
        cold = server.startup_s
        server.stop()
        print("daemon: warm start...", file=sys.stderr)
        servers = {"daemon": Daemon(config, port, log)}
        try:
            if not args.no_baseline:
                print("baseline: start...", file=sys.stderr)
                port_b = free_port()
                argv_b = [sys.executable, str(REPO / "bench" / "baseline_server.py"), "--model", str(args.model),
                          "--port", str(port_b)]
                servers["baseline"] = ServerProcess("baseline", argv_b, port_b, work / "baseline.log")
            print("load: " + ", ".join(servers) + " in turn at each concurrency...", file=sys.stderr)
            loads = drive(servers, concurrency, args.duration, args.warmup, work / "bodies", count)
        finally:
            for server in servers.values():
                server.stop()
        result["daemon"] = {"startup_cold_s": round(cold, 2),
                            "startup_warm_s": round(servers["daemon"].startup_s, 2), **loads["daemon"]}
        result["baseline"] = None
        if "baseline" in servers:
            result["baseline"] = {"startup_s": round(servers["baseline"].startup_s, 2), **loads["baseline"]}

    print("engine alone, again...", file=sys.stderr)
    result["engine"] = conservative(first, bench_engine(args.model, images, args.duration))
    result["ratios"] = ratios(result["engine"], result["daemon"], result["baseline"])
    text = table(result)
    if args.dynamic:
        from bench import serving_wide

        with tempfile.TemporaryDirectory(prefix="yolo-edge-bench-wide-") as tmp:
            wide = serving_wide.run(Path(tmp), args.model, args.dynamic, args.coco, args.wide_images, concurrency, args.duration,
                                    args.warmup, args.cameras, not args.no_baseline)
            print("engine alone at 384x640...", file=sys.stderr)
            wide_720 = sorted(Path(tmp).glob("wide_1280x720/*.jpg"))
            wide["engine_384x640"] = bench_engine(args.dynamic, wide_720, args.duration, (384, 640))
        c1 = next((r for r in wide["sets"]["1280x720"]["minimal"]["runs"] if r["concurrency"] == 1), None)
        if c1 is not None:
            wide["ratios"]["c1_p50_minimal_1280x720_minus_engine_latency_384x640_ms"] = round(
                c1["p50_ms"] - wide["engine_384x640"]["latency_p50_ms"], 2)
        result["wide"] = wide
        text += serving_wide.table(wide, wide["engine_384x640"])
    print_and_write(text, result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
