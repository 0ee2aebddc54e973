"""Two real daemons for the dialect tests, shared by the session: one with API keys required (the
default) serving yolov8n and yolo11n, with Frigate's zmq detector on a loopback TCP port (``zmq_endpoint``
gives it), one with ``dialects.require_key: false`` serving yolov8n and no zmq listener (the default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.daemon import Daemon, free_port, link_models, start_daemon
from tests.support.shared_data import require_shared_data

MODELS = {"yolov8n": "yolov8n_int8_openvino_model", "yolo11n": "yolo11n_int8_openvino_model"}
MAX_BODY_MB = 3


def exports() -> dict[str, Path]:
    data = require_shared_data()
    found = {m: data / "models" / f for m, f in MODELS.items() if (data / "models" / f).is_dir()}
    if set(found) != set(MODELS):
        pytest.skip(f"the shared data lacks {sorted(set(MODELS) - set(found))}")
    return found


@pytest.fixture(scope="session")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("dialects-keyed")
    d = start_daemon(tmp, link_models(tmp, exports()), extra={
        "server": {"max_body_mb": MAX_BODY_MB, "body_timeout_s": 5},
        "url_fetch": {"allow": ["127.0.0.1"], "timeout_s": 2},
        "dialects": {"zmq_endpoint": f"tcp://127.0.0.1:{free_port()}"}}, timeout=300)
    yield d
    d.stop()


@pytest.fixture(scope="session")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("dialects-keyless")
    d = start_daemon(tmp, link_models(tmp, {"yolov8n": exports()["yolov8n"]}),
                     extra={"dialects": {"require_key": False}}, timeout=300)
    yield d
    d.stop()


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    """The coco8 val photos plus bus.jpg from the shared data, by file name."""
    data = require_shared_data()
    found = {p.name: p.read_bytes() for p in sorted((data / "coco8" / "images" / "val").glob("*.jpg"))}
    if not found:
        pytest.skip("coco8 val images are absent from the shared data")
    return found


def zmq_endpoint(daemon: Daemon) -> str:
    """The daemon's ``dialects.zmq_endpoint`` ("" when off), as its config file says."""
    config = yaml.safe_load(daemon.config_path.read_text())
    return str(config.get("dialects", {}).get("zmq_endpoint", ""))


def hub(daemon: Daemon, model_id: str, image: bytes, confidence: float, max_det: int = 300) -> list[dict]:
    """The HUB answer for the same image and model: the reference every dialect is checked against."""
    r = requests.post(f"{daemon.base_url}/v1/predict/{model_id}", headers={"x-api-key": daemon.api_key},
                      files={"image": ("i.jpg", image)}, data={"confidence": confidence, "max_det": max_det},
                      timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def one_json_body(response: requests.Response) -> None:
    """Every dialect answer: JSON with a Content-Length, never chunked (Blue Iris cannot read chunked)."""
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    assert "Transfer-Encoding" not in response.headers and int(response.headers["Content-Length"]) > 0
