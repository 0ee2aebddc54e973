"""A dynamic-shape model run as static models, one compiled per input shape: the way Ultralytics runs
INT8 models with dynamic shapes on CPUs with AMX, where OpenVINO's dynamic INT8 kernels crash
(openvinotoolkit/openvino#37577, small inputs) and otherwise differ from the static ones.

Each new (H, W) is compiled once, off the event loop, and kept; at most ``MAX_SHAPES`` are kept,
the least recently used is dropped first. Same interface as ``InferPool``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from edge.inference.infer_pool import InferPool, T

MAX_SHAPES = 8  # a camera or an app sends a few image shapes; each compiled shape costs ~10-30 MB


class ShapePools:
    """``compile_for((h, w))`` returns the ``InferPool`` of the model reshaped to (1, h, w, 3); blocking."""

    def __init__(self, compile_for: Callable[[tuple[int, int]], InferPool]) -> None:
        self.compile_for = compile_for
        self._pools: OrderedDict[tuple[int, int], InferPool] = OrderedDict()
        self._compiling: dict[tuple[int, int], asyncio.Future[InferPool]] = {}
        self._lock = threading.Lock()  # warm_up runs in a thread, requests on the loop

    def _get_sync(self, shape: tuple[int, int]) -> InferPool:
        with self._lock:
            pool = self._pools.get(shape)
        if pool is None:
            pool = self.compile_for(shape)
            self._keep(shape, pool)
        return pool

    def _keep(self, shape: tuple[int, int], pool: InferPool) -> None:
        with self._lock:
            self._pools[shape] = pool
            self._pools.move_to_end(shape)
            for old in [s for s, p in self._pools.items() if s != shape and not p.in_flight]:
                if len(self._pools) <= MAX_SHAPES:
                    break
                del self._pools[old]

    async def _get(self, shape: tuple[int, int]) -> InferPool:
        with self._lock:
            pool = self._pools.get(shape)
            if pool is not None:
                self._pools.move_to_end(shape)
                return pool
        pending = self._compiling.get(shape)
        if pending is None:  # the first request of a shape compiles it; others wait for the same
            pending = asyncio.ensure_future(asyncio.to_thread(self.compile_for, shape))
            self._compiling[shape] = pending
            pending.add_done_callback(lambda _: self._compiling.pop(shape, None))
        pool = await asyncio.shield(pending)
        self._keep(shape, pool)
        return pool

    def warm_up(self, tensor: np.ndarray) -> None:
        self._get_sync(tensor.shape[1:3]).warm_up(tensor)

    def infer_sync(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self._get_sync(tensor.shape[1:3]).infer_sync(tensor)

    async def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        return await (await self._get(tensor.shape[1:3])).infer(tensor)

    async def infer_then(self, tensor: np.ndarray, finish: Callable[[list[np.ndarray]], T]) -> T:
        return await (await self._get(tensor.shape[1:3])).infer_then(tensor, finish)

    def _snapshot(self) -> list[InferPool]:
        with self._lock:
            return list(self._pools.values())

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self._snapshot())

    def oldest_age(self) -> float:
        return max((p.oldest_age() for p in self._snapshot()), default=0.0)
