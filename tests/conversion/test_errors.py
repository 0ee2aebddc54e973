"""Every error a person can act on: its exit code, its message, and no bundle left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion.errors import DataError, DeviceError, OutputExistsError, SourceError, UsageError
from tests.support.conversion import IMGSZ, convert, images_folder, weights, yaml_checkpoint

pytestmark = [pytest.mark.ultralytics]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return yaml_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _case(tmp: Path, case: str, checkpoint: Path) -> list[str]:
    """The arguments of one bad invocation, built in ``tmp``."""
    out = tmp / "models"
    base = ["--out", out, "--imgsz", IMGSZ, "--bench-seconds", "0"]
    if case == "missing_source":
        return [tmp / "nope.pt", "--precision", "fp32", *base]
    if case == "folder_source":
        return [tmp, "--precision", "fp32", *base]
    if case == "not_pt":
        (tmp / "model.onnx").write_bytes(b"onnx")
        return [tmp / "model.onnx", "--precision", "fp32", *base]
    if case == "not_checkpoint":
        (tmp / "junk.pt").write_bytes(b"\x00not a torch file" * 64)
        return [tmp / "junk.pt", "--precision", "fp32", *base]
    if case == "int8_without_data":
        return [checkpoint, "--precision", "int8", *base]
    if case == "missing_data":
        return [checkpoint, "--precision", "int8", "--data", tmp / "no-images", *base]
    if case == "empty_data":
        (tmp / "empty").mkdir()
        return [checkpoint, "--precision", "int8", "--data", tmp / "empty", *base]
    if case == "unreadable_data":
        (tmp / "bad").mkdir()
        for i in range(3):
            (tmp / "bad" / f"{i}.jpg").write_bytes(b"\xff\xd8 truncated")
        return [checkpoint, "--precision", "int8", "--data", tmp / "bad", *base]
    if case == "bad_video":
        (tmp / "clip.mp4").write_bytes(b"not a video")
        return [checkpoint, "--precision", "int8", "--data", tmp / "clip.mp4", *base]
    if case == "val_is_data":
        imgs = images_folder(tmp / "imgs", 3)
        return [checkpoint, "--precision", "int8", "--data", imgs, "--val", imgs, *base]
    if case == "output_exists":
        (out / "taken").mkdir(parents=True)
        return [checkpoint, "--precision", "fp32", "--id", "taken", *base]
    if case == "bad_id":
        return [checkpoint, "--precision", "fp32", "--id", "../escape", *base]
    if case == "absent_device":
        return [checkpoint, "--precision", "fp32", "--device", "NPU", *base]
    if case == "dynamic_npu":
        return [checkpoint, "--precision", "fp32", "--device", "NPU", "--dynamic", *base]
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("missing_source", SourceError, "no such file"),
        ("folder_source", SourceError, "is a folder"),
        ("not_pt", SourceError, "not a .pt file"),
        ("not_checkpoint", SourceError, "not an Ultralytics YOLO checkpoint"),
        ("int8_without_data", UsageError, "needs --data"),
        ("missing_data", DataError, "no such file or folder"),
        ("empty_data", DataError, "no readable image"),
        ("unreadable_data", DataError, "3 unreadable file(s)"),
        ("bad_video", DataError, "cannot read this video"),
        ("val_is_data", DataError, "nothing is left to calibrate on"),
        ("output_exists", OutputExistsError, "already exists. Pass --force"),
        ("bad_id", UsageError, "--id '../escape'"),
        ("absent_device", DeviceError, "Devices present: CPU"),
        ("dynamic_npu", DeviceError, "--dynamic cannot be used with --device NPU"),
    ],
)
def test_error(case: str, error: type, message: str, tmp_path: Path, checkpoint: Path,
               capsys: pytest.CaptureFixture[str]) -> None:
    import openvino as ov

    if case == "absent_device" and "NPU" in ov.Core().available_devices:
        pytest.skip("this machine has an NPU")
    code = convert(*_case(tmp_path, case, checkpoint))
    err = capsys.readouterr().err
    assert code == error.exit_code, err
    assert message in err
    models = tmp_path / "models"
    left = [p.name for p in models.iterdir()] if models.exists() else []
    assert left == (["taken"] if case == "output_exists" else []), "no bundle or staging folder is left behind"


def test_real_checkpoint_passes_source_checks(tmp_path: Path) -> None:
    """The shared -dq checkpoints load as YOLO checkpoints with their task and classes."""
    from conversion.source import load_source

    src = load_source(str(weights("yolo11n-pose.pt")))
    assert (src.task, src.kpt_shape, src.stride, src.names[0]) == ("pose", (17, 3), 32, "person")


@pytest.mark.parametrize(
    ("values", "expected"),
    [([640], (640, 640)), ([480, 640], (480, 640)), ([16], None), ([1, 2, 3], None)],
)
def test_parse_imgsz(values: list[int], expected: tuple[int, int] | None) -> None:
    from conversion.cli import parse_imgsz

    if expected is None:
        with pytest.raises(UsageError):
            parse_imgsz(values)
    else:
        assert parse_imgsz(values) == expected


def test_few_images_warn(tmp_path: Path) -> None:
    """Fewer than 100 calibration images is allowed but said, with why it matters."""
    from conversion import dataset

    found = dataset.collect(images_folder(tmp_path / "imgs", 4), tmp_path, "detect", None)
    assert len(found.images) == 4 and not found.labelled
    assert dataset.RECOMMENDED_CALIBRATION == 100
