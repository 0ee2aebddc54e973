"""Latency at concurrency 1 of the same image on the same model through each dialect: the HUB route
(the baseline), DeepStack's ``/v1/vision/custom/{model}`` (as Blue Iris / Agent DVR post it), the same
as Frigate's ``deepstack`` detector sends it (a 320x320 region) next to HUB on that region, and DOODS's
``/detect`` (base64 in JSON). Figures are medians and p90 in ms, and ratios to HUB in the same run.

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
from tests.support.daemon import link_models, start_daemon  # noqa: E402
from tests.support.frigate_client import FrigateDeepStack  # noqa: E402
from tests.support.shared_data import shared_data_dir, ultralytics_asset  # noqa: E402


def frigate_region(image: bytes, size: int = 320) -> np.ndarray:
    import io

    from PIL import Image
    rgb = Image.open(io.BytesIO(image)).convert("RGB").resize((size, size))
    return np.asarray(rgb)[None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = shared_data_dir()
    parser.add_argument("--model", type=Path, default=data / "models" / "yolov8n_int8_openvino_model" if data else None)
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    body = (args.image or ultralytics_asset("bus.jpg")).read_bytes()
    region = frigate_region(body)
    region_jpeg = FrigateDeepStack.encode(region)

    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(Path(tmp), link_models(Path(tmp), {"m": args.model}))
        try:
            s = requests.Session()
            key = daemon.api_key
            base = daemon.base_url
            frigate = FrigateDeepStack(f"{base}/v1/vision/custom/m", key, {0: "person"})
            frigate.session = s
            b64 = base64.b64encode(body).decode()

            def post(path: str, **kw: object) -> Callable[[], None]:
                return lambda: s.post(base + path, timeout=60, **kw).raise_for_status()  # type: ignore[arg-type]

            routes: dict[str, Callable[[], object]] = {
                "hub": post("/v1/predict/m", headers={"x-api-key": key}, files={"image": ("i.jpg", body)},
                            data={"confidence": "0.4"}),
                "deepstack": post("/v1/vision/custom/m", files={"image": ("i.jpg", body)},
                                  data={"api_key": key}),
                "doods": post("/detect", headers={"doods-auth-key": key},
                              json={"data": b64, "detector_name": "m", "detect": {"*": 40}}),
                "hub_region320": post("/v1/predict/m", headers={"x-api-key": key},
                                      files={"image": ("r.jpg", region_jpeg)}, data={"confidence": "0.4"}),
                "frigate_deepstack_region320": lambda: frigate.detect_raw(region),
            }
            for call in routes.values():  # warm
                for _ in range(3):
                    call()
            times: dict[str, list[float]] = {name: [] for name in routes}
            for _ in range(args.rounds):
                for name, call in routes.items():
                    t = time.perf_counter()
                    call()
                    times[name].append((time.perf_counter() - t) * 1000)
        finally:
            daemon.stop()

    def median(name: str) -> float:
        return statistics.median(times[name])

    print(f"model {args.model.name}, {args.rounds} rounds at concurrency 1, ms (median / p90) and ratio to HUB")
    for name, values in times.items():
        baseline = "hub_region320" if "region320" in name else "hub"
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:30s} {median(name):7.1f} / {p90:7.1f}   x{median(name) / median(baseline):.3f} "
              f"of {baseline}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
