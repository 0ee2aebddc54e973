"""Latency at concurrency 1 of the same image on the same model through each dialect: the HUB route
(the baseline), DeepStack's ``/v1/vision/custom/{model}`` (as Blue Iris / Agent DVR post it), DOODS's
``/detect`` (base64 in JSON); then Frigate's regions (the image resized to the model's 640x640 input and
to Frigate's usual 320x320) through HUB (a JPEG of the region, the baseline of its group), Frigate's
``deepstack`` detector (its own JPEG encode included) and Frigate's ``zmq`` detector (the raw u8 tensor,
no JPEG either side) over TCP and IPC. Figures are medians and p90 in ms, and ratios to the group's HUB
in the same run; the last lines say what the zmq path saves against HUB on the same region, beside what
decoding that region's JPEG costs here (cv2.imdecode, measured in this process).

    python bench/dialect_latency.py [--model DIR] [--image bus.jpg] [--rounds 40]

One daemon subprocess on loopback; one keep-alive session; rounds alternate between the routes so the
machine's other load hits all alike.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.daemon import free_port, link_models, start_daemon  # noqa: E402
from tests.support.frigate_client import FrigateDeepStack, FrigateZmq  # noqa: E402
from tests.support.shared_data import shared_data_dir, ultralytics_asset  # noqa: E402


def frigate_region(image: bytes, size: int = 320) -> np.ndarray:
    import io

    from PIL import Image
    rgb = Image.open(io.BytesIO(image)).convert("RGB").resize((size, size))
    return np.asarray(rgb)[None]


def decode_ms(jpeg: bytes, rounds: int = 50) -> float:
    import cv2
    buf = np.frombuffer(jpeg, np.uint8)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        cv2.imdecode(buf, cv2.IMREAD_COLOR)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = shared_data_dir()
    parser.add_argument("--model", type=Path, default=data / "models" / "yolov8n_int8_openvino_model" if data else None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    body = (args.image or ultralytics_asset("bus.jpg")).read_bytes()
    regions = {size: frigate_region(body, size) for size in (640, 320)}
    jpegs = {size: FrigateDeepStack.encode(r) for size, r in regions.items()}

    with tempfile.TemporaryDirectory() as tmp:
        tcp = f"tcp://127.0.0.1:{free_port()}"
        daemon = start_daemon(Path(tmp), link_models(Path(tmp), {"m": args.model}),
                              extra={"dialects": {"zmq_endpoint": tcp}})
        # IPC from a second daemon of the same config (one zmq endpoint per daemon), idle in HTTP rounds.
        ipc_tmp = Path(tmp) / "ipc"
        ipc_tmp.mkdir()
        ipc = f"ipc://{ipc_tmp}/frigate.sock"
        ipc_daemon = start_daemon(ipc_tmp, link_models(ipc_tmp, {"m": args.model}),
                                  extra={"dialects": {"zmq_endpoint": ipc}})
        try:
            s = requests.Session()
            key = daemon.api_key
            base = daemon.base_url
            frigate = FrigateDeepStack(f"{base}/v1/vision/custom/m", key, {0: "person"})
            frigate.session = s
            zmq_tcp = FrigateZmq(tcp, request_timeout_ms=30_000)
            b64 = base64.b64encode(body).decode()

            def post(path: str, **kw: object) -> Callable[[], None]:
                return lambda: s.post(base + path, timeout=60, **kw).raise_for_status()  # type: ignore[arg-type]

            def zmq_call(client: FrigateZmq, size: int) -> Callable[[], None]:
                def call() -> None:
                    if not client.detect_raw(regions[size]).any():
                        raise RuntimeError(f"the zmq path found nothing: {client.reply_header()}")
                return call

            routes: dict[str, Callable[[], object]] = {
                "hub": post("/v1/predict/m", headers={"x-api-key": key}, files={"image": ("i.jpg", body)},
                            data={"confidence": "0.4"}),
                "deepstack": post("/v1/vision/custom/m", files={"image": ("i.jpg", body)},
                                  data={"api_key": key}),
                "doods": post("/detect", headers={"doods-auth-key": key},
                              json={"data": b64, "detector_name": "m", "detect": {"*": 40}}),
            }
            zmq_ipc = FrigateZmq(ipc, request_timeout_ms=30_000)
            for size in (640, 320):
                routes[f"hub_region{size}"] = post("/v1/predict/m", headers={"x-api-key": key},
                                                   files={"image": ("r.jpg", jpegs[size])}, data={"confidence": "0.4"})
                routes[f"frigate_deepstack_region{size}"] = (lambda r: lambda: frigate.detect_raw(r))(regions[size])
                routes[f"frigate_zmq_tcp_region{size}"] = zmq_call(zmq_tcp, size)
                routes[f"frigate_zmq_ipc_region{size}"] = zmq_call(zmq_ipc, size)
            for call in routes.values():  # warm
                for _ in range(3):
                    call()
            times: dict[str, list[float]] = {name: [] for name in routes}
            for _ in range(args.rounds):
                for name, call in routes.items():
                    t = time.perf_counter()
                    call()
                    times[name].append((time.perf_counter() - t) * 1000)
            zmq_tcp.close()
            zmq_ipc.close()
        finally:
            daemon.stop()
            ipc_daemon.stop()

    def median(name: str) -> float:
        return statistics.median(times[name])

    def baseline(name: str) -> str:
        return next((f"hub_region{n}" for n in (640, 320) if name.endswith(f"region{n}")), "hub")

    print(f"model {args.model.name}, {args.rounds} rounds at concurrency 1, ms (median / p90) and ratio to HUB")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:30s} {median(name):7.1f} / {p90:7.1f}   x{median(name) / median(baseline(name)):.3f} "
              f"of {baseline(name)}")
    for size in (640, 320):
        decode = decode_ms(jpegs[size])
        for way in ("tcp", "ipc"):
            saved = median(f"hub_region{size}") - median(f"frigate_zmq_{way}_region{size}")
            print(f"  zmq {way} saves {saved:5.1f} ms of HUB's {median(f'hub_region{size}'):.1f} on the {size}x{size} "
                  f"region ({saved / median(f'hub_region{size}'):.1%}); its JPEG ({len(jpegs[size]) // 1024} KB) "
                  f"decodes in {decode:.2f} ms here")
    return 0


if __name__ == "__main__":
    sys.exit(main())
