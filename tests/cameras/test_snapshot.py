"""``yolo-edge snapshot`` on the real yolov8n model: from a configured camera and from a bare
source, printing HUB JSON and writing the frame, the JSON and the YOLO labels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from edge.cli import main
from tests.support.cameras import PERSON, coco128_images, write_video
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.shared_data]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    model = require_shared_data() / "models" / "yolov8n_int8_openvino_model"
    if not model.is_dir():
        pytest.skip(f"{model} is not there")
    tmp = tmp_path_factory.mktemp("snapshot")
    (tmp / "models").mkdir()
    (tmp / "models" / "yolov8n").symlink_to(model)
    video = write_video(tmp / "people.mp4", coco128_images(classes_wanted={PERSON}, limit=1), repeat=3)
    config = tmp / "config.yaml"
    config.write_text(f"models: {{dir: models, cache_dir: ov-cache}}\n"
                      f"cameras:\n  - {{id: hall, source: {video}, model: yolov8n, classes: [person]}}\n")
    return tmp, config, video


def test_snapshot_of_a_configured_camera(setup: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tmp, config, _ = setup
    out = tmp / "out"
    assert main(["snapshot", "--config", str(config), "--camera", "hall", "--out", str(out), "--annotate"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["success"] and body["camera"] == "hall" and body["frame"] == {"width": 640, "height": 480}
    assert body["data"] and {d["name"] for d in body["data"]} == {"person"}  # the camera's classes filter
    files = body["files"]
    assert set(files) == {"jpg", "json", "txt", "annotated"}
    assert cv2.imread(files["jpg"]).shape == (480, 640, 3) and cv2.imread(files["annotated"]).shape == (480, 640, 3)
    assert json.loads(Path(files["json"]).read_text())["data"] == body["data"]
    labels = Path(files["txt"]).read_text().splitlines()
    assert len(labels) == len(body["data"]) and all(line.split()[0] == str(PERSON) for line in labels)


@pytest.mark.parametrize("args, code, message", [
    (["--camera", "nope"], 2, "no camera 'nope'"),
    (["--source", "{tmp}/missing.mp4", "--model", "yolov8n"], 2, "no such video file"),
    (["--source", "{video}", "--model", "yolov9000"], 2, "model 'yolov9000' is not in"),
    ([], 2, "give --camera ID"),
])
def test_snapshot_errors(setup: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                         args: list[str], code: int, message: str) -> None:
    tmp, config, video = setup
    args = [a.format(tmp=tmp, video=video) for a in args]
    assert main(["snapshot", "--config", str(config), *args]) == code
    assert message in caplog.text
    assert capsys.readouterr().out == ""


def test_snapshot_of_a_bare_source(setup: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tmp, _, video = setup
    assert main(["snapshot", "--config", str(tmp / "absent.yaml"), "--source", str(video), "--model", "yolov8n",
                 "--models", str(tmp / "models")]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["camera"] is None and body["model"] == "yolov8n"
    assert "person" in {d["name"] for d in body["data"]}
