"""A wall-clock bound for NNCF's accuracy control (``--accuracy-control-seconds``).

NNCF has no time limit of its own, but it reads every calibration image through our dataset and calls
our validation function: both check a ``Deadline`` and raise ``OutOfTime`` past it, which unwinds
NNCF's loops; the gate then keeps the first model and the report says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from conversion import calibration

logger = logging.getLogger(__name__)


class OutOfTime(Exception):
    """Accuracy control ran past --accuracy-control-seconds (raised from inside NNCF's loops)."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise OutOfTime


class BoundedImages(calibration.LetterboxedImages):
    """Calibration inputs that stop NNCF (by raising) once the deadline has passed."""

    def __init__(self, deadline: Deadline, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def __getitem__(self, index: Any) -> Any:
        self.deadline.check()
        return super().__getitem__(index)


def run_accuracy_control(deadline: Deadline, run: Callable[[], Any]) -> tuple[Any | None, str]:
    """``run()`` (NNCF's accuracy-controlled quantization, reading a ``BoundedImages``): (the recovered
    model, "") or (None, why there is none, for the report)."""
    try:
        return run(), ""
    except OutOfTime:
        note = (f"stopped at its time limit, {deadline.seconds:.0f} s (--accuracy-control-seconds); "
                "kept the first model")
        logger.warning("accuracy-controlled quantization %s", note)
        return None, note
    except Exception as exc:  # noqa: BLE001 - NNCF raises assorted errors when it cannot restore; the gate decides
        logger.warning("accuracy-controlled quantization failed: %s", exc)
        return None, f"failed: {type(exc).__name__}: {exc}"[:300]
