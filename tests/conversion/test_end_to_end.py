"""Real conversions, end to end: a shared checkpoint and a yaml-built one at each precision; the
bundles load in OpenVINO, match Ultralytics' own predictions and are served by the daemon."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.conversion import IMGSZ, coco8_yaml, convert, images_folder, weights, yaml_checkpoint
from tests.support.parity import graph_precision
from tests.support.shared_data import ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

PRECISIONS = ("fp32", "fp16", "int8")


@pytest.fixture(scope="module")
def real_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """yolov8n-dq converted at each precision, calibrated and gated on coco8 (labels)."""
    tmp = tmp_path_factory.mktemp("real")
    data = coco8_yaml(tmp)
    out = tmp / "models"
    bundles = {}
    for precision in PRECISIONS:
        code = convert(weights("yolov8n-dq.pt"), "--precision", precision, "--out", out, "--id", f"v8-{precision}",
                       "--data", data, "--imgsz", IMGSZ, "--holdout", "0.5", "--max-drop", "100",
                       "--bench-seconds", "0.5")
        assert code == 0
        bundles[precision] = out / f"v8-{precision}"
    return bundles


@pytest.fixture(scope="module")
def yaml_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A yolov8n.yaml model with seeded random weights at each precision; data without labels."""
    tmp = tmp_path_factory.mktemp("yaml")
    ckpt = yaml_checkpoint(tmp)
    data = images_folder(tmp / "images", 8)
    out = tmp / "models"
    for precision in PRECISIONS:
        # random weights find nothing in real frames, so agreement cannot judge (exit 6 without --force);
        # the gate is not what this fixture is about
        code = convert(ckpt, "--precision", precision, "--out", out, "--data", data, "--imgsz", "96",
                       "--max-drop", "100", "--bench-seconds", "0.3", "--no-accuracy-control", "--force")
        assert code == 0
    return {p: out / f"yolov8n-seed-{p}" for p in PRECISIONS}


def _ultralytics_view(bundle: Path, tmp: Path) -> Path:
    """Ultralytics recognises IR folders by their ``_openvino_model`` suffix: link one."""
    link = tmp / f"{bundle.name}_openvino_model"
    if not link.exists():
        link.symlink_to(bundle)
    return link


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_real_bundle_layout(real_bundles: dict[str, Path], precision: str) -> None:
    bundle = real_bundles[precision]
    names = sorted(p.name for p in bundle.iterdir())
    expected = ["yolov8n-dq.xml", "yolov8n-dq.bin", "metadata.yaml", "report.json", "report.md"]
    assert names == sorted(expected + ([] if precision == "fp32" else ["chart.png"]))  # FP32 has nothing to compare
    meta = yaml.safe_load((bundle / "metadata.yaml").read_text())
    assert (meta["task"], meta["stride"], meta["imgsz"], meta["names"][0]) == ("detect", 32, [160, 160], "person")
    assert meta["args"]["int8"] == (precision == "int8") and meta["args"]["half"] == (precision == "fp16")
    report = json.loads((bundle / "report.json").read_text())
    assert report["bundle"]["precision"] == precision
    assert report["speed"]["fp32"]["throughput_fps"] > 0 and report["speed"]["openvino"]
    if precision == "fp32":
        assert "accuracy" not in report
    else:
        assert report["accuracy"]["mode"] == "labels" and report["accuracy"]["passed"]
        assert set(report["accuracy"]["fp32"]) == {"box_map50_95", "box_map50"}
        assert report["speed"]["throughput_ratio"] > 0
    if precision == "int8":
        assert report["quantization"]["recipe"] == "yolo-edge"
    assert "## Speed" in (bundle / "report.md").read_text()
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".")], "no staging folder left"


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_real_bundle_matches_ultralytics(real_bundles: dict[str, Path], precision: str, tmp_path: Path) -> None:
    """The bundle, run by Ultralytics, finds what the .pt checkpoint finds on bus.jpg."""
    from ultralytics import YOLO
    from ultralytics.utils.metrics import box_iou

    bus = str(ultralytics_asset("bus.jpg"))
    ref = YOLO(str(weights("yolov8n-dq.pt"))).predict(bus, imgsz=int(IMGSZ), conf=0.4, verbose=False)[0].boxes
    ours = YOLO(str(_ultralytics_view(real_bundles[precision], tmp_path)), task="detect").predict(
        bus, imgsz=int(IMGSZ), conf=0.25, verbose=False)[0].boxes
    assert len(ref) >= 2
    iou = box_iou(ref.xyxy, ours.xyxy)
    same_class = ref.cls[:, None] == ours.cls[None, :]
    assert bool(((iou > 0.7) & same_class).any(1).all()), f"reference {ref.cls.tolist()} vs ours {ours.cls.tolist()}"


