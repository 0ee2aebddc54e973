"""Bytes from a client -> a u8 BGR image, refusing what we must not decode.

The format and pixel count are read from the file header first, so a decompression bomb (a tiny
file claiming 60000 x 60000 pixels) is refused before any pixel is allocated. Accepted: JPEG, PNG,
WebP, BMP. GIF and TIFF are refused (415). Animated PNG and animated WebP decode to their first
frame, as Ultralytics' ``imread`` (``cv2.imdecode``) does; their canvas size is what is checked.
EXIF orientation is applied, as in Ultralytics: its ``imread`` is ``cv2.imdecode(..., IMREAD_COLOR)``,
which rotates JPEG, PNG and WebP by their EXIF orientation tag; we call the same function.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from edge.errors import BadImage, PayloadTooLarge, UnsupportedMediaType

ACCEPTED = ("jpeg", "png", "webp", "bmp")


def sniff(data: bytes) -> str:
    """The format named by the file's magic bytes, or a description of what it is instead."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"%PDF":
        return "pdf"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return "unknown"


def header_size(data: bytes, fmt: str) -> tuple[int, int]:
    """(width, height) read from the header, without decoding. Raises ``BadImage`` if unreadable."""
    try:
        if fmt == "png":
            if data[12:16] != b"IHDR":
                raise BadImage("the PNG has no IHDR header")
            return struct.unpack(">II", data[16:24])
        if fmt == "bmp":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if fmt == "webp":
            return _webp_size(data)
        if fmt == "jpeg":
            return _jpeg_size(data)
    except struct.error:
        pass
    raise BadImage(f"the {fmt.upper()} header is truncated or corrupt")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return w, h
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        b = data[21:25]
        bits = int.from_bytes(b, "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise BadImage("the WebP header is not VP8, VP8L or VP8X")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise BadImage("the JPEG is corrupt (bad marker)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise BadImage("the JPEG is truncated before its frame header")


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode ``data`` to (H, W, 3) u8 BGR. Raises BadImage, UnsupportedMediaType or PayloadTooLarge."""
    if not data:
        raise BadImage("the image is empty (0 bytes)")
    fmt = sniff(data)
    if fmt not in ACCEPTED:
        what = "an unrecognised file" if fmt == "unknown" else f"a {fmt.upper()} file"
        raise UnsupportedMediaType(f"the upload is {what}; accepted formats: JPEG, PNG, WebP, BMP")
    w, h = header_size(data, fmt)
    if w <= 0 or h <= 0:
        raise BadImage(f"the {fmt.upper()} header gives an empty size {w}x{h}")
    if w * h > max_pixels:
        raise PayloadTooLarge(f"the image is {w}x{h} = {w * h / 1e6:.1f} megapixels; "
                              f"the limit is {max_pixels / 1e6:.1f} megapixels")
    if fmt == "jpeg" and b"\xff\xd9" not in data[-1024:]:
        # OpenCV would decode a cut-off JPEG as grey rows and say nothing.
        raise BadImage("the JPEG is truncated (no end-of-image marker)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise BadImage(f"the {fmt.upper()} image could not be decoded (truncated or corrupt)")
    return image
