"""Decode concurrency, bounded by cost, so that one kind of image cannot take every worker.

Every upload's header is read first (``image_decode.read_header``: format, size, JPEG scans). A light
image (up to 4K UHD, a normal number of scans) decodes at once in the shared executor. A heavy one
(larger, or a JPEG with many scans) waits for the one heavy lane: at most ``heavy_at_once`` heavy
decodes run together, so the other workers stay free for ordinary requests and the cameras, and the
memory of large decodes is bounded (one 50 MP image is ~150 MB of pixels). At most ``heavy_waiting``
heavy images may queue for the lane; past that the answer is 503 at once, so large images cannot hold
every admission slot either.

The start time of every decode is kept, so the watchdog sees a stuck decode as it sees a stuck
inference (``edge.service.lifecycle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator

from edge.errors import Overloaded
from edge.inference.image_decode import ImageHeader

HEAVY_AT_ONCE = 1
HEAVY_WAITING = 2


class DecodeLanes:
    """One per daemon (kept across reloads); used from the event loop only."""

    def __init__(self, heavy_at_once: int = HEAVY_AT_ONCE, heavy_waiting: int = HEAVY_WAITING) -> None:
        self.heavy_at_once = heavy_at_once
        self.heavy_waiting = heavy_waiting
        self._heavy: asyncio.Semaphore | None = None  # made on first use, on the running loop
        self.waiting = 0
        self._started: dict[int, float] = {}
        self._ids = itertools.count()

    @contextlib.asynccontextmanager
    async def lane(self, header: ImageHeader) -> AsyncIterator[None]:
        """Hold a decode slot for an image with ``header`` (waits for the heavy lane if heavy)."""
        if not header.heavy:
            with self.decoding():
                yield
            return
        if self._heavy is None:
            self._heavy = asyncio.Semaphore(self.heavy_at_once)
        if self._heavy.locked() and self.waiting >= self.heavy_waiting:
            raise Overloaded(f"the device is busy decoding large images ({self.heavy_at_once + self.waiting} "
                             "decoding or waiting, over 8.3 megapixels or 12 scans each); retry shortly",
                             retry_after=2)
        self.waiting += 1
        try:
            await self._heavy.acquire()
        finally:
            self.waiting -= 1
        try:
            with self.decoding():
                yield
        finally:
            self._heavy.release()

    @contextlib.contextmanager
    def decoding(self) -> Iterator[None]:
        """Record a decode's start for ``oldest_age`` (the watchdog) while it runs."""
        token = next(self._ids)
        self._started[token] = time.monotonic()
        try:
            yield
        finally:
            del self._started[token]

    def oldest_age(self) -> float:
        """Seconds the oldest decode in progress has run; 0 when none."""
        return time.monotonic() - min(self._started.values()) if self._started else 0.0