@pytest.mark.slow
@pytest.mark.parametrize("precision", PRECISIONS)
def test_yaml_bundle_loads_in_openvino(yaml_bundles: dict[str, Path], precision: str) -> None:
    import openvino as ov

    from conversion.calibration import read_bgr, to_input
    from edge.inference.repository import read_model_folder

    bundle = yaml_bundles[precision]
    spec = read_model_folder(bundle)
    assert (spec.task, spec.imgsz, graph_precision(spec.xml)) == ("detect", (96, 96), precision)
    compiled = ov.Core().compile_model(spec.xml, "CPU")
    tensor, _ = to_input(read_bgr(ultralytics_asset("bus.jpg")), (96, 96), 32)
    out = compiled(tensor)[0]
    assert out.shape == (1, 84, 189) and np.isfinite(out).all()
    report = json.loads((bundle / "report.json").read_text())
    if precision != "fp32":
        assert report["accuracy"]["mode"] == "agreement"
        assert report["data"]["labels"] is False


@pytest.mark.slow
def test_daemon_serves_converted_bundle(real_bundles: dict[str, Path], tmp_path: Path) -> None:
    """The --out folder is a models.dir the daemon takes as is; it answers a predict request."""
    import requests

    from tests.support.daemon import start_daemon

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(real_bundles["int8"], models / "v8-int8")
    daemon = start_daemon(tmp_path, models)
    try:
        key = {"x-api-key": daemon.api_key}
        listed = {m["id"]: m for m in requests.get(daemon.base_url + "/v1/models", headers=key, timeout=30).json()["data"]}
        assert listed["v8-int8"]["precision"] == "int8" and listed["v8-int8"]["imgsz"] == [160, 160]
        with open(ultralytics_asset("bus.jpg"), "rb") as f:
            response = requests.post(daemon.base_url + "/v1/predict/v8-int8", headers=key, files={"image": f},
                                     data={"confidence": "0.25"}, timeout=60)
        assert response.status_code == 200, response.text
        names = [d["name"] for d in response.json()["data"]]
        assert "person" in names or "bus" in names
    finally:
        daemon.stop()


@pytest.mark.slow
def test_force_replaces_existing_bundle(real_bundles: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "models"
    shutil.copytree(real_bundles["fp32"], out / "v8")
    (out / "v8" / "stale.txt").write_text("old")
    assert convert(weights("yolov8n-dq.pt"), "--precision", "fp32", "--out", out, "--id", "v8", "--imgsz", "96",
                   "--bench-seconds", "0") == 4
    assert (out / "v8" / "stale.txt").exists()
    assert convert(weights("yolov8n-dq.pt"), "--precision", "fp32", "--out", out, "--id", "v8", "--imgsz", "96",
                   "--bench-seconds", "0", "--force") == 0
    assert not (out / "v8" / "stale.txt").exists()
    assert yaml.safe_load((out / "v8" / "metadata.yaml").read_text())["imgsz"] == [96, 96]
    assert sorted(p.name for p in out.iterdir()) == ["v8"]
