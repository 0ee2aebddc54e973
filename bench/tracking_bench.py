"""Tracking cost per frame for the note: our ByteTrack (+ line and zone counting) against Ultralytics'
``BYTETracker`` (+ ``ObjectCounter``'s counting) on the same detections, in the same run, next to the
inference time of the frame.

    nice .venv/bin/python bench/tracking_bench.py [--model DIR] [--repeat 20]

Detections: our OpenVINO pipeline (yolov8n INT8 at 640, confidence 0.1 as model.track() uses) on the
40-frame two-walker video of tests/support/tracking_video.py (a coco128 background with its bowls and
table, two people cut from coco128). Each tracker sees the 40 frames ``--repeat`` times (a fresh
tracker per pass); times are per frame, median and p95. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np

from edge.analytics.byte_tracker import ByteTracker
from edge.analytics.counts import CameraCounts
from edge.analytics.tracked_prediction import track
from edge.config.analytics import LineConfig, ZoneConfig
from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from tests.support import parity
from tests.support.tracking_video import crossing_scene, read_frames, write_avi

LINE = [[320, 0], [320, 480]]
ZONE = [[330, 0], [640, 0], [640, 480], [330, 480]]


def stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=REPO.parent / "shared/data/models/yolov8n_int8_openvino_model")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        frames = read_frames(write_avi(Path(tmp) / "crossing.avi", crossing_scene()))
    spec = parity.spec_of(args.model)
    options = PredictOptions(size=640, confidence=0.1, iou=0.45)
    preds, infer_ms = [], []
    for f in frames:
        t0 = time.perf_counter()
        preds.append(parity.run_ours_letterboxed(spec, f, 640, lambda o, lb: postprocess("detect", o, lb, spec, options)))
        infer_ms.append((time.perf_counter() - t0) * 1e3)

    from ultralytics.engine.results import Boxes
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    cfg = IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml")))
    boxes = [Boxes(np.concatenate([p.boxes, p.scores[:, None], p.classes[:, None].astype(np.float32)], 1)
                   .astype(np.float32), p.orig_shape) for p in preds]
    ours_track: list[float] = []
    ours_all: list[float] = []
    theirs: list[float] = []
    for _ in range(args.repeat):
        tracker, ref = ByteTracker(), BYTETracker(cfg)
        counts = CameraCounts([LineConfig("l", LINE)], [ZoneConfig("z", ZONE)])
        for f, p, b in zip(frames, preds, boxes):
            t0 = time.perf_counter()
            tracked = track(tracker, p)
            t1 = time.perf_counter()
            counts.update(tracked, spec.names, [t.track_id for t in tracker.removed_this_frame], 0.0)
            t2 = time.perf_counter()
            ref.update(b, f)
            t3 = time.perf_counter()
            ours_track.append((t1 - t0) * 1e3)
            ours_all.append((t2 - t0) * 1e3)
            theirs.append((t3 - t2) * 1e3)
    out: dict[str, Any] = {
        "frames": len(frames), "passes": args.repeat, "detections_per_frame": round(statistics.mean(map(len, preds)), 1),
        "inference_ms": stats(infer_ms), "ours_bytetrack": stats(ours_track),
        "ours_bytetrack_plus_line_and_zone": stats(ours_all), "ultralytics_bytetracker": stats(theirs),
        "counts": counts.snapshot(),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
