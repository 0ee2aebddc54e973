"""The 16:9 part of ``bench/serving_bench.py``: square vs shape-aware serving.

- image sets: coco128 images centre-cropped to 16:9 as 1280x720 and 1920x1080 JPEGs
  (``tests/support/wide_images.py``); the same daemon binary serves the static export (square:
  640x640, 40 % grey padding; what ``yolo-edge-convert`` writes by default) and the dynamic-shape export
  with ``models.shapes: minimal`` (384x640, as Ultralytics' PyTorch predictor pads), and the Ultralytics
  baseline serves the dynamic export too (which pads minimally for a dynamic export), all driven by
  ``wrk`` in turn at each concurrency. (The square is the static export, not the dynamic one with
  ``models.shapes: square``: on a CPU without AMX that pads minimally, as Ultralytics does for a dynamic
  export, so it would not be square at all.)
- a camera scenario: N cameras in the daemon (``cameras:``), each a 720p video file looped as fast as
  it is inferred (``fps: 60``), square then minimal; frames inferred per second per camera from
  ``GET /v1/cameras`` over a window;
- the time per stage of lone requests (``Server-Timing``) next to the client's round trip, for the
  single-request gap.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bench.serving_bench import MODEL_ID, ServerProcess, best, drive, predict_url, write_bodies
from tests.support.cameras import write_video
from tests.support.daemon import API_KEY, Daemon, free_port, link_models, write_config
from tests.support.wide_images import wide_jpegs

SETS = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}
MINIMAL_16_9 = [384, 640]  # a 16:9 frame at 640


def start(work: Path, name: str, model_dir: Path, shapes: str, cameras: list[dict[str, Any]] | None = None,
          auth: bool = False) -> Daemon:
    folder = work / name
    folder.mkdir()
    port = free_port()
    extra: dict[str, Any] = {"server": {"max_pending": 64}, "models": {"shapes": shapes},
                             "auth": {"enabled": auth}}
    if cameras:
        extra["cameras"] = cameras
    return Daemon(write_config(folder, link_models(folder, {MODEL_ID: model_dir}), port, extra), port,
                  folder / "daemon.log")


def wait_compiled(server: ServerProcess, image: Path, headers: dict[str, str] | None = None, timeout: float = 180) -> None:
    """One request starts the compile of the 16:9 shape; wait until the daemon lists it."""
    with open(image, "rb") as f:
        requests.post(predict_url(server), files={"image": f}, headers=headers, timeout=60).raise_for_status()
    deadline = time.monotonic() + timeout
    while True:
        (model,) = requests.get(f"{server.base_url}/v1/models", headers=headers, timeout=10).json()["data"]
        if MINIMAL_16_9 in (model.get("compiled_shapes") or []):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{MINIMAL_16_9} never compiled:\n{server.tail()}")
        time.sleep(0.1)


def stages(server: ServerProcess, images: list[Path], count: int = 40) -> dict[str, float]:
    """Medians over ``count`` lone requests: each stage of ``Server-Timing`` and the client's round trip
    (keep-alive session); ``rest`` is what the stages do not cover (body read, form parsing, the hops
    between threads, JSON, HTTP)."""
    session = requests.Session()
    rows: list[dict[str, float]] = []
    for i in range(count + 3):
        body = images[i % len(images)].read_bytes()
        t0 = time.perf_counter()
        r = session.post(predict_url(server), files={"image": ("i.jpg", body)}, data={"size": "640"}, timeout=60)
        total = (time.perf_counter() - t0) * 1000
        r.raise_for_status()
        row = {k: float(v.split("dur=")[1]) for k, _, v in
               (part.strip().partition(";") for part in r.headers.get("Server-Timing", "").split(","))
               if "dur=" in v}
        row["client_round_trip"] = total
        if i >= 3:  # the first ones warm the connection
            rows.append(row)
    out = {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]}
    out["rest"] = round(out["client_round_trip"] - sum(v for k, v in out.items() if k != "client_round_trip"), 2)
    return out


def cameras_fps(server: Daemon, seconds: float) -> dict[str, Any]:
    """Frames inferred per second per camera over ``seconds`` (after the cameras have started)."""
    def counts() -> dict[str, int]:
        data = requests.get(f"{server.base_url}/v1/cameras", headers={"x-api-key": API_KEY}, timeout=10).json()["data"]
        return {c["id"]: c["frames_inferred"] for c in data}

    deadline = time.monotonic() + 60
    while min(counts().values()) < 3:  # every camera running
        if time.monotonic() > deadline:
            raise SystemExit(f"cameras never ran:\n{server.tail()}")
        time.sleep(0.5)
    c0, t0, cpu0 = counts(), time.monotonic(), server.cpu_seconds()
    time.sleep(seconds)
    c1, dt, cpu = counts(), time.monotonic() - t0, server.cpu_seconds() - cpu0
    per = {cam: round((c1[cam] - c0[cam]) / dt, 2) for cam in c0}
    frames = sum(c1[cam] - c0[cam] for cam in c0)
    return {"per_camera_fps": per, "mean_per_camera_fps": round(statistics.mean(per.values()), 2),
            "total_fps": round(frames / dt, 2), "cpu_ms_per_frame": round(cpu * 1000 / max(frames, 1), 2),
            **server.rss_mb()}


def run(work: Path, static: Path, dynamic: Path, coco: Path, images: int, concurrency: list[int], duration: float,
        warmup: float, cameras: int, baseline: bool) -> dict[str, Any]:
    """Every figure of the 16:9 part; see the module docstring."""
    sources = sorted(coco.glob("*.jpg"))[:images]
    sets = {name: wide_jpegs(sources, work / f"wide_{name}", size) for name, size in SETS.items()}
    servers: dict[str, ServerProcess] = {}
    out: dict[str, Any] = {"sets": {}}
    try:
        print("16:9: square and minimal daemons" + (", baseline" if baseline else "") + "...", file=sys.stderr)
        servers["square"] = start(work, "square", static, "square")
        servers["minimal"] = start(work, "minimal", dynamic, "minimal")
        wait_compiled(servers["minimal"], sets["1280x720"][0])
        if baseline:
            port = free_port()
            argv = [sys.executable, str(Path(__file__).with_name("baseline_server.py")), "--model", str(dynamic),
                    "--port", str(port)]
            servers["baseline"] = ServerProcess("baseline", argv, port, work / "baseline_wide.log")
        for name, paths in sets.items():
            count = write_bodies(paths, work / f"bodies_{name}", 640)
            print(f"16:9 {name}: " + ", ".join(servers) + " in turn at each concurrency...", file=sys.stderr)
            out["sets"][name] = drive(dict(servers), concurrency, duration, warmup, work / f"bodies_{name}", count)
        out["stages_c1"] = {name: stages(servers[name], sets["1280x720"]) for name in ("square", "minimal")}
    finally:
        for server in servers.values():
            server.stop()
    video = write_video(work / "cam720p.mp4", sets["1280x720"], size=SETS["1280x720"], fps=30, repeat=3)
    out["cameras"] = {"count": cameras}
    for shapes in ("square", "minimal"):
        print(f"cameras: {cameras} x 720p, {shapes}...", file=sys.stderr)
        cams = [{"id": f"cam{i}", "source": str(video), "model": MODEL_ID, "fps": 60} for i in range(cameras)]
        server = start(work, f"cameras_{shapes}", dynamic if shapes == "minimal" else static, shapes, cams, auth=True)
        try:
            if shapes == "minimal":
                wait_compiled(server, sets["1280x720"][0], {"x-api-key": API_KEY})
            out["cameras"][shapes] = cameras_fps(server, max(duration, 5))
        finally:
            server.stop()
    out["ratios"] = ratios(out)
    return out


def ratios(out: dict[str, Any]) -> dict[str, Any]:
    r: dict[str, Any] = {}
    for name, loads in out["sets"].items():
        top = {s: best(load["runs"])["throughput_rps"] for s, load in loads.items()}
        cpu = {s: min(x["cpu_ms_per_request"] for x in load["runs"]) for s, load in loads.items()}
        r[name] = {"minimal_over_square": round(top["minimal"] / top["square"], 3),
                   "cpu_per_request_square_over_minimal": round(cpu["square"] / cpu["minimal"], 3)}
        if "baseline" in top:
            r[name]["minimal_over_baseline"] = round(top["minimal"] / top["baseline"], 3)
            r[name]["square_over_baseline"] = round(top["square"] / top["baseline"], 3)
    cams = out["cameras"]
    r["cameras_minimal_over_square"] = round(cams["minimal"]["mean_per_camera_fps"]
                                             / max(cams["square"]["mean_per_camera_fps"], 1e-9), 3)
    return r


def table(out: dict[str, Any], engine_wide: dict[str, Any] | None) -> str:
    head = f"{'':28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'RSS MB':>9}{'errors':>8}"
    rows = ["", "16:9 sets: the static export, square (640x640), vs the dynamic one, minimal (384x640)", head, "-" * len(head)]
    for name, loads in out["sets"].items():
        for server, load in loads.items():
            for r in load["runs"]:
                rows.append(f"{name + ' ' + server + ' c=' + str(r['concurrency']):28}{r['throughput_rps']:9.1f}"
                            f"{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}{r['cpu_ms_per_request']:12.2f}"
                            f"{load['rss_mb']:9.1f}{r['errors']:8d}")
    if engine_wide:
        rows.append(f"{'engine batch-1 384x640':28}{engine_wide['latency_fps']:9.1f}"
                    f"{engine_wide['latency_p50_ms']:9.2f}{engine_wide['latency_p99_ms']:9.2f}"
                    f"   (engine throughput 384x640: {engine_wide['throughput_fps']:.1f}/s)")
    rows.append("")
    for name, s in out["stages_c1"].items():
        rows.append(f"lone 1280x720 requests, {name}, medians ms: " + ", ".join(f"{k} {v}" for k, v in s.items()))
    cams = out["cameras"]
    for shapes in ("square", "minimal"):
        c = cams[shapes]
        rows.append(f"{cams['count']} cameras at 720p, {shapes}: {c['mean_per_camera_fps']} frames/s per camera "
                    f"({c['total_fps']} in all), {c['cpu_ms_per_frame']} ms CPU per frame, RSS {c['rss_mb']} MB")
    rows.append("16:9 ratios: " + "; ".join(f"{k}: {v}" for k, v in out["ratios"].items()))
    return "\n".join(rows)
