"""Which images calibrate and which judge: unlabelled frames calibrate on every frame (the gate's
subset included); labelled --data and --val keep the gate's images out of calibration."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion import data_split
from conversion.options import Options
from conversion.source import SourceModel
from tests.support.conversion import coco8_yaml, images_folder

pytestmark = [pytest.mark.shared_data]

_DETECT = SourceModel(Path("m.pt"), None, "detect", {i: str(i) for i in range(80)}, 32, None)


def _opts(tmp: Path, data: Path, **kw: object) -> Options:
    return Options(source="m.pt", precision="int8", out=tmp / "out", data=str(data), **kw)  # type: ignore[arg-type]


def test_plain_folder_calibrates_on_every_frame(tmp_path: Path) -> None:
    frames = images_folder(tmp_path / "frames", 20)
    data, _ = data_split.collect(_opts(tmp_path, frames), _DETECT, tmp_path / "work")
    assert data is not None and not data.labelled and data.gate_calibrated
    assert len(data.split.calibration) == 20 and len(data.split.holdout) == 6
    assert set(data.split.holdout) <= set(data.split.calibration)
    assert data.info(_opts(tmp_path, frames)).holdout_from == "30% of --data, also calibrated on"


def test_plain_folder_can_keep_the_gate_independent(tmp_path: Path) -> None:
    frames = images_folder(tmp_path / "frames", 20)
    opts = _opts(tmp_path, frames, calibrate_on_gate_frames=False)
    data, _ = data_split.collect(opts, _DETECT, tmp_path / "work")
    assert data is not None and not data.gate_calibrated
    assert (len(data.split.calibration), len(data.split.holdout)) == (14, 6)
    assert not set(data.split.holdout) & set(data.split.calibration)


def test_labelled_data_keeps_an_independent_holdout(tmp_path: Path) -> None:
    labelled = coco8_yaml(tmp_path)
    data, _ = data_split.collect(_opts(tmp_path, labelled, holdout=0.5), _DETECT, tmp_path / "work")
    assert data is not None and data.labelled and not data.gate_calibrated
    assert not set(data.split.holdout) & set(data.split.calibration)


def test_val_is_never_calibrated_on(tmp_path: Path) -> None:
    frames = images_folder(tmp_path / "frames", 12)
    val = tmp_path / "val"
    val.mkdir()
    for p in sorted(frames.iterdir())[:4]:
        (val / p.name).write_bytes(p.read_bytes())
    opts = _opts(tmp_path, frames, val=str(val), calibrate_on_gate_frames=True)
    data, _ = data_split.collect(opts, _DETECT, tmp_path / "work")
    assert data is not None and not data.gate_calibrated and len(data.split.holdout) == 4
    assert len(data.split.calibration) == 12, "--val images are other files here (copies), so all 12 calibrate"
