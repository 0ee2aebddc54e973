"""Progress bars (tqdm on stderr) that a quiet mode turns off."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Progress:
    """Makes bars for long steps; with ``quiet`` every bar is silent."""

    quiet: bool = False

    def bar(self, total: int | None, desc: str) -> Any:
        if self.quiet:
            return _Silent()
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
