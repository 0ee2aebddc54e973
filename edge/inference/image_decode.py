"""Bytes from a client -> a u8 BGR image, refusing what we must not decode.

The format and pixel count are read from the file header first, so a decompression bomb (a tiny
file claiming 60000 x 60000 pixels) is refused before any pixel is allocated. Accepted: JPEG, PNG,
WebP, BMP. GIF and TIFF are refused (415). Animated PNG and animated WebP decode to their first
frame, as Ultralytics' ``imread`` (``cv2.imdecode``) does; their canvas size is what is checked.
EXIF orientation is applied, as in Ultralytics: its ``imread`` is ``cv2.imdecode(..., IMREAD_COLOR)``,
which rotates JPEG, PNG and WebP by their EXIF orientation tag; we call the same function.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import BadImage, PayloadTooLarge, UnsupportedMediaType

ACCEPTED = ("jpeg", "png", "webp", "bmp")
# OpenCV's (libjpeg's) progressive JPEG has 10 scans; libjpeg-turbo's own guard (TJPARAM_SCANLIMIT)
# is meant for "an unreasonably large number of scans". Past this many the file is refused unread.
MAX_SCANS = 100
MAX_SEGMENTS = 2000  # marker segments outside the scans (tables, APPn): a real file has a few dozen
HEAVY_PIXELS = 3840 * 2160  # 4K UHD; larger images decode one at a time (edge.inference.decode_lanes)
HEAVY_SCANS = 12
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# In entropy-coded data 0xFF is followed by 0x00 (stuffing) or RSTn; anything else is the next marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


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


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, before any pixel is decoded: format, size and (JPEG) number of scans."""

    fmt: str
    width: int
    height: int
    scans: int = 1

    @property
    def heavy(self) -> bool:
        """Large enough to decode in the one heavy lane (``decode_lanes``): past 4K UHD, or a JPEG with
        more scans than a standard progressive one (each scan is one more pass over every pixel)."""
        return self.width * self.height > HEAVY_PIXELS or self.scans > HEAVY_SCANS


def _header(data: bytes, fmt: str) -> tuple[int, int, int]:
    """(width, height, scans) read from the header, without decoding."""
    try:
        if fmt == "png":
            if data[12:16] != b"IHDR":
                raise BadImage("the PNG has no IHDR header")
            return (*struct.unpack(">II", data[16:24]), 1)
        if fmt == "bmp":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h), 1
        if fmt == "webp":
            return (*_webp_size(data), 1)
        if fmt == "jpeg":
            return _jpeg_header(data)
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


def _jpeg_header(data: bytes) -> tuple[int, int, int]:
    """Walk the marker segments and skip each scan's entropy-coded data to the next marker, counting
    the scans (SOS); -1 scans for a bad marker after the frame header. Counting stops past
    ``MAX_SCANS``: the file is refused anyway."""
    i, n = 2, len(data)
    size: tuple[int, int] | None = None
    scans = segments = 0
    while i + 4 <= n and scans <= MAX_SCANS:
        if data[i] != 0xFF:
            if size is None:
                raise BadImage("the JPEG is corrupt (bad marker)")
            return size[0], size[1], -1  # after the frame header: the size check still comes first
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image
            break
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        segments += 1
        if segments > MAX_SEGMENTS:
            raise BadImage(f"the JPEG has more than {MAX_SEGMENTS} marker segments; refused before decoding")
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in SOF_MARKERS and size is None:
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            size = (w, h)
        i += 2 + length
        if marker == 0xDA:  # start of scan: its entropy-coded data runs to the next real marker
            scans += 1
            found = _NEXT_MARKER.search(data, i)
            i = found.start() if found else n
    if size is None:
        raise BadImage("the JPEG is truncated before its frame header")
    return size[0], size[1], scans


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode ``data`` to (H, W, 3) u8 BGR. Raises BadImage, UnsupportedMediaType or PayloadTooLarge."""
    return decode_checked(data, read_header(data, max_pixels))


def read_header(data: bytes, max_pixels: int) -> ImageHeader:
    """The checked header of ``data``: every refusal that needs no decoding happens here.
    Raises BadImage, UnsupportedMediaType or PayloadTooLarge."""
    if not data:
        raise BadImage("the image is empty (0 bytes)")
    fmt = sniff(data)
    if fmt not in ACCEPTED:
        what = "an unrecognised file" if fmt == "unknown" else f"a {fmt.upper()} file"
        raise UnsupportedMediaType(f"the upload is {what}; accepted formats: JPEG, PNG, WebP, BMP")
    w, h, scans = _header(data, fmt)
    if w <= 0 or h <= 0:
        raise BadImage(f"the {fmt.upper()} header gives an empty size {w}x{h}")
    if w * h > max_pixels:
        raise PayloadTooLarge(f"the image is {w}x{h} = {w * h / 1e6:.1f} megapixels; "
                              f"the limit is {max_pixels / 1e6:.1f} megapixels")
    if fmt == "jpeg":
        if scans == -1:
            raise BadImage("the JPEG is corrupt (bad marker)")
        if scans == 0:
            raise BadImage("the JPEG is truncated before its first scan")
        if scans > MAX_SCANS:
            # Each scan is one more pass over every pixel: 1,000 repeats of one scan of a 49 MP
            # image hold a CPU for about a minute (docs/errors.md).
            raise BadImage(f"the JPEG has more than {MAX_SCANS} scans; refused before decoding "
                           "(a progressive JPEG has about 10)")
        if b"\xff\xd9" not in data[-1024:]:
            # OpenCV would decode a cut-off JPEG as grey rows and say nothing.
            raise BadImage("the JPEG is truncated (no end-of-image marker)")
    return ImageHeader(fmt, w, h, scans)


def decode_checked(data: bytes, header: ImageHeader) -> np.ndarray:
    """Decode ``data`` whose ``header`` ``read_header`` accepted, to (H, W, 3) u8 BGR."""
    fmt = header.fmt
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise BadImage(f"the {fmt.upper()} image could not be decoded (truncated or corrupt)")
    return image
