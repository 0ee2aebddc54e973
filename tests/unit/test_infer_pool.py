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


async def test_a_lone_request_runs_on_the_solo_request_from_a_worker_thread(models: tuple[ov.CompiledModel, ...]
                                                                           ) -> None:
    pool = InferPool(models[0], 2, solo=models[1])
    ran, total = await asyncio.to_thread(pool.try_solo_sync, tensor(1), lambda outputs: float(outputs[0].sum()))
    assert ran and total == 4 * 101 and pool.in_flight == 0
    assert (await pool.infer(tensor(0)))[0][0, 0] == 100  # the solo request is free again


async def test_the_worker_thread_path_declines_while_anything_is_in_flight(models: tuple[ov.CompiledModel, ...]
                                                                          ) -> None:
    pool = InferPool(models[0], 1, solo=models[1])
    running = asyncio.ensure_future(pool.infer(tensor(0)))  # takes the solo request
    await asyncio.sleep(0)
    # No await in between: the first cannot finish before the check (it declines at once, without inferring).
    assert pool.in_flight == 1 and pool.try_solo_sync(tensor(1), lambda outputs: 0) == (False, None)
    await running
    assert InferPool(models[0], 1).try_solo_sync(tensor(1), lambda outputs: 0) == (False, None)  # no solo at all


async def test_the_solo_request_is_never_run_twice_at_once(models: tuple[ov.CompiledModel, ...]) -> None:
    """Threads racing for it: each either runs on the solo request or declines; every answer is right."""
    pool = InferPool(models[0], 2, solo=models[1])
    results = await asyncio.gather(*[asyncio.to_thread(pool.try_solo_sync, tensor(i),
                                                       lambda outputs: float(outputs[0][0, 0])) for i in range(16)])
    assert any(ran for ran, _ in results)
    assert all(value == i + 100 for i, (ran, value) in enumerate(results) if ran)
    assert pool.in_flight == 0
