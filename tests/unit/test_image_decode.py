"""``decode_image``: formats, header-first pixel limits (bombs are never decoded), EXIF orientation
and first frames compared with Ultralytics' own ``imread``, and a fuzz run that only ever sees our
own errors."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edge.errors import BadImage, EdgeError, PayloadTooLarge, UnsupportedMediaType
from edge.inference import image_decode
from edge.inference.image_decode import decode_image
from tests.support.hostile import progressive_jpeg, scan_bomb
from tests.support.in_process import png_claiming

pytestmark = [pytest.mark.ultralytics]

LIMIT = 50_000_000


def pil_bytes(fmt: str, size: tuple[int, int] = (60, 40), orientation: int | None = None, **kw: object) -> bytes:
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    arr[: h // 2, : w // 3] = (255, 0, 0)  # a red block top-left makes orientation visible
    image = Image.fromarray(arr)
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    image.save(out, fmt, **kw)
    return out.getvalue()


def bmp_claiming(w: int, h: int) -> bytes:
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 0, 0, 0, 0)
    return header + info + b"\x00" * 16


def jpeg_claiming(w: int, h: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\x00" * 32 + b"\xff\xd9"


def webp_claiming(w: int, h: int) -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + \
        (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


@pytest.mark.parametrize("data,shape", [
    (pil_bytes("JPEG"), (40, 60, 3)),
    (pil_bytes("PNG"), (40, 60, 3)),
    (pil_bytes("WEBP"), (40, 60, 3)),
    (pil_bytes("WEBP", lossless=True), (40, 60, 3)),
    (pil_bytes("BMP"), (40, 60, 3)),
    (progressive_jpeg(64), (64, 64, 3)),
    (scan_bomb(80, 64), (64, 64, 3)),  # 90 scans: odd, but under the limit
    (cv2.imencode(".png", np.zeros((7, 9), np.uint8))[1].tobytes(), (7, 9, 3)),  # greyscale becomes 3-channel BGR, as Ultralytics reads it
])
def test_accepted_formats(data: bytes, shape: tuple[int, int, int]) -> None:
    image = decode_image(data, LIMIT)
    assert image.shape == shape and image.dtype == np.uint8


@pytest.mark.parametrize("data,error,fragment", [
    (b"", BadImage, "empty"),
    (pil_bytes("GIF"), UnsupportedMediaType, "GIF"),
    (pil_bytes("TIFF"), UnsupportedMediaType, "TIFF"),
    (b"%PDF-1.4\n", UnsupportedMediaType, "PDF"),
    (b"hello world", UnsupportedMediaType, "unrecognised"),
    (pil_bytes("JPEG")[:300], BadImage, "truncated"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", BadImage, "IHDR"),
    (png_claiming(60000, 60000), PayloadTooLarge, "60000x60000"),
    (bmp_claiming(60000, -60000), PayloadTooLarge, "60000x60000"),
    (jpeg_claiming(60000, 60000), PayloadTooLarge, "60000x60000"),
    (webp_claiming(16000, 16000), PayloadTooLarge, "16000x16000"),
    (png_claiming(0, 10), BadImage, "empty size"),
    (scan_bomb(200, 64), BadImage, "more than 100 scans"),  # a progressive JPEG's last scan repeated
])
def test_refused(data: bytes, error: type[EdgeError], fragment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*a: object) -> None:
        raise AssertionError("cv2.imdecode was called on a file that must be refused from its header")
    if error is not BadImage or fragment in ("empty", "IHDR", "empty size", "more than 100 scans"):
        monkeypatch.setattr(image_decode.cv2, "imdecode", never)
    with pytest.raises(error, match=fragment):
        decode_image(data, LIMIT)


def ultralytics_imread(tmp_path: Path, data: bytes, suffix: str) -> np.ndarray:
    patches = pytest.importorskip("ultralytics.utils.patches", reason="ultralytics is the reference")
    path = tmp_path / f"image{suffix}"
    path.write_bytes(data)
    image = patches.imread(str(path))
    assert image is not None
    return image


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp")])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_matches_ultralytics(tmp_path: Path, fmt: str, suffix: str, orientation: int) -> None:
    data = pil_bytes(fmt, orientation=orientation, **({"quality": 95} if fmt != "PNG" else {}))
    ours = decode_image(data, LIMIT)
    reference = ultralytics_imread(tmp_path, data, suffix)
    assert ours.shape == reference.shape
    assert ours.shape[:2] == ((60, 40) if orientation in (6, 8) else (40, 60))
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("WEBP", ".webp")])
def test_animated_first_frame_as_ultralytics(tmp_path: Path, fmt: str, suffix: str) -> None:
    frames = [Image.fromarray(np.full((30, 50, 3), v, np.uint8)) for v in (10, 200, 90)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=50, loop=0, lossless=True)
    ours = decode_image(out.getvalue(), LIMIT)
    assert ours.shape == (30, 50, 3) and int(ours.mean()) == 10
    np.testing.assert_array_equal(ours, ultralytics_imread(tmp_path, out.getvalue(), suffix))


SEEDS = [pil_bytes("JPEG"), pil_bytes("PNG"), pil_bytes("WEBP"), pil_bytes("BMP"), png_claiming(100, 100)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i: i + draw(st.integers(1, 64))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "header" and len(data) > 30:
            j = draw(st.integers(0, 29))
            data[j] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=512)))
def test_fuzz_decode_only_raises_our_errors(data: bytes) -> None:
    try:
        image = decode_image(data, 4_000_000)
    except EdgeError:
        return
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.size > 0
    assert image.shape[0] * image.shape[1] <= 4_000_000
