"""The per-pixel pieces of semantic and depth serving against their references: torch's ``F.interpolate``
(which Ultralytics' predictors call), Ultralytics' ``Results.summary()``, and the ``ultralytics-platform``
SDK's depth decoding."""

from __future__ import annotations

import numpy as np
import pytest

from edge.inference.dense_png import depth_levels, semantic_mask_field
from edge.inference.postprocess.dense_resize import resize_bilinear_aligned, resize_nearest
from edge.inference.summary import semantic_items

torch = pytest.importorskip("torch")
SIZES = [((160, 160), (480, 640)), ((160, 160), (1080, 810)), ((40, 40), (160, 160)), ((97, 131), (50, 33)),
         ((1, 5), (3, 7))]


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_nearest_is_torchs(src: tuple[int, int], dst: tuple[int, int]) -> None:
    grid = np.random.default_rng(0).integers(0, 200, src).astype(np.uint8)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(grid)[None, None].float(), dst, mode="nearest")[0, 0]
    assert np.array_equal(resize_nearest(grid, dst), theirs.numpy().astype(np.uint8))


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_bilinear_aligned_is_torchs(src: tuple[int, int], dst: tuple[int, int]) -> None:
    grid = np.random.default_rng(1).random(src, dtype=np.float32) * 50
    theirs = torch.nn.functional.interpolate(torch.from_numpy(grid)[None, None], dst, mode="bilinear",
                                             align_corners=True)[0, 0].numpy()
    assert np.abs(resize_bilinear_aligned(grid, dst) - theirs).max() <= 1e-4


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_depth_png_decodes_as_the_sdk_does(bits: int) -> None:
    depth = np.random.default_rng(2).random((48, 64)).astype(np.float32) * 20 + 0.5
    pixels = depth_levels(depth, bits)
    assert pixels.dtype == (np.uint8 if bits == 8 else np.uint16)
    decoded = pixels.astype(np.float32) * depth.max() / (255 if bits == 8 else 65535)  # ultralytics_platform/cli.py
    # half a level, plus (12 bits, spread over the 16-bit range) half a 16-bit level of rounding
    bound = depth.max() / (2 ** bits - 1) / 2 + (depth.max() / 65535 / 2 if bits == 12 else 0) + 1e-5
    assert np.abs(decoded - depth).max() <= bound
    assert len(np.unique(pixels)) <= 2 ** bits


def test_depth_bits_outside_the_choices() -> None:
    with pytest.raises(ValueError, match="bits must be one of"):
        depth_levels(np.ones((2, 2), np.float32), 10)


def test_blank_depth_is_zero_not_nan() -> None:
    assert not depth_levels(np.zeros((4, 4), np.float32), 16).any()


@pytest.mark.ultralytics
@pytest.mark.parametrize("names", [{0: "road", 1: "car", 2: "sky"}, {0: "crack"}])
def test_semantic_summary_is_ultralytics(names: dict[int, str]) -> None:
    """Per-class pixel ratios; a one-class model counts class 1 (0 is background); 255 is no class."""
    from ultralytics.engine.results import Results

    mask = np.random.default_rng(3).integers(0, len(names) + 1, (30, 40)).astype(np.uint8)
    mask[:3] = 255
    theirs = Results(np.zeros((30, 40, 3), np.uint8), "x.jpg", names, semantic_mask=torch.from_numpy(mask)).summary()
    assert semantic_items(mask, names, 5) == theirs


def test_semantic_mask_png_keeps_class_indices() -> None:
    import base64

    import cv2

    mask = np.arange(300 * 2, dtype=np.int16).reshape(2, 300) % 300  # past 256 classes: 16-bit
    field = semantic_mask_field(mask)
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(field["data"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert field["shape"] == [2, 300] and np.array_equal(decoded, mask)
