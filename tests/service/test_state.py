"""The serving state: one immutable ``Serving`` swapped whole; before the first one a request is told
to retry (503), never served half a state."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from edge import errors
from edge.config.settings import config_from_dict
from edge.inference.engine import Engine
from edge.inference.model_set import ModelSet
from edge.inference.predictor import Predictor
from edge.service.admission import Admission
from edge.service.keys import KeyRing
from edge.service.state import ServiceState, Serving


def serving(max_pending: int) -> Serving:
    config = config_from_dict({"server": {"max_pending": max_pending}})
    return Serving(config, KeyRing([]), Engine("CPU"), ModelSet(), Predictor(ThreadPoolExecutor(1), 1))


def test_nothing_is_served_before_the_first_swap() -> None:
    state = ServiceState(config_from_dict({}), KeyRing([]))
    assert not state.started
    with pytest.raises(errors.NotReady) as info:
        state.serving
    assert info.value.retry_after > 0


def test_swap_replaces_the_whole_state_and_returns_the_old() -> None:
    state = ServiceState(config_from_dict({}), KeyRing([]))
    first, second = serving(4), serving(8)
    assert state.swap(first) is None
    held = state.serving  # what a request in flight keeps
    assert state.swap(second) is first
    assert held is first and state.serving is second
    with pytest.raises(dataclasses.FrozenInstanceError):
        second.models = ModelSet()  # type: ignore[misc]


def test_admission_reads_the_current_bound() -> None:
    state = ServiceState(config_from_dict({}), KeyRing([]))
    state.swap(serving(1))
    state.ready = True
    with Admission(state):
        with pytest.raises(errors.Overloaded):
            with Admission(state):
                pass
    state.swap(serving(2))  # a reload raised the bound
    with Admission(state), Admission(state):
        assert state.pending == 2
    assert state.pending == 0
    state.ready = False
    with pytest.raises(errors.NotReady):
        with Admission(state):
            pass
