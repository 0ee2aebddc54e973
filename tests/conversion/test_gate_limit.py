"""What the gate's limit is and how the report words it, without a model: the labelled gate holds
mAP50-95 to --max-drop; the unlabelled one holds agreement to the agreement drop measured to go with
it (bench/gate_bench.py), and both say in plain words which one ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversion import gate, report
from conversion.errors import UsageError
from conversion.options import Options, check_options


def test_labelled_limit_is_max_drop() -> None:
    assert gate.limit("labels", "detect", 1.0, None) == gate.Limit(1.0, "--max-drop")
    assert gate.limit("labels", "pose", 0.5, 9.0).points == 0.5, "--max-agreement-drop is for agreement only"


def test_agreement_limit_comes_from_max_drop() -> None:
    default = gate.limit("agreement", "detect", 1.0, None)
    assert default.points == gate.agreement_limit(1.0) == gate.AGREEMENT_FLOOR + gate.AGREEMENT_SLOPE
    assert default.points > 1.0, "agreement points are not mAP points: a good INT8 loses more of them"
    assert "--max-drop 1" in default.source
    assert gate.limit("agreement", "detect", 0.5, None).points < default.points, "a stricter --max-drop is stricter"
    assert gate.limit("agreement", "segment", 1.0, 3.5) == gate.Limit(3.5, "--max-agreement-drop")
    assert gate.limit("agreement", "classify", 1.0, None).points == 1.0, "classify agreement is unmeasured"


def _accuracy(mode: str, drop: float, limit: float, passed: bool) -> dict[str, object]:
    return {"mode": mode, "images": 38, "fp32": {"box_map50_95": 0.5}, "result": {"box_map50_95": 0.5 - drop / 100},
            "drop_points": drop, "max_drop": limit, "passed": passed, "forced": False,
            "limit_source": "--max-drop" if mode == "labels" else "--max-drop 1 as agreement points",
            "reference_boxes": None if mode == "labels" else 312}


def test_report_says_which_gate_ran() -> None:
    labelled = report.gate_sentence(_accuracy("labels", 0.3, 1.0, True), "detect", "passed")
    assert labelled.startswith("Gate (labelled)") and "0.30 mAP50-95 points worse than FP32" in labelled
    assert "agreement" not in labelled
    agreement = report.gate_sentence(_accuracy("agreement", 1.83, 4.0, True), "detect", "passed")
    assert agreement.startswith("Gate (no labels, agreement with FP32)")
    assert "312 boxes" in agreement and "1.83" in agreement and "not lost accuracy" in agreement
    assert "Limit 4.00 agreement points" in agreement and "**passed**" in agreement
    better = report.gate_sentence(_accuracy("labels", -0.2, 1.0, True), "detect", "passed")
    assert "0.20 mAP50-95 points better" in better
    assert "masks" not in agreement and "keypoints" not in agreement


def test_keypoint_agreement_counts_half() -> None:
    """Without labels keypoint agreement is held to twice the box limit (it moves twice as much for good
    models); masks count in full, and with labels every mAP counts in full."""
    def acc(mode: str, box: float, other: str, value: float) -> gate.Accuracy:
        return gate.Accuracy(mode, 38, {"box_map50_95": box, f"{other}_map50_95": value})

    assert gate.drop_points(acc("agreement", 1.0, "pose", 1.0), acc("agreement", 0.97, "pose", 0.92)) \
        == pytest.approx(4.0)
    assert gate.drop_points(acc("agreement", 1.0, "mask", 1.0), acc("agreement", 0.97, "mask", 0.92)) \
        == pytest.approx(8.0)
    assert gate.drop_points(acc("labels", 0.5, "pose", 0.5), acc("labels", 0.49, "pose", 0.48)) == pytest.approx(2.0)


@pytest.mark.parametrize(("task", "what"), [("segment", "masks"), ("pose", "keypoints")])
def test_agreement_report_names_masks_and_keypoints(task: str, what: str) -> None:
    """Segment and pose agreement compares masks / keypoints too, and the report says so."""
    sentence = report.gate_sentence(_accuracy("agreement", 7.5, 5.0, False), task, "failed")
    assert f"confident boxes and {what}" in sentence and f"boxes or {what} (whichever lost more" in sentence
    assert ("counts half" in sentence) == (task == "pose")


def test_accuracy_control_needs_a_time_limit(tmp_path: Path) -> None:
    opts = Options(source="m.pt", precision="int8", out=tmp_path, data="frames", accuracy_control_seconds=0)
    with pytest.raises(UsageError, match="--accuracy-control-seconds 0: must be more than 0"):
        check_options(opts)
