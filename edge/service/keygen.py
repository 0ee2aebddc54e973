"""Create an API key file when none exists, and show the new key once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_key_file(path: Path) -> str | None:
    """Write a fresh random key to ``path`` (mode 0600) unless it already holds one.

    Returns the new key, or None when the file already existed.
    """
    if path.is_file() and path.read_text().strip():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "ye_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
