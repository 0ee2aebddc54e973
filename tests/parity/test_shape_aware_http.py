"""``models.shapes: minimal`` answers 16:9 and 4:3 frames as Ultralytics' PyTorch predictor does.

yolov8n-dq.pt exported by Ultralytics to an FP32 IR with dynamic shapes, served with
``models.shapes: minimal``; 1280x720 JPEGs made from coco128 images, and coco128's own 640x480 and
480x640 images. Once their shapes (384x640, 480x640, 640x480) have compiled (seen in
``GET /v1/models``: ``compiled_shapes``), every answer equals ``YOLO(pt).predict(imgsz=640)`` (which
pads minimally): box IoU >= 0.99, |conf diff| <= 0.01.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import cv2
import pytest
import requests

from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.parity import ParityFigures, coco128
from tests.support.wide_images import wide_jpegs

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

ultralytics = pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")


@pytest.fixture(scope="module")
def weights(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pt = shared_data / "weights" / "yolov8n-dq.pt"
    if not pt.exists():
        pytest.skip(f"{pt} is absent")
    link = tmp_path_factory.mktemp("pt") / pt.name
    link.symlink_to(pt)
    return link


@pytest.fixture(scope="module")
def dynamic_ir(weights: Path) -> Path:
    return Path(ultralytics.YOLO(str(weights)).export(format="openvino", dynamic=True, imgsz=640, half=False,
                                                      verbose=False))


def predict(daemon: Daemon, image: Path) -> list[dict]:
    with open(image, "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/v8", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, data={"size": 640, "confidence": 0.25, "iou": 0.45}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def compiled_shapes(daemon: Daemon) -> list[list[int]]:
    r = requests.get(f"{daemon.base_url}/v1/models", headers={"x-api-key": daemon.api_key}, timeout=10)
    assert r.status_code == 200, r.text
    (model,) = r.json()["data"]
    assert model["shapes"] == "minimal"
    return model["compiled_shapes"]


def four_by_three(shared_data: Path, count: int) -> list[Path]:
    """The first ``count`` coco128 images of 640x480, then as many of 480x640."""
    found: dict[tuple[int, int], list[Path]] = {(480, 640): [], (640, 480): []}
    for path in coco128(shared_data, 128):
        shape = cv2.imread(str(path)).shape[:2]
        if shape in found and len(found[shape]) < count:
            found[shape].append(path)
    return found[(480, 640)] + found[(640, 480)]


# (h, w) of a 1280x720 frame at 640, of a 640x480 one, of a 480x640 one
MINIMAL = {(720, 1280): [384, 640], (480, 640): [480, 640], (640, 480): [640, 480]}


def test_16_9_and_4_3_frames_equal_ultralytics_pytorch(weights: Path, dynamic_ir: Path, shared_data: Path,
                                                       tmp_path: Path) -> None:
    images = wide_jpegs(coco128(shared_data, 16), tmp_path / "wide") + four_by_three(shared_data, 6)
    daemon = start_daemon(tmp_path, link_models(tmp_path, {"v8": dynamic_ir}), {"models": {"shapes": "minimal"}})
    try:
        assert compiled_shapes(daemon) == [[640, 640]]  # the square only, at start
        # One image of each shape, answered at the square, until its shape has compiled: the first
        # request of a shape starts its compile, one shape at a time.
        deadline = time.monotonic() + 180
        for image, shape in zip((images[0], images[16], images[-1]), MINIMAL.values()):
            while shape not in compiled_shapes(daemon):
                assert time.monotonic() < deadline, f"{compiled_shapes(daemon)} after 180 s:\n" + daemon.tail()
                predict(daemon, image)
                time.sleep(0.1)
        assert "v8: input shape 384x640 compiled" in daemon.log()
        reference = ultralytics.YOLO(str(weights))
        figures = ParityFigures()
        for image in images:
            ref = reference.predict(str(image), imgsz=640, conf=0.25, iou=0.45, verbose=False)[0]
            assert ref.orig_shape in MINIMAL
            figures.match(predict(daemon, image), ref.summary(), image.name)
        figures.save("parity_shape_aware_yolov8n_16x9_4x3")
        # nothing else was compiled: every image ran at one of these
        assert sorted(compiled_shapes(daemon)) == sorted([[640, 640], *MINIMAL.values()])
    finally:
        daemon.stop()
    assert figures.compared > 60, "too few reference detections to prove anything"
    assert not figures.failures, figures.failures[:10]


def test_a_stop_during_a_shape_compile_exits_cleanly(dynamic_ir: Path, shared_data: Path, tmp_path: Path) -> None:
    """SIGTERM while a new shape compiles in the background: the exit waits for the compile, since a
    thread still inside OpenVINO when Python shuts down aborts the process (SIGABRT) instead of exit 0."""
    (image,) = wide_jpegs(coco128(shared_data, 1), tmp_path / "wide")
    daemon = start_daemon(tmp_path, link_models(tmp_path, {"v8": dynamic_ir}), {"models": {"shapes": "minimal"}})
    try:
        predict(daemon, image)  # answered at the square; 384x640 starts compiling
        daemon.process.send_signal(signal.SIGTERM)
        rc = daemon.process.wait(60)
    finally:
        daemon.stop()
    log = daemon.log()
    assert "FATAL" not in log and rc == 0, log[-2000:]
    compiled = "v8: input shape 384x640 compiled"
    assert compiled in log and log.index("stopping") < log.index(compiled), "the stop did not meet a compile"
