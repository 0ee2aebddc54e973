"""Where tests leave the figures they measured (parity, sizes, soak): ``build/figures/*.json``, which the
conftest prints at the end of every run so that CI logs carry them."""

from __future__ import annotations

from pathlib import Path

FIGURES_DIR = Path(__file__).resolve().parents[2] / "build" / "figures"
