"""``yolo-edge-convert --shapes`` records input shapes in the bundle; the daemon (``models.shapes:
minimal``) compiles them before it reports ready, as many as ``models.max_shapes`` allows, and past that
bound drops the least recently used shape for a new one.

One real conversion (a seeded yolov8n.yaml checkpoint, FP32, dynamic, 320: ~30 s; so ``slow``) and real
daemons over real sockets; ``compiled_shapes`` of ``GET /v1/models`` is what the daemon holds compiled.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
import yaml

from conversion.errors import UsageError
from conversion.shapes import parse_shape
from tests.support.conversion import convert, yaml_checkpoint
from tests.support.daemon import Daemon, link_models, start_daemon

# 16:9 and 4:3 frames at 320, as the bundle records them (h, w)
WIDE, FOUR_THREE, SQUARE = [192, 320], [256, 320], [320, 320]


@pytest.mark.parametrize("text, imgsz, expected", [
    ("384x640", (640, 640), (384, 640)),
    ("16:9", (640, 640), (384, 640)),   # 360 rows padded to the stride, as Ultralytics' predictor does
    ("4:3", (640, 640), (480, 640)),
    ("3:4", (640, 640), (640, 480)),
    ("16:9", (320, 320), (192, 320)),
    ("384x600", (640, 640), UsageError),  # not a stride multiple
    ("1344x640", (640, 640), UsageError),  # beyond 1280
    ("0:9", (640, 640), UsageError),
    ("wide", (640, 640), UsageError),
])
def test_parse_shape(text: str, imgsz: tuple[int, int], expected: tuple[int, int] | type) -> None:
    if expected is UsageError:
        with pytest.raises(UsageError, match="--shapes"):
            parse_shape(text, imgsz)
    else:
        assert parse_shape(text, imgsz) == expected


@pytest.mark.ultralytics
def test_shapes_need_a_dynamic_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert convert("yolov8n.pt", "--precision", "fp32", "--out", tmp_path, "--shapes", "16:9") == 2
    assert "--shapes needs --dynamic" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ultralytics", reason="the conversion needs ultralytics (the convert extra)")
    tmp = tmp_path_factory.mktemp("shapes")
    pt = yaml_checkpoint(tmp)
    assert convert(pt, "--precision", "fp32", "--out", tmp / "models", "--id", "v8", "--dynamic", "--imgsz", "320",
                   "--shapes", "16:9", "4:3", "192x320", "--bench-seconds", "0") == 0
    return tmp / "models" / "v8"


def compiled_shapes(daemon: Daemon) -> list[list[int]]:
    r = requests.get(f"{daemon.base_url}/v1/models", headers={"x-api-key": daemon.api_key}, timeout=10)
    assert r.status_code == 200, r.text
    (model,) = r.json()["data"]
    return model["compiled_shapes"]


@contextlib.contextmanager
def serving(bundle: Path, tmp: Path, max_shapes: int) -> Iterator[Daemon]:
    daemon = start_daemon(tmp, link_models(tmp, {"v8": bundle}), {"models": {"shapes": "minimal",
                                                                              "max_shapes": max_shapes}})
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.mark.slow
@pytest.mark.ultralytics
def test_bundle_records_its_shapes_and_the_daemon_compiles_them_at_start(bundle: Path, tmp_path: Path) -> None:
    meta = yaml.safe_load((bundle / "metadata.yaml").read_text())
    assert meta["yolo_edge_shapes"] == [WIDE, FOUR_THREE]  # 192x320 given twice, recorded once
    report = json.loads((bundle / "report.json").read_text())
    assert report["bundle"]["shapes"] == [WIDE, FOUR_THREE]  # the report says so too
    assert "recorded shapes 192×320, 256×320" in (bundle / "report.md").read_text()
    with serving(bundle, tmp_path, max_shapes=8) as daemon:
        assert compiled_shapes(daemon) == [SQUARE, WIDE, FOUR_THREE]  # at ready, before any request


@pytest.mark.slow
@pytest.mark.ultralytics
def test_max_shapes_refuses_recorded_shapes_past_the_bound_then_evicts(bundle: Path, tmp_path: Path) -> None:
    with serving(bundle, tmp_path, max_shapes=1) as daemon:
        assert compiled_shapes(daemon) == [SQUARE, WIDE]
        assert "no room for the recorded shapes 256x320" in daemon.log()
        # A 4:3 frame compiles its shape in the background; the bound drops the 16:9 one for it.
        _, jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 90, np.uint8))
        r = requests.post(f"{daemon.base_url}/v1/predict/v8", headers={"x-api-key": daemon.api_key},
                          files={"image": ("a.jpg", jpeg.tobytes())}, data={"size": 320}, timeout=60)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 120
        while FOUR_THREE not in compiled_shapes(daemon):
            assert time.monotonic() < deadline, daemon.tail()
            time.sleep(0.1)
        assert compiled_shapes(daemon) == [SQUARE, FOUR_THREE]


@pytest.mark.slow
@pytest.mark.ultralytics
def test_max_shapes_zero_keeps_the_square_only(bundle: Path, tmp_path: Path) -> None:
    with serving(bundle, tmp_path, max_shapes=0) as daemon:
        assert compiled_shapes(daemon) == [SQUARE]
        assert "they run at the square" in daemon.log()
