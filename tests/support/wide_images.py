"""16:9 frames as cameras and phones send them: coco128 images centre-cropped to 16:9 and resized to
1280x720 (or 1920x1080), written as JPEGs. The parity test of ``models.shapes: minimal`` and the
serving benchmark both use them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def to_16_9(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, 3) u8 BGR centre-cropped to 16:9 and resized to ``size`` (w, h)."""
    h, w = image.shape[:2]
    if w * 9 >= h * 16:  # wider than 16:9: crop the sides
        cw, ch = h * 16 // 9, h
    else:
        cw, ch = w, w * 9 // 16
    x, y = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(image[y:y + ch, x:x + cw], size, interpolation=cv2.INTER_AREA)


def wide_jpegs(sources: list[Path], out: Path, size: tuple[int, int] = (1280, 720)) -> list[Path]:
    """One ``size`` (w, h) JPEG (quality 90) per source image, in ``out``; made once, reused after."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for src in sources:
        dst = out / f"{src.stem}_{size[0]}x{size[1]}.jpg"
        if not dst.exists():
            image = cv2.imread(str(src))
            if image is None:
                raise ValueError(f"{src}: not an image")
            cv2.imwrite(str(dst), to_16_9(image, size), [cv2.IMWRITE_JPEG_QUALITY, 90])
        made.append(dst)
    return made
