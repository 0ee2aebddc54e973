"""`yolo-edge keygen` (what `make serve` runs): a new key once, then the file that holds it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from edge.cli import main


def test_first_run_prints_a_new_key_then_points_at_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "var" / "api_keys"
    assert main(["keygen", "--file", str(keys)]) == 0
    first = capsys.readouterr().out
    key = keys.read_text().strip()
    assert key.startswith("ye_") and key in first
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600

    assert main(["keygen", "--file", str(keys)]) == 0
    second = capsys.readouterr().out
    assert key not in second and f"cat {keys}" in second  # where it lives, not the key again
    assert keys.read_text().strip() == key
