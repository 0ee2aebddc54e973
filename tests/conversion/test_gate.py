"""The accuracy gate: a deliberately broken calibration (blank frames) is refused with no bundle
written, even after NNCF's accuracy-controlled recovery; a real calibration passes; --force writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion.errors import AccuracyGateError
from tests.support.conversion import IMGSZ, blank_images, coco8_yaml, convert, images_folder, weights

pytestmark = [pytest.mark.ultralytics]


@pytest.fixture(scope="module")
def val_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """coco8 with its labels: the held-out set, never used for calibration here."""
    return coco8_yaml(tmp_path_factory.mktemp("val"))


def _args(out: Path, data: Path, val: Path, *extra: str) -> list[object]:
    return [weights("yolov8n-dq.pt"), "--precision", "int8", "--out", out, "--id", "v8", "--data", data,
            "--val", val, "--imgsz", IMGSZ, "--bench-seconds", "0", *extra]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("calibration", "force", "code", "bundle"),
    [
        ("blank", False, AccuracyGateError.exit_code, False),
        ("blank", True, 0, True),
        ("real", False, 0, True),
    ],
)
def test_gate(calibration: str, force: bool, code: int, bundle: bool, val_yaml: Path, tmp_path: Path,
              capsys: pytest.CaptureFixture[str]) -> None:
    data = blank_images(tmp_path / "blank") if calibration == "blank" else images_folder(tmp_path / "real", 24)
    out = tmp_path / "models"
    extra = ["--force"] if force else []
    if force:
        extra.append("--no-accuracy-control")  # the forced write is about --force, not recovery
    assert convert(*_args(out, data, val_yaml, *extra)) == code
    err = capsys.readouterr().err
    assert (out / "v8").is_dir() == bundle
    assert not [p for p in out.iterdir() if p.name.startswith(".")] if out.exists() else True
    if code:
        assert "no bundle written" in err and "almost uniform" in err
        assert "nncf.quantize_with_accuracy_control" in err, "the recovery was tried and said so"
        return
    report = json.loads((out / "v8" / "report.json").read_text())
    acc = report["accuracy"]
    assert acc["mode"] == "labels" and acc["images"] == 8 and report["data"]["holdout_from"] == str(val_yaml)
    if calibration == "blank":
        assert not acc["passed"] and acc["forced"] and acc["drop_points"] > 5
        assert "FAILED, written because of --force" in (out / "v8" / "report.md").read_text()
    else:
        assert acc["passed"] and acc["drop_points"] <= 1.0
