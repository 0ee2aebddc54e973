"""ShapePools: one static compilation per input shape, made once (also when the first requests of a
shape arrive together), kept up to MAX_SHAPES, least recently used dropped first. The model built here
sums its (1, H, W, 3) input, so every answer also shows which shape ran it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import openvino as ov
from openvino import opset13 as ops

from edge.inference.compile_options import cpu_has_amx_int8
from edge.inference.infer_pool import InferPool
from edge.inference.shape_pools import ShapePools


def summing_pool(hw: tuple[int, int], compiled: list[tuple[int, int]]) -> InferPool:
    x = ops.parameter([1, *hw, 3], ov.Type.f32, name="x")
    model = ov.Model([ops.reduce_sum(x, ops.constant(np.array([1, 2, 3], np.int64)), False)], [x], "sum")
    compiled.append(hw)
    return InferPool(ov.Core().compile_model(model, "CPU"), 2)


def image(h: int, w: int) -> np.ndarray:
    return np.ones((1, h, w, 3), np.float32)


async def test_each_shape_is_compiled_once_and_runs_at_its_size() -> None:
    compiled: list[tuple[int, int]] = []
    pools = ShapePools(lambda hw: summing_pool(hw, compiled))
    first = await asyncio.gather(*(pools.infer(image(32, 64)) for _ in range(4)))  # together: one compile
    assert [float(o[0][0]) for o in first] == [32 * 64 * 3] * 4
    assert float((await pools.infer(image(64, 32)))[0][0]) == 64 * 32 * 3
    await pools.infer(image(32, 64))
    assert compiled == [(32, 64), (64, 32)]
    assert pools.in_flight == 0 and pools.oldest_age() == 0.0


async def test_at_most_max_shapes_are_kept() -> None:
    compiled: list[tuple[int, int]] = []
    pools = ShapePools(lambda hw: summing_pool(hw, compiled), max_shapes=2)
    for hw in [(32, 32), (32, 64), (32, 32), (64, 64), (32, 32), (32, 64)]:
        await pools.infer(image(*hw))
    # (32, 64) was the least recently used when (64, 64) came, so it was dropped and compiled again
    assert compiled == [(32, 32), (32, 64), (64, 64), (32, 64)]


def test_warm_up_compiles_in_the_calling_thread() -> None:
    compiled: list[tuple[int, int]] = []
    pools = ShapePools(lambda hw: summing_pool(hw, compiled))
    pools.warm_up(image(32, 32))
    assert compiled == [(32, 32)]


def test_amx_is_read_from_cpuinfo(tmp_path: Path) -> None:
    (tmp_path / "amx").write_text("flags\t: fpu avx512f amx_tile amx_int8 amx_bf16\n")
    (tmp_path / "plain").write_text("flags\t: fpu avx2\n")
    assert cpu_has_amx_int8(tmp_path / "amx") and not cpu_has_amx_int8(tmp_path / "plain")
    assert not cpu_has_amx_int8(tmp_path / "absent")
