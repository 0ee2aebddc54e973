"""Progress of long steps on stderr: a tqdm bar on a terminal, one log line per step otherwise (a log
file or journald would get every redraw of a bar), nothing in quiet mode. ``track`` is the one way
to show progress."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Whether long steps show progress; with ``quiet`` they show none. ``bars`` None: bars only when
    stderr is a terminal."""

    quiet: bool = False
    bars: bool | None = None

    def show_bars(self) -> bool:
        return self.bars if self.bars is not None else sys.stderr.isatty()


def track(items: Iterable[T], progress: Progress | None, desc: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, one bar tick per item (``total`` defaults to ``len(items)``).

    No output when ``progress`` is None or quiet; a single INFO line when stderr is not a terminal.
    The bar is closed when the items run out or the loop is left early.
    """
    if progress is None or progress.quiet:
        yield from items
        return
    if not progress.show_bars():
        count = total if total is not None else (len(items) if hasattr(items, "__len__") else None)  # type: ignore[arg-type]
        logger.info("%s%s", desc, f": {count} items" if count is not None else "")
        yield from items
        return
    from tqdm import tqdm

    bar = tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
    try:
        yield from bar
    finally:
        bar.close()
