"""Per-client request rates: one token bucket per API key (kept as its SHA-256 digest, never the key).

``server.rate_limit_per_key`` requests per second refill each bucket; a bucket holds at most one
second's worth (at least one request), so a key may burst that many requests and then runs at the
rate. With auth off the client's address stands in for the key. An empty request raises
``RateLimited`` carrying how long until the next token.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from edge.errors import RateLimited

MAX_CLIENTS = 10_000  # buckets kept; the least recently used is forgotten (it was full or nearly)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def take(self, now: float) -> float:
        """Take one token; 0.0 when granted, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Token buckets keyed by a digest of the client's key; ``rate`` 0 means no limit."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.clock = clock
        self.buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()

    def __bool__(self) -> bool:
        return self.rate > 0

    def check(self, client: str) -> None:
        """Count one request from ``client`` (an API key or an address); raise ``RateLimited`` past the rate."""
        if self.rate <= 0:
            return
        ident = hashlib.sha256(client.encode("utf-8", "surrogateescape")).digest()
        now = self.clock()
        bucket = self.buckets.get(ident)
        if bucket is None:
            bucket = self.buckets[ident] = TokenBucket(self.rate, self.burst, now)
            if len(self.buckets) > MAX_CLIENTS:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(ident)
        wait = bucket.take(now)
        if wait > 0:
            raise RateLimited(f"too many requests for this API key (limit {self.rate:g} per second, "
                              f"server.rate_limit_per_key); retry in {wait:.1f} s",
                              retry_after=max(1.0, math.ceil(wait)))
