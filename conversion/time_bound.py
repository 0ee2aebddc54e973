"""A wall-clock bound for NNCF's accuracy control (``--accuracy-control-seconds``).

NNCF has no time limit of its own, but it reads every calibration image through our dataset and calls
our validation function: both check a ``Deadline`` and raise ``OutOfTime`` past it, which unwinds
NNCF's loops; the gate then keeps the first model and the report says so.
"""

from __future__ import annotations

import time
from typing import Any

from conversion import calibration


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


def out_of_time_note(deadline: Deadline) -> str:
    return (f"stopped at its time limit, {deadline.seconds:.0f} s (--accuracy-control-seconds); "
            "kept the first model")
