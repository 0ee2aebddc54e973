"""Progress bars (tqdm on stderr) that a quiet mode turns off: ``track`` is the one way to show one."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """Whether long steps show bars; with ``quiet`` they show none."""

    quiet: bool = False


def track(items: Iterable[T], progress: Progress | None, desc: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, one bar tick per item (``total`` defaults to ``len(items)``).

    No bar when ``progress`` is None or quiet. The bar is closed when the items run out or the
    loop is left early.
    """
    if progress is None or progress.quiet:
        yield from items
        return
    from tqdm import tqdm

    bar = tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
    try:
        yield from bar
    finally:
        bar.close()
