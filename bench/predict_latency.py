"""Single-request latency of ``POST /v1/predict`` for one image, next to the bare OpenVINO inference
time of the same model in the same run (the figure issue 2 asks for).

    python bench/predict_latency.py [--model DIR] [--image bus.jpg] [--rounds 30]

The daemon runs as a subprocess on loopback; requests are sequential on one keep-alive connection.
The bare figure is one synchronous LATENCY-hint inference on the already-letterboxed u8 image
through the daemon's own compiled graph (pre-processing inside). Rounds alternate between the two
so that the machine's other load hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import openvino as ov
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edge.inference.compile_options import compile_properties  # noqa: E402
from edge.inference.engine import embed_preprocessing  # noqa: E402
from edge.inference.letterbox import letterbox  # noqa: E402
from tests.support.daemon import link_models, start_daemon  # noqa: E402
from tests.support.shared_data import shared_data_dir, ultralytics_asset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = shared_data_dir()
    parser.add_argument("--model", type=Path, default=data / "models" / "yolov8n_int8_openvino_model" if data else None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    image_path = args.image or ultralytics_asset("bus.jpg")
    body = image_path.read_bytes()

    core = ov.Core()
    model = embed_preprocessing(core.read_model(next(args.model.glob("*.xml"))))
    compiled = core.compile_model(model, "CPU", compile_properties("CPU", "LATENCY"))
    request = compiled.create_infer_request()
    tensor, _ = letterbox(cv2.imread(str(image_path)), (640, 640))
    tensor = tensor[None]
    request.infer({0: tensor})

    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(Path(tmp), link_models(Path(tmp), {"m": args.model}))
        try:
            session = requests.Session()
            url, headers = f"{daemon.base_url}/v1/predict/m", {"x-api-key": daemon.api_key}
            for _ in range(3):
                session.post(url, headers=headers, files={"image": ("bus.jpg", body)}).raise_for_status()
            http_ms, bare_ms = [], []
            for _ in range(args.rounds):
                t = time.perf_counter()
                session.post(url, headers=headers, files={"image": ("bus.jpg", body)}).raise_for_status()
                http_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                request.infer({0: tensor})
                bare_ms.append((time.perf_counter() - t) * 1000)
        finally:
            daemon.stop()
    h, b = statistics.median(http_ms), statistics.median(bare_ms)
    print(f"image {image_path.name}, model {args.model.name}, OpenVINO {ov.get_version()}, {args.rounds} rounds")
    print(f"POST /v1/predict  p50 {h:7.1f} ms   min {min(http_ms):7.1f} ms")
    print(f"bare inference    p50 {b:7.1f} ms   min {min(bare_ms):7.1f} ms")
    print(f"daemon overhead   p50 {h - b:+7.1f} ms ({h / b:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
