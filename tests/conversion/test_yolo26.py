"""YOLO26 checkpoints (seeded yamls: no pretrained YOLO26 file is available offline) convert to INT8 on a
plain folder of frames for every task, NMS-free heads included, and are gated on agreement with FP32:
box mAP for the box tasks (and keypoint mAP for pose), top-1/top-5 for classify, mIoU for semantic,
relative depth difference for depth. Classify exports at the checkpoint's own size when no --imgsz is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversion import gate
from tests.support.conversion import convert, images_folder, yaml_checkpoint
from tests.support.parity import graph_precision

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics, pytest.mark.slow]

#: (bundle id, model yaml, extra options, gated metric). NMS-free exports need >= 300 anchors: 160 px.
#: (YOLO26 segment's INT8 path is the one of detect and pose, and bench/yolo26_int8_bench.py runs it.)
CASES = [
    ("detect-e2e", "yolo26n.yaml", ["--end2end", "--imgsz", "160"], "box_map50_95"),
    ("pose-e2e", "yolo26n-pose.yaml", ["--end2end", "--imgsz", "160"], "pose_map50_95"),
    ("semantic", "yolo26n-sem.yaml", ["--imgsz", "64"], "miou"),
    ("depth", "yolo26n-depth.yaml", ["--imgsz", "64"], "depth_agreement"),
]


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return images_folder(tmp_path_factory.mktemp("frames"), 8)


@pytest.mark.parametrize(("model_id", "cfg", "extra", "metric"), CASES, ids=[c[0] for c in CASES])
def test_yolo26_int8(model_id: str, cfg: str, extra: list[str], metric: str, frames: Path, tmp_path: Path) -> None:
    from edge.inference.repository import read_model_folder

    out = tmp_path / "models"
    checkpoint = yaml_checkpoint(tmp_path, cfg, spread=True)
    code = convert(checkpoint, "--precision", "int8", "--out", out, "--id", model_id, "--data", frames,
                   "--holdout", "0.5", "--max-drop", "100", "--bench-seconds", "0", "--no-accuracy-control", *extra)
    assert code == 0
    spec = read_model_folder(out / model_id)
    assert graph_precision(spec.xml) == "int8" and spec.end2end == ("--end2end" in extra)
    report = json.loads((out / model_id / "report.json").read_text())
    acc = report["accuracy"]
    assert acc["mode"] == "agreement" and 0.0 <= acc["result"][metric] <= 1.0
    drops = [(acc["fp32"][k] - acc["result"][k]) * 100 * gate.AGREEMENT_WEIGHTS.get(k, 1.0)
             for k in acc["fp32"] if gate.gated(k)]
    assert acc["drop_points"] == pytest.approx(max(drops), abs=1e-6), "the largest drop over the gated metrics"
    if metric in ("miou", "depth_agreement"):  # FP32's own maps are the reference: it scores 1
        assert acc["fp32"][metric] == pytest.approx(1.0)
    if spec.end2end:
        assert quantized_postprocess_inputs(spec.xml) == []


def quantized_postprocess_inputs(xml: Path) -> list[str]:
    """Ops of the NMS-free head's post-processing (TopK, Gather*, ReduceMax, Mod, Sigmoid and the box
    decode, all traced under ``<head>/``) that NNCF fed through a FakeQuantize: there must be none."""
    import openvino as ov

    model = ov.Core().read_model(xml)
    ops = model.get_ordered_ops()
    assert any(op.get_type_name() == "FakeQuantize" for op in ops), "the model is quantized at all"
    topk = [op for op in ops if op.get_type_name() == "TopK"]
    assert topk, "an NMS-free head selects its rows with TopK"
    head = topk[0].get_friendly_name().split("/", 1)[0]
    return [op.get_friendly_name() for op in ops if op.get_friendly_name().startswith(f"{head}/")
            and any(v.get_node().get_type_name() == "FakeQuantize" for v in op.input_values())]


def test_end2end_needs_an_nms_free_head(frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conversion.errors import SourceError

    code = convert(yaml_checkpoint(tmp_path, "yolov8n.yaml"), "--precision", "fp32", "--out", tmp_path / "m",
                   "--end2end", "--imgsz", "64", "--bench-seconds", "0")
    assert code == SourceError.exit_code
    assert "--end2end needs a model with an NMS-free head" in capsys.readouterr().err


def test_classify_defaults_to_its_own_size(tmp_path: Path) -> None:
    """A classifier trained at 96 exports at 96 without --imgsz (640 before); detect keeps 640."""
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    checkpoint = tmp_path / "cls96.pt"
    YOLO("yolo26n-cls.yaml").save(str(checkpoint))
    ckpt = torch.load(checkpoint, weights_only=False)
    ckpt["train_args"] = {"task": "classify", "imgsz": 96}  # what training records in the checkpoint
    torch.save(ckpt, checkpoint)
    out = tmp_path / "models"
    assert convert(checkpoint, "--precision", "fp32", "--out", out, "--id", "cls", "--bench-seconds", "0") == 0
    meta = json.loads((out / "cls" / "report.json").read_text())
    assert meta["bundle"]["imgsz"] == [96, 96]

    from conversion.input_size import default_imgsz

    assert default_imgsz("detect", YOLO("yolo26n.yaml")) == (640, 640)
    assert default_imgsz("classify", object()) == (224, 224)  # a checkpoint that records no size


@pytest.mark.parametrize(("task", "cfg", "metrics"), [
    ("semantic", "yolo26n-sem.yaml", ("miou", "pixel_acc")),
    ("depth", "yolo26n-depth.yaml", ("depth_delta1", "depth_abs_rel")),
])
def test_dense_labelled_gate(task: str, cfg: str, metrics: tuple[str, str], frames: Path, tmp_path: Path) -> None:
    """With masks/ (semantic) or depth/ (depth) beside images/, the gate is Ultralytics' own validator. The
    labels here are the .pt's own predictions, so FP32 scores near perfect and the wiring is what is tested."""
    import shutil

    import cv2
    from ultralytics import YOLO
    from ultralytics.data.utils import save_depth_png

    checkpoint = yaml_checkpoint(tmp_path, cfg, spread=True)
    images, labels = tmp_path / "ds" / "images", tmp_path / "ds" / ("masks" if task == "semantic" else "depth")
    images.mkdir(parents=True)
    labels.mkdir()
    model = YOLO(str(checkpoint))
    for jpg in sorted(frames.glob("*.jpg")):
        shutil.copyfile(jpg, images / jpg.name)
        result = model.predict(str(jpg), imgsz=64, device="cpu", verbose=False)[0]
        if task == "semantic":
            cv2.imwrite(str(labels / (jpg.stem + ".png")), result.semantic_mask.data.cpu().numpy().astype("uint8"))
        else:
            save_depth_png(labels / (jpg.stem + ".png"), result.depth.data.cpu().numpy())
    out = tmp_path / "models"
    code = convert(checkpoint, "--precision", "int8", "--out", out, "--id", task, "--data", images, "--imgsz", "64",
                   "--holdout", "0.5", "--max-drop", "100", "--bench-seconds", "0", "--no-accuracy-control")
    assert code == 0
    acc = json.loads((out / task / "report.json").read_text())["accuracy"]
    assert acc["mode"] == "labels" and set(metrics) <= set(acc["fp32"]) and set(metrics) <= set(acc["result"])
    # FP32 IR against the .pt's own maps (the .pt letterboxes to a rectangle, the IR to the square: a random
    # model's near-tied classes differ along the edges)
    assert acc["fp32"][metrics[0]] >= 0.5


