"""Shared fixtures: real data, real models, a real daemon on a loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.f32_core import patch_openvino_core_to_f32
from tests.support.shared_data import require_shared_data

os.environ.setdefault("YOLO_OFFLINE", "1")


# Ultralytics, the reference, compiles at the device's default precision (bf16 on AMX); the daemon asks
# for f32 on every CPU: give the reference the same (tests/support/f32_core.py).
patch_openvino_core_to_f32()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared_data()


@pytest.fixture(scope="session")
def detect_models(shared_data: Path) -> dict[str, Path]:
    return {
        "yolov8n": shared_data / "models" / "yolov8n_int8_openvino_model",
        "yolo11n": shared_data / "models" / "yolo11n_int8_openvino_model",
    }


@pytest.fixture(scope="session")
def detect_daemon(tmp_path_factory: pytest.TempPathFactory, detect_models: dict[str, Path]) -> Iterator[Daemon]:
    """One daemon serving the real yolov8n and yolo11n INT8 exports, shared by a test session."""
    tmp = tmp_path_factory.mktemp("detect-daemon")
    daemon = start_daemon(tmp, link_models(tmp, detect_models))
    yield daemon
    daemon.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests measured (parity, sizes) so CI logs carry them."""
    from tests.support.figures import FIGURES_DIR
    files = sorted(FIGURES_DIR.glob("*.json")) if FIGURES_DIR.is_dir() else []
    if files:
        terminalreporter.section("figures")
        for path in files:
            terminalreporter.write_line(f"{path.stem}: {' '.join(path.read_text().split())}")
