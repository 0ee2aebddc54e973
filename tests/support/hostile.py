"""Hostile inputs built from real encoders, shared by the tests and ``bench/``: a progressive-JPEG scan
bomb (OpenCV's own progressive JPEG, its last scan repeated) and a 16-bit PNG of many megapixels."""

from __future__ import annotations

import re

import cv2
import numpy as np

SOS = re.compile(rb"\xff\xda")


def progressive_jpeg(side: int = 7000) -> bytes:
    """OpenCV's progressive JPEG of a flat ``side`` x ``side`` image (its refinement scans are tiny)."""
    ok, buf = cv2.imencode(".jpg", np.full((side, side, 3), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    return buf.tobytes()


def scan_bomb(repeats: int = 1000, side: int = 7000) -> bytes:
    """``progressive_jpeg(side)`` with its last scan repeated ``repeats`` more times before EOI: a valid
    header, a few hundred KB, and a decode that costs one full refinement pass per repeat."""
    data = progressive_jpeg(side)
    last = [m.start() for m in SOS.finditer(data)][-1]
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + data[last:-2] * repeats + b"\xff\xd9"


def sixteen_bit_png(side: int = 7000) -> bytes:
    """A 16-bit RGB PNG of ``side`` x ``side`` (49 MP at 7000): small on the wire, big when decoded."""
    ok, buf = cv2.imencode(".png", np.full((side, side, 3), 30000, np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return buf.tobytes()
