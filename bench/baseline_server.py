"""The baseline a user would write without yolo-edge: Ultralytics ``YOLO(ir_dir)`` behind a minimal
aiohttp handler, one image at a time, speaking the same ``POST /v1/predict/{model_id}`` form.

    python bench/baseline_server.py --model ../shared/data/models/yolov8n_int8_openvino_model --port 8090

Benchmark-only: it imports ultralytics, which the device never has.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

import cv2
import numpy as np
from aiohttp import web
from ultralytics import YOLO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.f32_core import patch_openvino_core_to_f32  # noqa: E402


def f32_without_bf16() -> None:
    """Under ``--isa`` (``bench/cpu_isa.py``) the emulated CPU has no bf16: compile f32, as Ultralytics does there."""
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        patch_openvino_core_to_f32()


def build_app(model_dir: str) -> web.Application:
    f32_without_bf16()
    model = YOLO(model_dir, task="detect")
    model(np.full((640, 640, 3), 114, np.uint8), verbose=False)  # the first call compiles the IR

    async def predict(request: web.Request) -> web.Response:
        form = await request.post()
        data = form["image"].file.read()  # type: ignore[union-attr]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        result = model(image, conf=float(form.get("confidence", 0.25)), iou=float(form.get("iou", 0.45)),  # type: ignore[arg-type]
                       imgsz=int(form.get("size", 640)), verbose=False)[0]  # type: ignore[arg-type]
        return web.json_response({"success": True, "message": "Inference complete.", "data": result.summary()})

    async def readyz(request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    app = web.Application(client_max_size=20 * 1024 * 1024)
    app.router.add_post("/v1/predict/{model_id}", predict)
    app.router.add_get("/readyz", readyz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an Ultralytics OpenVINO export folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    web.run_app(build_app(args.model), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
