"""YOLO26 models through the daemon's HTTP API equal Ultralytics on the same IR: the NMS-free (end2end)
exports of detect, segment, pose and OBB, the default (one-to-many, NMS after) detect export, and
classify. Seeded yaml models with spread weights (no pretrained YOLO26 file is available offline).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.parity.test_tasks_http import ask
from tests.support import parity
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import ultralytics_asset
from tests.support.summary_items import WORST, compare_items

pytestmark = [pytest.mark.ultralytics, pytest.mark.slow]

ultralytics = pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")

IMGSZ = 160  # NMS-free heads keep 300 rows: the input needs >= 300 anchors
#: MODEL_ID -> (yaml, task, end2end)
MODELS = {
    "detect-e2e": ("yolo26n.yaml", "detect", True),
    "detect": ("yolo26n.yaml", "detect", False),
    "segment-e2e": ("yolo26n-seg.yaml", "segment", True),
    "pose-e2e": ("yolo26n-pose.yaml", "pose", True),
    "obb-e2e": ("yolo26n-obb.yaml", "obb", True),
    "classify": ("yolo26n-cls.yaml", "classify", False),
}


@pytest.fixture(scope="module")
def folders() -> dict[str, Path]:
    return {m: parity.export_openvino(cfg, IMGSZ, seed=0, end2end=e2e) for m, (cfg, _, e2e) in MODELS.items()}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, Path]) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("yolo26-daemon")
    d = start_daemon(tmp, link_models(tmp, folders))
    yield d
    d.stop()


@pytest.mark.parametrize("model_id", list(MODELS))
def test_yolo26_parity_over_http(daemon: Daemon, folders: dict[str, Path], model_id: str) -> None:
    from edge.inference.repository import read_model_folder

    _, task, end2end = MODELS[model_id]
    assert read_model_folder(folders[model_id]).end2end == end2end
    reference = ultralytics.YOLO(str(folders[model_id]), task=task)
    compared = 0
    worst = dict(WORST)
    for image in [ultralytics_asset("bus.jpg"), ultralytics_asset("zidane.jpg")]:
        result = reference.predict(str(image), conf=0.25, iou=0.45, imgsz=IMGSZ, verbose=False)[0]
        ours = ask(daemon, model_id, image, confidence=0.25, iou=0.45, size=IMGSZ)
        compared += compare_items(ours, result.summary(), task, result.orig_shape, worst, image.name)
    assert compared >= 5, "spread weights give detections (else the test means little)"
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"parity_http_yolo26_{model_id}.json").write_text(json.dumps({"compared": compared, **worst}))
