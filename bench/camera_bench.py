"""Camera figures for the note: frames read vs inferred per second on one 720p source, predict
latency with two cameras running next to none, and recovery time after a source drop.

    nice .venv/bin/python bench/camera_bench.py [--model DIR] [--image bus.jpg] [--seconds 20]

Runs the daemon in-process on a loopback port with the real model; sources are a 720p video file
made from coco128 (paced at 30 fps) and an MJPEG-over-HTTP camera served here (15 fps, 720p).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiohttp.test_utils import TestClient, TestServer

from edge.config.settings import config_from_dict
from edge.http.app import create_app
from edge.http.app_keys import CAMERAS
from edge.service.keys import KeyRing, digest
from tests.support.cameras import MjpegCamera, jpeg_frames, write_video

KEY = "bench"
SIZE_720P = (1280, 720)


def base_config(tmp: Path, models: Path, cameras: list[dict[str, Any]]) -> Any:
    return config_from_dict({"models": {"dir": str(models), "cache_dir": str(tmp / "ov-cache")},
                             "cameras": cameras}, source=tmp / "config.yaml")


async def rate(tmp: Path, models: Path, video: Path, fps: float, seconds: float) -> dict[str, Any]:
    cfg = base_config(tmp, models, [{"id": "cam", "source": str(video), "model": "yolov8n", "fps": fps}])
    async with TestClient(TestServer(create_app(cfg, KeyRing([digest(KEY)])))) as client:
        loop = client.server.app[CAMERAS].hub.get("cam")
        await asyncio.sleep(3)  # warm
        s0, t0 = loop.status(), time.monotonic()
        await asyncio.sleep(seconds)
        s1, t1 = loop.status(), time.monotonic()
    dt = t1 - t0
    return {"configured_fps": fps, "seconds": round(dt, 1),
            "read_per_s": round((s1["frames_in"] - s0["frames_in"]) / dt, 2),
            "inferred_per_s": round((s1["frames_inferred"] - s0["frames_inferred"]) / dt, 2),
            "dropped_per_s": round((s1["frames_dropped"] - s0["frames_dropped"]) / dt, 2),
            "inference_ms_last": s1["inference_ms"]}


async def latency(tmp: Path, models: Path, image: bytes, cameras: list[dict[str, Any]], n: int) -> dict[str, Any]:
    cfg = base_config(tmp, models, cameras)
    async with TestClient(TestServer(create_app(cfg, KeyRing([digest(KEY)])))) as client:
        await asyncio.sleep(3 if cameras else 0.5)
        times = []
        for i in range(n + 3):
            t0 = time.perf_counter()
            resp = await client.post("/v1/predict/yolov8n", data={"image": image}, headers={"x-api-key": KEY})
            await resp.read()
            assert resp.status == 200, resp.status
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)
        hub = client.server.app[CAMERAS].hub
        fps_out = [c["fps_out"] for c in hub.status()] if hub else []
    times.sort()
    return {"cameras": len(cameras), "requests": n, "median_ms": round(statistics.median(times), 1),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1), "mean_ms": round(statistics.fmean(times), 1),
            "camera_fps_out": fps_out}


async def recovery(tmp: Path, models: Path, frames: list[bytes], drops: list[float]) -> list[dict[str, Any]]:
    out = []
    with MjpegCamera(frames, fps=15) as cam:
        cfg = base_config(tmp, models, [{"id": "mj", "source": cam.url, "model": "yolov8n", "fps": 5,
                                         "stall_timeout_s": 5, "reconnect_max_s": 30}])
        async with TestClient(TestServer(create_app(cfg, KeyRing([digest(KEY)])))) as client:
            loop = client.server.app[CAMERAS].hub.get("mj")
            await asyncio.sleep(3)
            for down_s in drops:
                t_drop = time.monotonic()
                cam.drop()
                while loop.source.status()["connected"]:
                    await asyncio.sleep(0.01)
                noticed = time.monotonic() - t_drop
                await asyncio.sleep(max(0.0, down_s - noticed))
                inferred = loop.frames_inferred
                cam.restore()
                t_back = time.monotonic()
                t_conn = t_inf = None
                while t_inf is None and time.monotonic() - t_back < 120:
                    if t_conn is None and loop.source.connected:
                        t_conn = time.monotonic() - t_back
                    if loop.frames_inferred > inferred:
                        t_inf = time.monotonic() - t_back
                    await asyncio.sleep(0.01)
                out.append({"down_s": down_s, "drop_noticed_s": round(noticed, 3),
                            "reconnected_after_return_s": round(t_conn or -1, 3),
                            "first_inference_after_return_s": round(t_inf or -1, 3)})
                await asyncio.sleep(3)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(REPO.parent / "shared/data/models/yolov8n_int8_openvino_model"))
    ap.add_argument("--image", default=str(REPO / "assets" / "bus.jpg"))
    ap.add_argument("--coco", default=str(REPO.parent / "shared/data/coco128/images/train2017"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--fps", type=float, default=5)
    ap.add_argument("--requests", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "models").mkdir()
        (tmp / "models" / "yolov8n").symlink_to(args.model)
        images = sorted(Path(args.coco).glob("*.jpg"))[:8]
        video = write_video(tmp / "720p.mp4", images, size=SIZE_720P, fps=30, repeat=15)
        models = tmp / "models"
        result: dict[str, Any] = {"rate_720p": await rate(tmp, models, video, args.fps, args.seconds)}
        bus = Path(args.image).read_bytes()
        two = [{"id": f"c{i}", "source": str(video), "model": "yolov8n", "fps": args.fps} for i in range(2)]
        result["predict_latency"] = [await latency(tmp, models, bus, [], args.requests),
                                     await latency(tmp, models, bus, two, args.requests)]
        result["recovery"] = await recovery(tmp, models, jpeg_frames(images, SIZE_720P), [1.0, 5.0, 12.0])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
