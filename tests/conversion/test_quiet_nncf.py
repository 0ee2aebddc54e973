"""The default recipe's histogram ranges make NNCF warn once per per-channel activation quantizer that it
falls back to min/max (4 lines for yolo11n): expected, so not shown to the user; NNCF's other warnings are."""

from __future__ import annotations

import logging

import pytest

pytestmark = [pytest.mark.ultralytics]  # NNCF is in the convert extra


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_only_the_expected_rollback_warning_is_dropped() -> None:
    pytest.importorskip("nncf")
    import conversion.quantize  # noqa: F401  (installs the filter)
    from nncf.common.logging import nncf_logger  # NNCF's own logger (it does not propagate to the root)

    kept = Kept()
    nncf_logger.addHandler(kept)
    try:
        nncf_logger.warning("Rollback to RangeEstimatorParametersSet.MINMAX for the target point: '4' as "
                            "HistogramAggregator does not support per-channel activations.")
        nncf_logger.warning("Dataset contains only 3 samples, smaller than the requested subset size 300.")
    finally:
        nncf_logger.removeHandler(kept)
    assert [m[:7] for m in kept.messages] == ["Dataset"]
