"""Token buckets per key digest, on a fake clock."""

from __future__ import annotations

import pytest

from edge.errors import RateLimited
from edge.http.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate,burst_ok,retry_after", [
    (0.5, 1, 2.0),  # below 1/s: one request, then 2 s to the next token
    (1.0, 1, 1.0),
    (5.0, 5, 1.0),  # a second's worth as a burst
])
def test_bucket(rate: float, burst_ok: int, retry_after: float) -> None:
    clock = Clock()
    limiter = RateLimiter(rate, clock)
    for _ in range(burst_ok):
        limiter.check("key-a")
    with pytest.raises(RateLimited) as info:
        limiter.check("key-a")
    assert info.value.retry_after == retry_after
    limiter.check("key-b")  # another key has its own bucket
    clock.now += 1.0 / rate
    limiter.check("key-a")  # one token back


def test_unlimited_and_no_raw_keys_kept() -> None:
    off = RateLimiter(0)
    assert not off
    for _ in range(1000):
        off.check("k")
    on = RateLimiter(10)
    on.check("secret-key")
    assert all(len(d) == 32 for d in on.buckets) and b"secret-key" not in b"".join(on.buckets)
