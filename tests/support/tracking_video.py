"""Test videos for tracking and counting, made from real images: people cut out of coco128 photos
(their labelled boxes) pasted at moving positions over a coco128 background that has no person, and
written as MJPEG AVI with OpenCV (the daemon reads it as a looping file camera)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cameras import PERSON, coco128_images
from tests.support.shared_data import require_shared_data

SIZE = (640, 480)  # w, h


@dataclass(frozen=True)
class Walker:
    """One person crop moving from ``start`` to ``end`` (top-left xy, pixels) over ``frames`` frames,
    then back again when ``return_trip``."""

    crop: np.ndarray
    start: tuple[int, int]
    end: tuple[int, int]


def person_crops(count: int, height: int = 230) -> list[np.ndarray]:
    """The ``count`` largest single-person boxes of coco128 (one per image), scaled to ``height`` px."""
    root = require_shared_data() / "coco128"
    found: list[tuple[float, np.ndarray]] = []
    for img_path in coco128_images({PERSON}, limit=128):
        label = root / "labels" / "train2017" / f"{img_path.stem}.txt"
        rows = [r.split() for r in label.read_text().splitlines() if r.strip()]
        people = [r for r in rows if int(r[0]) == PERSON]
        if len(people) != 1:
            continue
        _, cx, cy, w, h = (float(v) for v in people[0])
        if h < 0.6 or w > 0.45 or h / w < 1.6:  # a whole standing person, not a face or a crowd
            continue
        img = cv2.imread(str(img_path))
        ih, iw = img.shape[:2]
        x1, y1 = int((cx - w / 2) * iw), int((cy - h / 2) * ih)
        x2, y2 = int((cx + w / 2) * iw), int((cy + h / 2) * ih)
        crop = img[max(y1, 0):y2, max(x1, 0):x2]
        scale = height / crop.shape[0]
        found.append((h * ih, cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height))))
    if len(found) < count:
        pytest.skip(f"coco128 has fewer than {count} whole single-person images")
    found.sort(key=lambda t: -t[0])
    return [c for _, c in found[:count]]


def background() -> np.ndarray:
    path = coco128_images(classes_absent={PERSON}, limit=1)[0]
    return cv2.resize(cv2.imread(str(path)), SIZE)


def render(walkers: list[Walker], frames: int, return_trip: bool = False) -> list[np.ndarray]:
    """Frames (H, W, 3) u8 BGR; each walker moves linearly (there and back when ``return_trip``)."""
    bg = background()
    steps = list(range(frames)) + (list(range(frames - 2, 0, -1)) if return_trip else [])
    out = []
    for i in steps:
        frame = bg.copy()
        t = i / max(frames - 1, 1)
        for w in walkers:
            x = round(w.start[0] + (w.end[0] - w.start[0]) * t)
            y = round(w.start[1] + (w.end[1] - w.start[1]) * t)
            ch, cw = w.crop.shape[:2]
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + cw, SIZE[0]), min(y + ch, SIZE[1])
            if x1 > x0 and y1 > y0:
                frame[y0:y1, x0:x1] = w.crop[y0 - y:y1 - y, x0 - x:x1 - x]
        out.append(frame)
    return out


def crossing_scene(frames: int = 40) -> list[np.ndarray]:
    """Two people: one walks left to right in front, one right to left a little higher; they pass."""
    a, b = person_crops(2)
    return render([Walker(a, (10, 230), (640 - a.shape[1] - 10, 240)),
                   Walker(b, (640 - b.shape[1] - 10, 20), (10, 40))], frames)


def pingpong_scene(frames: int = 100) -> list[np.ndarray]:
    """One person walking left to right and back, ~5 px a frame (the loop is seamless: a looping file
    camera; slow, so that a camera loop that skips frames on a busy machine still sees boxes overlap)."""
    (a,) = person_crops(1)
    return render([Walker(a, (20, 120), (640 - a.shape[1] - 20, 130))], frames, return_trip=True)


def write_avi(path: Path, frames: list[np.ndarray], fps: float = 10) -> Path:
    """MJPEG in AVI (OpenCV's own muxer: present in every build)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPEG AVI")
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video file as decoded by OpenCV (what the daemon's file camera sees)."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out
