"""A camera whose model is deleted over the API keeps running: its status and /readyz say the model is
missing, predictions on other models go on, and it recovers when a model of that id is uploaded again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.bundles import ADMIN_KEY, pack_folder
from tests.support.cameras import coco128_images, write_video
from tests.support.daemon import Daemon, daemon_config, free_port, link_models
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.shared_data]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def test_camera_reports_a_deleted_model_and_recovers(tmp_path: Path) -> None:
    export = require_shared_data() / "models" / "yolov8n_int8_openvino_model"
    video = write_video(tmp_path / "v.mp4", coco128_images(limit=3), size=(320, 240), fps=10, repeat=5)
    (tmp_path / "admin_keys").write_text(ADMIN_KEY + "\n")
    models = link_models(tmp_path, {"cam-model": export, "other": export})
    port = free_port()
    config = daemon_config(tmp_path, models, port, {"auth": {"admin_keys_file": str(tmp_path / "admin_keys")}})
    config["cameras"] = [{"id": "door", "source": str(video), "model": "cam-model", "fps": 5}]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    d = Daemon(tmp_path / "config.yaml", port, tmp_path / "daemon.log")
    keyed = {"x-api-key": d.api_key}
    try:
        def door() -> dict[str, Any]:
            ready = requests.get(f"{d.base_url}/readyz", headers={"x-api-key": d.api_key}, timeout=10)
            return ready.json()["cameras"]["door"]

        wait_for(lambda: requests.get(f"{d.base_url}/v1/cameras/door/latest", headers=keyed, timeout=10).ok,
                 60, "no camera result")
        r = requests.delete(f"{d.base_url}/v1/models/cam-model", headers={"x-api-key": ADMIN_KEY}, timeout=30)
        assert r.status_code == 200, r.text
        assert "camera 'door' uses model 'cam-model'" in r.json()["data"]["warnings"][0]
        error = wait_for(lambda: door()["last_error"], 30, "the camera did not report the missing model")
        assert "model 'cam-model' is not served here" in error
        status = requests.get(f"{d.base_url}/v1/cameras", headers=keyed, timeout=10).json()["data"][0]
        assert "'cam-model' is not served" in status["inference_error"]
        ready = requests.get(f"{d.base_url}/readyz", headers={"x-api-key": d.api_key}, timeout=10)
        assert ready.status_code == 200  # the device still serves
        assert d.process.poll() is None

        r = requests.put(f"{d.base_url}/v1/models/cam-model", data=pack_folder(export), timeout=120,
                         headers={"x-api-key": ADMIN_KEY, "Content-Type": "application/gzip"})
        assert r.status_code == 200, r.text
        wait_for(lambda: door()["last_error"] is None, 30, "the camera did not recover")
    finally:
        d.stop()
