"""Admission: bounds the requests waiting or running; past the bound, 503 + Retry-After at once."""

from __future__ import annotations

from edge import errors
from edge.service.state import ServiceState


class Admission:
    """``with Admission(state):`` around the part of a request that holds the device."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def __enter__(self) -> None:
        state = self.state
        if not state.ready:
            raise errors.NotReady("the device is starting, reloading or stopping; retry shortly", retry_after=2)
        limit = state.serving.config.server.max_pending
        if state.pending >= limit:
            raise errors.Overloaded(f"the device is busy ({state.pending} requests in progress); retry shortly")
        state.pending += 1

    def __exit__(self, *exc: object) -> None:
        self.state.pending -= 1
