"""The counts file: a camera's ``CameraCounts.snapshot()`` as JSON, so its line counts and zone entries
survive a restart. Written atomically (a temporary name, then rename), read once at start."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

logger = logging.getLogger(__name__)

VERSION = 1


def read_counts(path: Path, camera_id: str) -> dict[str, Any] | None:
    """The saved counts of ``camera_id``; None when the file does not exist yet. ConfigError when it
    cannot be read or is not a counts file (a start must not silently reset someone's counts)."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cameras[{camera_id}].counts_file: cannot read {path}: {exc}; "
                          "fix or remove the file (its counts are then lost)") from None
    if not isinstance(raw, dict) or raw.get("version") != VERSION or not isinstance(raw.get("counts"), dict):
        raise ConfigError(f"cameras[{camera_id}].counts_file: {path} is not a yolo-edge counts file "
                          f"(expected {{\"version\": {VERSION}, \"counts\": ...}}); fix or remove it")
    return raw["counts"]


def write_counts(path: Path, camera_id: str, counts: dict[str, Any], when: float) -> None:
    """Blocking: replace ``path`` with ``counts`` (a snapshot) taken at ``when`` (epoch s)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"version": VERSION, "camera": camera_id, "time": when, "counts": counts}))
    os.replace(tmp, path)
