"""Atomic bundle writing: everything goes into a hidden staging folder beside the target, which is
renamed into place at the end. A failure leaves no half-written bundle (the daemon skips dot-folders).
A committed bundle is readable by everyone (folders 0755, files 0644), whatever the umask: it is
often written by root and served by an unprivileged service user."""

from __future__ import annotations

import logging
import os
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
        if not target.parent.is_dir():  # a models folder made here is as readable as the bundle in it
            target.parent.mkdir(parents=True)
            target.parent.chmod(0o755)
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))  # 0700

    def commit(self, force: bool) -> Path:
        """Move the staged bundle to ``target`` (replacing an old one only with ``force``)."""
        check_target(self.target, force)
        make_readable(self.path)
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


def make_readable(folder: Path) -> None:
    """Folders 0755 and files 0644 below and including ``folder`` (mkdtemp and umask 077 give 0700/0600)."""
    folder.chmod(0o755)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
