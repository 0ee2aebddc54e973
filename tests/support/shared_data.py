"""Where the real test material lives: ../shared/data beside the checkout, or $YOLO_EDGE_TEST_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    env = os.environ.get("YOLO_EDGE_TEST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "models").is_dir():
            return path
    return None


def require_shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real models and images not found: set YOLO_EDGE_TEST_DATA or put shared/data beside the repo")
    return path


def ultralytics_asset(name: str) -> Path:
    """bus.jpg / zidane.jpg, shipped inside the ultralytics package (the convert/test environment)."""
    try:
        import ultralytics
    except ImportError:
        pytest.skip("ultralytics is not installed (pip install -e '.[convert,test]')")
    path = Path(ultralytics.__file__).parent / "assets" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the installed ultralytics package")
    return path
