"""Frigate's tensors -> the image the predictor takes, and predictions -> Frigate's (20, 6) rows, without a
daemon: every layout and dtype Frigate's input transform produces gives back exactly the pixels it started
from, in BGR; the rows are normalized, best first, capped at 20."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from edge import errors
from edge.http.zmq_frames import read_header, rows, tensor_image
from edge.inference.prediction import Prediction
from tests.support.frigate_client import FrigateZmq

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (1, 48, 64, 3), dtype=np.uint8)  # Frigate's region: (1, H, W, 3)
MAX_PIXELS = 10_000_000


def frigate_tensor(input_tensor: str, input_dtype: str, region: np.ndarray = RGB) -> np.ndarray:
    """What Frigate's ``LocalObjectDetector._transform_input`` hands its zmq detector."""
    client = FrigateZmq.__new__(FrigateZmq)  # only the transform: no socket
    client.input_tensor, client.input_dtype = input_tensor, input_dtype
    return client.transform(region)


def header_of(t: np.ndarray, **override: Any) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": t.dtype.name, "model_type": "yolo-generic", **override}


@pytest.mark.parametrize("input_tensor", ["nhwc", "nchw", "hwnc", "hwcn"])
@pytest.mark.parametrize("input_dtype", ["int", "float", "float_denorm"])
@pytest.mark.parametrize("pixel_format", ["rgb", "bgr"])
def test_every_layout_gives_back_the_pixels(input_tensor: str, input_dtype: str, pixel_format: str) -> None:
    region = RGB if pixel_format == "rgb" else np.ascontiguousarray(RGB[..., ::-1])  # Frigate's bgr region
    t = frigate_tensor(input_tensor, input_dtype, region)
    image = tensor_image(header_of(t), t.tobytes(), pixel_format, MAX_PIXELS)
    assert image.dtype == np.uint8 and image.flags.c_contiguous and image.flags.writeable
    assert np.array_equal(image, RGB[0][..., ::-1]), "BGR, exactly Frigate's pixels"


def test_dark_float_denorm_reads_as_normalized() -> None:
    """float and float_denorm are told apart by the largest value: an image of only 0s and 1s reads as
    0-1 (documented; it is black either way)."""
    t = np.ones((1, 32, 32, 3), np.float32)
    assert (tensor_image(header_of(t), t.tobytes(), "bgr", MAX_PIXELS) == 255).all()


GOOD = frigate_tensor("nhwc", "int")
BAD: list[tuple[str, dict[str, Any], bytes, type[errors.EdgeError], str]] = [
    ("no-shape", {"dtype": "uint8"}, GOOD.tobytes(), errors.BadRequest, "shape must be 4 positive integers"),
    ("bool-dim", header_of(GOOD, shape=[True, 48, 64, 3]), GOOD.tobytes(), errors.BadRequest, "4 positive"),
    ("zero-dim", header_of(GOOD, shape=[1, 0, 64, 3]), b"", errors.BadRequest, "4 positive"),
    ("float-dim", header_of(GOOD, shape=[1, 48.0, 64, 3]), GOOD.tobytes(), errors.BadRequest, "4 positive"),
    ("dtype-missing", header_of(GOOD, dtype=None), GOOD.tobytes(), errors.BadRequest, "dtype must be uint8"),
    ("gray", header_of(GOOD, shape=[1, 48, 64, 1]), GOOD.tobytes()[: 48 * 64], errors.BadRequest,
     "is not an image tensor"),
    ("batch-2", header_of(GOOD, shape=[2, 48, 64, 3]), GOOD.tobytes() * 2, errors.BadRequest, "is not an image"),
    ("too-many-bytes", header_of(GOOD), GOOD.tobytes() + b"x", errors.BadRequest, "has 9217 bytes"),
    ("over-max-pixels", header_of(GOOD), GOOD.tobytes(), errors.PayloadTooLarge, "server.max_image_mpix"),
    ("inf", header_of(GOOD, dtype="float32"), np.full(GOOD.shape, np.inf, np.float32).tobytes(),
     errors.BadRequest, "NaN or infinite"),
]


@pytest.mark.parametrize("header, data, kind, fragment", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_tensors(header: dict[str, Any], data: bytes, kind: type[errors.EdgeError], fragment: str) -> None:
    limit = 1000 if kind is errors.PayloadTooLarge else MAX_PIXELS
    with pytest.raises(kind) as info:
        tensor_image(header, data, "rgb", limit)
    assert fragment in str(info.value)


@pytest.mark.parametrize("frames, fragment", [
    ([], "at most 64 KB"), ([b"x" * 70_000], "at most 64 KB"), ([b"\xff\xfe"], "JSON object"),
    ([b"null"], "JSON object"), ([b'"shape"'], "JSON object"), ([json.dumps({"shape": [1]}).encode()], None),
])
def test_read_header(frames: list[bytes], fragment: str | None) -> None:
    if fragment is None:
        assert read_header(frames) == {"shape": [1]}
        return
    with pytest.raises(errors.BadRequest, match=fragment):
        read_header(frames)


@pytest.mark.parametrize("n", [0, 3, 20, 25])
def test_rows(n: int) -> None:
    """[class, score, y_min, x_min, y_max, x_max] as fractions of (h, w), the first 20, zeros after."""
    h, w = 300, 400
    boxes = np.array([[10 + i, 20 + i, 200 + i, 100 + i] for i in range(n)], np.float32).reshape(n, 4)
    scores = np.linspace(0.9, 0.41, n, dtype=np.float32)
    pred = Prediction((h, w), boxes, scores, np.arange(n) % 80)
    out = rows(pred)
    assert out.shape == (20, 6) and out.dtype == np.float32
    k = min(n, 20)
    assert np.array_equal(out[:k, 0], np.arange(k) % 80) and np.array_equal(out[:k, 1], scores[:k])
    expected = boxes[:k][:, [1, 0, 3, 2]] / np.array([h, w, h, w], np.float32)
    assert np.allclose(out[:k, 2:], expected, atol=1e-7) and not out[k:].any()
