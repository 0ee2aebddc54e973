"""A pool of OpenVINO infer requests driven from asyncio.

Each call takes an idle request, starts it asynchronously and awaits its completion callback, so
the event loop never blocks on inference. The pool size bounds the inferences in flight; the start
times of running requests let a watchdog tell "busy" from "stuck".

The performance hint follows the load: an image that arrives while nothing else is in flight runs on
the ``solo`` request, compiled for latency (one stream, every core on that image); under load,
images run on the pool's requests, compiled for throughput (one stream per core).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import openvino as ov

from edge.errors import DeviceError

T = TypeVar("T")


class InferPool:
    """``size`` parallel infer requests of one compiled model (one input, any outputs), and
    optionally one ``solo`` request of the same model compiled for latency, used when idle."""

    def __init__(self, compiled: ov.CompiledModel, size: int, solo: ov.CompiledModel | None = None) -> None:
        self.compiled = compiled
        self.size = size
        self._idle: deque[ov.InferRequest] = deque(compiled.create_infer_request() for _ in range(size))
        self.solo = solo
        self._solo = solo.create_infer_request() if solo is not None else None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._started: dict[int, float] = {}  # id(request) -> monotonic start time

    def infer_sync(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Blocking inference on a fresh request (warm-up and tools; never on the event loop)."""
        request = self.compiled.create_infer_request()
        request.infer({0: tensor})
        return [request.get_output_tensor(i).data.copy() for i in range(len(self.compiled.outputs))]

    def warm_up(self, tensor: np.ndarray) -> None:
        """One blocking inference on each compiled model (never on the event loop)."""
        self.infer_sync(tensor)
        if self._solo is not None:
            self._solo.infer({0: tensor})

    async def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run ``tensor`` (shaped as the compiled input) and return copies of every output."""
        outputs: list[np.ndarray] = await self._submit(tensor, None)
        return outputs

    async def infer_then(self, tensor: np.ndarray, finish: Callable[[list[np.ndarray]], T]) -> T:
        """Run ``tensor`` and return ``finish(outputs)``, called in the completion callback on the
        request's own output tensors (no copy, no thread hop) before the request is reused.
        ``finish`` must keep no view of them, and runs on an OpenVINO thread: keep it short."""
        result: T = await self._submit(tensor, finish)
        return result

    async def _submit(self, tensor: np.ndarray, finish: Callable[[list[np.ndarray]], Any] | None) -> Any:
        loop = asyncio.get_running_loop()
        if self._solo is not None and not self._started and not self._waiters:
            return await self._run(self._solo, tensor, loop, finish)
        while not self._idle:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        return await self._run(self._idle.popleft(), tensor, loop, finish)

    async def _run(self, request: ov.InferRequest, tensor: np.ndarray, loop: asyncio.AbstractEventLoop,
                   finish: Callable[[list[np.ndarray]], Any] | None) -> Any:
        done: asyncio.Future[Any] = loop.create_future()
        request.set_callback(self._on_done, (request, done, loop, finish))
        self._started[id(request)] = time.monotonic()
        try:
            # The tensor is ours until completion, so OpenVINO may read it in place.
            request.start_async({0: tensor}, share_inputs=True)
        except RuntimeError as exc:
            self._release(request)
            raise DeviceError(f"inference could not start: {exc}") from exc
        # Shielded: if the caller is cancelled, the callback still returns the request to the pool.
        return await asyncio.shield(done)

    def _on_done(self, userdata: tuple[ov.InferRequest, asyncio.Future[Any], asyncio.AbstractEventLoop,
                                       Callable[[list[np.ndarray]], Any] | None]) -> None:
        request, done, loop, finish = userdata
        result: Any
        try:
            outputs = [request.get_output_tensor(i).data for i in range(len(self.compiled.outputs))]
        except Exception as exc:  # noqa: BLE001 - surfaced to the awaiting request
            result = DeviceError(f"inference failed: {exc}")
        else:
            try:
                result = [o.copy() for o in outputs] if finish is None else finish(outputs)
            except Exception as exc:  # noqa: BLE001 - raised to the awaiting request as it is
                result = exc
        loop.call_soon_threadsafe(self._finish, request, done, result)

    def _finish(self, request: ov.InferRequest, done: asyncio.Future[Any], outputs: Any) -> None:
        self._release(request)
        if done.cancelled():
            return
        if isinstance(outputs, BaseException):
            done.set_exception(outputs)
        else:
            done.set_result(outputs)

    def _release(self, request: ov.InferRequest) -> None:
        self._started.pop(id(request), None)
        if request is self._solo:
            return
        self._idle.append(request)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    @property
    def in_flight(self) -> int:
        return len(self._started)

    def oldest_age(self) -> float:
        """Seconds the longest-running inference has been running; 0 when idle."""
        if not self._started:
            return 0.0
        return time.monotonic() - min(self._started.values())
