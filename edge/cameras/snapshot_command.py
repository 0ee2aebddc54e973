"""``yolo-edge snapshot``: take one frame from a camera, run its model, print the result (HUB JSON)
and optionally write the frame, the JSON and the YOLO label file (for cron jobs and for testing a
camera before putting it in config.yaml).

    yolo-edge snapshot --config /etc/yolo-edge/config.yaml --camera door --out /tmp/door
    yolo-edge snapshot --source rtsp://10.0.0.5/stream1 --model yolov8n --models /var/lib/yolo-edge/models

Runs without the daemon: compiles only the one model it needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edge.cameras.annotate import annotate
from edge.cameras.snapshot_store import encode_jpeg, stem_for, write_snapshot
from edge.cameras.source import open_reader
from edge.cameras.yolo_labels import label_text
from edge.config.cameras import CameraConfig, resolve_classes
from edge.config.redact import redact_url
from edge.config.settings import Config, config_from_dict, load_config
from edge.errors import BadRequest, CameraError, ConfigError, ModelNotFound
from edge.inference.engine import Engine
from edge.inference.options import PredictOptions
from edge.inference.predictor import Predictor
from edge.inference.repository import scan
from edge.inference.summary import summarize

logger = logging.getLogger(__name__)


def add_snapshot_parser(sub: Any) -> None:
    p = sub.add_parser("snapshot", help="take one frame from a camera or source, run a model on it, print the result")
    p.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--camera", help="a camera id from the config's cameras: list")
    p.add_argument("--source", help="a source instead of (or overriding) the camera's: device index, URL or file")
    p.add_argument("--model", help="MODEL_ID to run (default: the camera's)")
    p.add_argument("--models", help="model repository folder (overrides models.dir)")
    p.add_argument("--out", help="folder to write <time>_<camera>.jpg, .json and .txt into")
    p.add_argument("--annotate", action="store_true", help="with --out, also write the frame with the results drawn")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the source (default: 15)")
    p.add_argument("-v", "--verbose", action="store_true")


def _config(args: argparse.Namespace) -> Config:
    overrides = {"models": {"dir": str(Path(args.models).resolve())}} if args.models else {}
    if Path(args.config).is_file() or args.camera:
        return load_config(args.config, overrides)
    return config_from_dict(overrides)  # --source/--model/--models alone need no config file


def _camera(config: Config, args: argparse.Namespace) -> CameraConfig:
    if args.camera:
        for cam in config.cameras:
            if cam.id == args.camera:
                return cam
        known = ", ".join(c.id for c in config.cameras) or "none"
        raise ConfigError(f"{config.source}: no camera {args.camera!r} in cameras; configured: {known}")
    if not (args.source and args.model):
        raise BadRequest("give --camera ID (from the config), or --source and --model")
    return CameraConfig(id="snapshot", source=args.source, model=args.model)


def grab_frame(source: str, timeout_s: float) -> Any:
    """One frame (H, W, 3) u8 BGR from ``source``; raises ``CameraError``."""
    reader = open_reader(source, timeout_s)
    try:
        return reader.read()
    finally:
        reader.close()


def run_snapshot(args: argparse.Namespace) -> int:
    config = _config(args)
    cam = _camera(config, args)
    source, model_id = args.source or cam.source, args.model or cam.model
    t0 = time.monotonic()
    image = grab_frame(source, args.timeout)
    when = time.time()
    logger.info("frame %dx%d from %s in %.2f s", image.shape[1], image.shape[0], redact_url(source), time.monotonic() - t0)
    specs = scan(config.models.dir)
    engine = Engine.from_config(config.models)
    if model_id not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise ModelNotFound(f"model {model_id!r} is not in {config.models.dir}; models there: {known}")
    model = engine.load(specs[model_id])
    names = model.spec.names
    classes = resolve_classes(cam.classes, names, f"cameras[{cam.id}].classes") if cam.classes else None
    options = PredictOptions(size=min(cam.size, model.max_size), confidence=cam.detect_confidence, iou=cam.iou,
                             classes=classes)
    with ThreadPoolExecutor(2, thread_name_prefix="snapshot") as executor:
        predictor = Predictor(executor, int(config.server.max_image_mpix * 1e6))
        pred, timings = asyncio.run(predictor.predict_image(model, image, options))
    body = {"success": True, "message": "Inference complete.", "camera": args.camera, "source": redact_url(source),
            "model": model_id, "time": when, "frame": {"width": image.shape[1], "height": image.shape[0]},
            "speed": timings.as_speed(), "data": summarize(pred, names)}
    if args.out:
        out = Path(args.out)
        stem = stem_for(when, args.camera or "snapshot")
        try:
            paths = write_snapshot(out, stem, encode_jpeg(image), body, label_text(pred))
            if args.annotate:
                annotated = out / f"{stem}_annotated.jpg"
                annotated.write_bytes(encode_jpeg(annotate(image, pred, names)))
                paths["annotated"] = str(annotated)
        except OSError as exc:
            raise CameraError(f"cannot write to {out}: {exc.strerror or exc}") from None
        body["files"] = paths
    print(json.dumps(body, indent=2))
    return 0
