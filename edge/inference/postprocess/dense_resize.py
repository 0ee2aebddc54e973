"""Resizing of per-pixel maps exactly as PyTorch's ``F.interpolate`` does it, which Ultralytics'
semantic and depth predictors call: ``nearest`` for class maps, ``bilinear`` with ``align_corners=True``
for depth. OpenCV's resizes place pixel centres differently (and round bilinear weights to 1/32),
so the indices and weights are computed here, in float32 like torch's CPU kernels.
"""

from __future__ import annotations

import numpy as np


def nearest_indices(size_in: int, size_out: int) -> np.ndarray:
    """Source index of every output index for torch's ``mode="nearest"``: floor(i * in / out)."""
    if size_in == size_out:
        return np.arange(size_out)
    scale = np.float32(size_in / size_out)
    index = np.floor(np.arange(size_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(index, size_in - 1)


def resize_nearest(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) -> ``shape`` (H, W) with torch's ``nearest`` indexing; the dtype is kept."""
    rows = nearest_indices(grid.shape[0], shape[0])
    cols = nearest_indices(grid.shape[1], shape[1])
    return grid[rows[:, None], cols[None, :]]


def _aligned(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, upper index and weight of the upper one, for ``align_corners=True``."""
    if size_out == 1 or size_in == 1:
        zeros = np.zeros(size_out, np.int64)
        return zeros, zeros, np.zeros(size_out, np.float32)
    scale = np.float32((size_in - 1) / (size_out - 1))
    source = np.arange(size_out, dtype=np.float32) * scale
    low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, (source - low).astype(np.float32)


def resize_bilinear_aligned(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float -> ``shape`` (H, W) float32, torch's ``bilinear`` with ``align_corners=True``."""
    grid = grid.astype(np.float32, copy=False)
    if grid.shape == tuple(shape):
        return grid
    r0, r1, ry = _aligned(grid.shape[0], shape[0])
    c0, c1, cx = _aligned(grid.shape[1], shape[1])
    rows = grid[r0] * (1 - ry)[:, None] + grid[r1] * ry[:, None]
    return rows[:, c0] * (1 - cx)[None, :] + rows[:, c1] * cx[None, :]
