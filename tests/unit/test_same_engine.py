"""A reload keeps the OpenVINO engine only when no setting the engine was built from changed."""

from __future__ import annotations

import pytest

from edge.config.settings import config_from_dict
from edge.service.reload import same_engine


@pytest.mark.parametrize("key, value", [
    ("device", "GPU"), ("cache_dir", "/var/cache/other"), ("infer_requests", 1), ("cpu_precision", "bf16"),
    ("shapes", "minimal"), ("max_shapes", 2),
])
def test_a_changed_engine_setting_needs_a_new_engine(key: str, value: object) -> None:
    base = config_from_dict({})
    assert same_engine(base, config_from_dict({}))
    assert not same_engine(base, config_from_dict({"models": {key: value}})), key
