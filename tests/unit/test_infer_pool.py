"""InferPool on two tiny models built here: ``x + 1`` as the throughput model, ``x + 100`` as the solo
(latency) one, so every answer tells which compilation ran it."""

from __future__ import annotations

import asyncio

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops

from edge.inference.infer_pool import InferPool


def plus(constant: float) -> ov.CompiledModel:
    x = ops.parameter([1, 4], ov.Type.f32, name="x")
    model = ov.Model([ops.add(x, ops.constant(np.float32(constant)))], [x], f"plus{constant:g}")
    return ov.Core().compile_model(model, "CPU")


def tensor(value: float) -> np.ndarray:
    return np.full((1, 4), value, np.float32)


@pytest.fixture(scope="module")
def models() -> tuple[ov.CompiledModel, ov.CompiledModel]:
    return plus(1), plus(100)


async def test_a_lone_request_runs_on_the_solo_compilation(models: tuple[ov.CompiledModel, ...]) -> None:
    pool = InferPool(models[0], 2, solo=models[1])
    out = await pool.infer(tensor(1))
    assert out[0][0, 0] == 101 and pool.in_flight == 0


async def test_concurrent_requests_use_the_pool(models: tuple[ov.CompiledModel, ...]) -> None:
    pool = InferPool(models[0], 2, solo=models[1])
    outs = await asyncio.gather(*[pool.infer(tensor(i)) for i in range(8)])
    added = sorted(int(o[0][0, 0]) - i for i, o in enumerate(outs))
    assert added[0] == 1 and added.count(100) <= 1  # at most the first one was alone
    assert pool.in_flight == 0


async def test_without_solo_every_request_uses_the_pool(models: tuple[ov.CompiledModel, ...]) -> None:
    pool = InferPool(models[0], 1)
    outs = await asyncio.gather(*[pool.infer(tensor(i)) for i in range(4)])
    assert [int(o[0][0, 0]) for o in outs] == [1, 2, 3, 4]


async def test_infer_then_runs_finish_on_the_outputs(models: tuple[ov.CompiledModel, ...]) -> None:
    pool = InferPool(models[0], 2, solo=models[1])
    total = await pool.infer_then(tensor(2), lambda outputs: float(outputs[0].sum()))
    assert total == 4 * 102


async def test_an_error_in_finish_reaches_the_caller_and_frees_the_request(models: tuple[ov.CompiledModel, ...]
                                                                          ) -> None:
    pool = InferPool(models[0], 1, solo=models[1])

    def broken(outputs: list[np.ndarray]) -> None:
        raise ValueError("post-processing failed")

    with pytest.raises(ValueError, match="post-processing failed"):
        await pool.infer_then(tensor(0), broken)
    assert pool.in_flight == 0
    assert (await pool.infer(tensor(0)))[0][0, 0] == 100
