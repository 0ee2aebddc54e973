"""A model run as static models, one compiled per input shape.

Two users: INT8 dynamic exports on CPUs with AMX, the way Ultralytics runs them there (OpenVINO's
dynamic INT8 kernels crash on small inputs, openvinotoolkit/openvino#37577, and otherwise differ from
the static ones); and ``models.shapes: minimal``, where each request runs at the stride-padded
rectangle of its image instead of the square (a 16:9 frame at 640 is 384x640: 40 % fewer pixels).

Each new (H, W) is compiled once, off the event loop, and kept; at most ``max_shapes``
(``models.max_shapes``) are kept besides the pinned ones (the square the model was exported at), the least
recently used is dropped first. A request either waits for its shape's compile (``infer``) or, with
``ready``, asks first and runs at the pinned square while the compile happens in a background thread.
Shapes a bundle records are compiled at start (``precompile``), as many as the bound allows. Same
interface as ``InferPool``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from edge.inference.infer_pool import InferPool, T

logger = logging.getLogger(__name__)

# A camera or an app sends a few shapes; one costs ~100 MB of RSS for yolov8n INT8 (docs/benchmark.md, "Shapes").
MAX_SHAPES = 8


class ShapePools:
    """``compile_for((h, w))`` returns the ``InferPool`` of the model reshaped to (1, h, w, 3); blocking.
    ``pinned`` pools (by shape) are never dropped; at most ``max_shapes`` others are kept (at least one
    when nothing is pinned: then every request needs a compiled shape of its own)."""

    def __init__(self, compile_for: Callable[[tuple[int, int]], InferPool],
                 pinned: dict[tuple[int, int], InferPool] | None = None, name: str = "model",
                 max_shapes: int = MAX_SHAPES) -> None:
        self.compile_for = compile_for
        self.name = name
        self.max_shapes = max_shapes if pinned else max(max_shapes, 1)
        self._pinned = set(pinned or {})
        self._pools: OrderedDict[tuple[int, int], InferPool] = OrderedDict(pinned or {})
        self._compiling: dict[tuple[int, int], asyncio.Future[InferPool]] = {}
        self._background: set[tuple[int, int]] = set()  # compiling in a thread of its own (``ready``)
        self._failed: set[tuple[int, int]] = set()  # a background compile failed: stay on the square
        self._lock = threading.Lock()  # warm_up and ``ready`` run in threads, requests on the loop

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
            # in the same lock: a caller that sees the shape compiled may start the next compile at once
            self._background.discard(shape)
            unpinned = len(self._pools) - len(self._pinned)
            for old in [s for s, p in self._pools.items()
                        if s != shape and s not in self._pinned and not p.in_flight]:
                if unpinned <= self.max_shapes:
                    break
                del self._pools[old]
                unpinned -= 1

    def ready(self, shape: tuple[int, int]) -> bool:
        """Whether ``shape`` is compiled. If not, its compile starts in a background thread (once; one
        compile at a time, a shape asked during another's compile is started by a later request) and the
        caller runs at a pinned shape meanwhile, so no request waits for a compile. Thread-safe."""
        with self._lock:
            if shape in self._pools:
                self._pools.move_to_end(shape)
                return True
            if self._background or shape in self._failed or self.max_shapes == 0:
                return False  # one compile at a time: a storm of new shapes must not starve inference
            self._background.add(shape)
        # not a daemon thread: the exit waits for it, as a thread inside OpenVINO when Python shuts down
        # aborts the process
        threading.Thread(target=self._compile_in_background, args=(shape,), daemon=False,
                         name=f"compile-{shape[0]}x{shape[1]}").start()
        return False

    def _compile_in_background(self, shape: tuple[int, int]) -> None:
        t0 = time.perf_counter()
        try:
            pool = self.compile_for(shape)
            pool.warm_up(np.full((1, *shape, 3), 114, np.uint8))
        except Exception as exc:  # noqa: BLE001 - the square keeps serving; say why once
            logger.warning("%s: compiling input shape %dx%d failed, staying on the square: %s",
                           self.name, *shape, exc)
            with self._lock:
                self._failed.add(shape)
                self._background.discard(shape)
            return
        self._keep(shape, pool)
        logger.info("%s: input shape %dx%d compiled in %.2f s", self.name, *shape, time.perf_counter() - t0)

    def precompile(self, shapes: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
        """Compile and warm ``shapes`` now (blocking: at start, off the loop), as many as ``max_shapes``
        leaves room for; returns the shapes refused for want of room."""
        room = self.max_shapes - (len(self.shapes) - len(self._pinned))
        wanted = [s for s in shapes if s not in self.shapes]
        for shape in wanted[:max(room, 0)]:
            pool = self.compile_for(shape)
            pool.warm_up(np.full((1, *shape, 3), 114, np.uint8))
            self._keep(shape, pool)
        return wanted[max(room, 0):]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """The compiled (h, w) shapes, least recently used first."""
        with self._lock:
            return list(self._pools)

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
