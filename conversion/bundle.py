"""Atomic bundle writing: everything goes into a hidden staging folder beside the target, which is
renamed into place at the end. A failure leaves no half-written bundle (the daemon skips dot-folders)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from conversion.errors import OutputExistsError

logger = logging.getLogger(__name__)


def check_target(target: Path, force: bool) -> None:
    """Refuse an existing ``target`` unless ``force``; refuse a file in any case."""
    if target.exists() and not target.is_dir():
        raise OutputExistsError(f"{target}: exists and is not a folder; choose another --out/--id.")
    if target.exists() and not force:
        raise OutputExistsError(f"{target}: already exists. Pass --force to replace it, or choose another --out/--id.")


class Staging:
    """A staging folder for ``target``; ``commit()`` swaps it in, ``discard()`` removes it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))

    def commit(self, force: bool) -> Path:
        """Move the staged bundle to ``target`` (replacing an old one only with ``force``)."""
        check_target(self.target, force)
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-", dir=self.target.parent))
            old.rmdir()
            self.target.rename(old)
        self.path.rename(self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
