"""The unlabelled gate compares masks (segment) and keypoints (pose), not only boxes: a candidate whose
mask-coefficient or keypoint convolutions are perturbed, boxes untouched, keeps its box agreement and
is still refused, in the gate's score and by the pipeline with default gate options."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conversion import export, gate
from conversion.errors import AccuracyGateError
from tests.support.conversion import convert, images_folder, weights

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics, pytest.mark.slow]  # exports four IRs

#: task -> (checkpoint, the head's ModuleList whose last conv makes only masks coefficients / keypoints).
#: Real checkpoints: a random yaml model finds hundreds of boxes per frame and swamps NMS.
#: (yolo11n-seg-dq's prototype upsample is not its trained one, bench/repair_seg_dq.py: its masks are
#: still FP32's own, which is all agreement needs.)
#: Then input size and frames: pose at 320 and more frames, or yolo11n-pose finds too few people on the
#: held-out frames for agreement to judge.
HEADS = {"segment": ("yolo11n-seg-dq.pt", "cv4", 160, 32), "pose": ("yolo11n-pose.pt", "cv4", 320, 64)}


@dataclass(frozen=True)
class Pair:
    fp32_ckpt: Path
    fp32_ir: Path
    broken_ir: Path
    frames: Path
    imgsz: int


def _perturbed(checkpoint: Path, branch: str, out: Path) -> Path:
    """``checkpoint`` with the last convolution of the head's ``branch`` (mask coefficients / keypoints)
    negated: boxes and classes stay exactly as they were."""
    import torch

    ckpt = torch.load(checkpoint, weights_only=False)
    for model in (m for m in (ckpt.get("ema"), ckpt["model"]) if m is not None):
        with torch.no_grad():
            for seq in getattr(model.model[-1], branch):
                seq[-1].weight.neg_()
                seq[-1].bias.neg_()
    out.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out / checkpoint.name)
    return out / checkpoint.name


@pytest.fixture(scope="module", params=list(HEADS))
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Pair]:
    from conversion.source import load_source

    task = request.param
    checkpoint, branch, imgsz, frames = HEADS[task]
    tmp = tmp_path_factory.mktemp(task)
    ckpt = tmp / checkpoint
    shutil.copyfile(weights(checkpoint), ckpt)
    broken = _perturbed(ckpt, branch, tmp / "broken")
    size = (imgsz, imgsz)
    fp32_ir = export.export_fp32(load_source(str(ckpt)), tmp / "fp32", size, False)
    broken_ir = export.export_fp32(load_source(str(broken)), tmp / "broken_ir", size, False)
    return task, Pair(ckpt, fp32_ir, broken_ir, images_folder(tmp / "frames", frames), imgsz)


def _compiled(core: Any, folder: Path) -> Any:
    return core.compile_model(core.read_model(export.ir_file(folder)), "CPU")


def test_agreement_counts_masks_and_keypoints(pair: tuple[str, Pair]) -> None:
    import openvino as ov

    from conversion.source import load_source

    task, p = pair
    source = load_source(str(p.fp32_ckpt))
    core = ov.Core()
    images = sorted(p.frames.glob("*.jpg"))[:16]
    size = (p.imgsz, p.imgsz)
    fp32 = _compiled(core, p.fp32_ir)
    refs = gate.reference_predictions(fp32, images, size, source.stride, len(source.names), None, task,
                                      source.kpt_shape)
    assert sum(len(r.cls) for r in refs) >= gate.MIN_REFERENCE_BOXES
    ref = gate.agreement(fp32, images, refs, size, source.stride, source.names, None, "fp32", task, source.kpt_shape)
    kind = "mask" if task == "segment" else "pose"
    assert set(ref.metrics) == {"box_map50_95", "box_map50", f"{kind}_map50_95", f"{kind}_map50"}
    assert ref.metrics["box_map50_95"] > 0.95 and ref.metrics[f"{kind}_map50_95"] > 0.95, "FP32 agrees with itself"
    cand = gate.agreement(_compiled(core, p.broken_ir), images, refs, size, source.stride, source.names, None,
                          "broken", task, source.kpt_shape)
    box_drop = (ref.metrics["box_map50_95"] - cand.metrics["box_map50_95"]) * 100
    other_drop = (ref.metrics[f"{kind}_map50_95"] - cand.metrics[f"{kind}_map50_95"]) * 100
    assert abs(box_drop) < 0.5, "the perturbation left the boxes alone"
    weighted = other_drop * gate.AGREEMENT_WEIGHTS.get(f"{kind}_map50_95", 1.0)
    assert weighted > gate.agreement_limit(1.0), f"{kind} agreement must see the broken {kind} branch"
    assert gate.drop_points(ref, cand) == pytest.approx(weighted)


def test_pipeline_refuses_broken_masks_and_keypoints(pair: tuple[str, Pair], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The INT8 step hands back the perturbed model: a plain folder and default gate options refuse it
    (accuracy control off: it would quantize the real model again)."""
    import openvino as ov

    from conversion import quantize

    task, p = pair
    monkeypatch.setattr(quantize, "quantize",
                        lambda *a, **k: ov.Core().read_model(export.ir_file(p.broken_ir)))
    out = tmp_path / "models"
    code = convert(p.fp32_ckpt, "--precision", "int8", "--out", out, "--id", task, "--data", p.frames,
                   "--imgsz", p.imgsz, "--bench-seconds", "0", "--no-accuracy-control")
    err = capsys.readouterr().err
    assert code == AccuracyGateError.exit_code, err
    what = "masks" if task == "segment" else "keypoints"
    assert f"agreement points (mAP50-95 against FP32's own boxes and {what}" in err
    assert "no bundle written" in err.lower()
    assert not (out / task).exists()