def test_dense_recovery_is_tried_and_reported(frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A semantic INT8 model over its limit goes through NNCF's accuracy control (``RecoveringGate``,
    shared with the box gate), judged on the maps, bounded in time; the outcome is reported either way."""
    out = tmp_path / "models"
    checkpoint = yaml_checkpoint(tmp_path, "yolo26n-sem.yaml", spread=True)
    code = convert(checkpoint, "--precision", "int8", "--out", out, "--id", "semantic", "--data", frames,
                   "--imgsz", "64", "--holdout", "0.5", "--max-drop", "0.01", "--bench-seconds", "0",
                   "--accuracy-control-seconds", "40")
    err = capsys.readouterr().err
    if code == 0:  # recovered within 0.01 points of mIoU
        attempts = json.loads((out / "semantic" / "report.json").read_text())["quantization"]["attempts"]
        assert [a["method"] for a in attempts][-1] == "nncf.quantize_with_accuracy_control", attempts
        note = attempts[-1].get("note") or ""
    else:
        assert code == 6 and "no bundle written" in err and not (out / "semantic").exists()
        assert "nncf.quantize_with_accuracy_control: " in err, err[-2000:]
        note = err.split("nncf.quantize_with_accuracy_control: ", 1)[1]
    # it ran (kept, not better, or stopped by its time bound), not failed: NNCF scored candidates on the maps
    assert "failed: " not in note, note
