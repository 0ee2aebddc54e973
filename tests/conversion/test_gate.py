"""The accuracy gate, with labels and without: a deliberately broken calibration (blank frames) is
refused with no bundle written, even after NNCF's accuracy-controlled recovery (which stops at its
time limit); a real calibration passes, with labels and on a plain folder with default options;
--force writes; frames in which FP32 finds nothing cannot pass an agreement gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion import gate
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
    extra = ["--force"] if force else ["--accuracy-control-seconds", "60"]  # CI time; tried either way
    if force:
        extra.append("--no-accuracy-control")  # the forced write is about --force, not recovery
    # the real calibration runs unquiet: stderr (captured, so not a terminal) must get no redrawn bars,
    # neither ours nor Ultralytics' validation bars
    assert convert(*_args(out, data, val_yaml, *extra), quiet=calibration == "blank") == code
    err = capsys.readouterr().err
    assert "\r" not in err, "progress bars redrawn into a log"
    assert (out / "v8").is_dir() == bundle
    assert not [p for p in out.iterdir() if p.name.startswith(".")] if out.exists() else True
    if code:
        assert "no bundle written" in err and "almost uniform" in err
        assert "nncf.quantize_with_accuracy_control" in err, "the recovery was tried and said so"
        assert "(failed: " not in err, "the recovery ran to its end (NNCF scored candidates with our metric)"
        return
    report = json.loads((out / "v8" / "report.json").read_text())
    acc = report["accuracy"]
    assert acc["mode"] == "labels" and acc["images"] == 8 and report["data"]["holdout_from"] == str(val_yaml)
    if calibration == "blank":
        assert not acc["passed"] and acc["forced"] and acc["drop_points"] > 5
        assert "FAILED, written because of --force" in (out / "v8" / "report.md").read_text()
    else:
        assert acc["passed"] and acc["drop_points"] <= 1.0 and acc["max_drop"] == 1.0
        assert "Gate (labelled)" in (out / "v8" / "report.md").read_text()


def _plain(out: Path, data: Path, *extra: object) -> list[object]:
    """Default options but a small input size and no speed measurement (CI time)."""
    return [weights("yolov8n-dq.pt"), "--precision", "int8", "--out", out, "--id", "v8", "--data", data,
            "--imgsz", IMGSZ, "--bench-seconds", "0", *extra]


@pytest.mark.slow
def test_plain_folder_passes_with_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A good INT8 on a plain folder of real frames passes the agreement gate, whose limit is the
    agreement drop that stands for --max-drop (not --max-drop itself); stderr (not a terminal here)
    gets log lines, not redrawn progress bars."""
    out = tmp_path / "models"
    assert convert(*_plain(out, images_folder(tmp_path / "frames", 24)), quiet=False) == 0
    err = capsys.readouterr().err
    assert "\r" not in err, "progress bars redrawn into a log"
    report = json.loads((out / "v8" / "report.json").read_text())
    acc = report["accuracy"]
    assert acc["mode"] == "agreement" and acc["passed"] and not acc["forced"]
    assert acc["max_drop"] == gate.agreement_limit(1.0) and "--max-drop 1" in acc["limit_source"]
    assert acc["reference_boxes"] >= gate.MIN_REFERENCE_BOXES
    assert [a["method"] for a in report["quantization"]["attempts"]] == ["nncf.quantize (yolo-edge)"]
    assert "Gate (no labels, agreement with FP32)" in (out / "v8" / "report.md").read_text()


@pytest.mark.slow
def test_broken_calibration_fails_without_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Blank calibration, judged on unlabelled real frames: refused in agreement points; the
    accuracy-controlled retry stops at its time limit and says so."""
    out = tmp_path / "models"
    args = _plain(out, blank_images(tmp_path / "blank"), "--val", images_folder(tmp_path / "frames", 16),
                  "--accuracy-control-seconds", "0.001")
    assert convert(*args) == AccuracyGateError.exit_code
    err = capsys.readouterr().err
    assert "agreement points" in err and "no bundle written" in err and "almost uniform" in err
    assert "stopped at its time limit" in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_frames_without_objects_cannot_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plain folder of blank frames: FP32 finds nothing, so agreement would be a vacuous pass."""
    out = tmp_path / "models"
    assert convert(*_plain(out, blank_images(tmp_path / "blank", 12), "--no-accuracy-control")) \
        == AccuracyGateError.exit_code
    err = capsys.readouterr().err
    assert "FP32 finds only 0 objects" in err and "No bundle written" in err
