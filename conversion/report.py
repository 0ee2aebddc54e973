"""report.json, report.md and chart.png of a bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conversion import gate

CHART = "chart.png"
#: Agreement drops measured with bench/gate_bench.py (docs/conversion.md), quoted in every agreement report.
#: Gated drops (the largest of box and mask / keypoint agreement for segment / pose).
AGREEMENT_GOOD, AGREEMENT_BROKEN = "1.6–4.5", "9 or more"


def write_reports(report: dict[str, Any], folder: Path) -> None:
    """Write ``report.json``, ``report.md`` and (when there is something to compare) ``chart.png``."""
    (folder / "report.json").write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    has_chart = write_chart(report, folder / CHART)
    (folder / "report.md").write_text(markdown(report, has_chart))


#: (accuracy mode, task-specific or "") -> how the accuracy was measured.
_MODES = {
    ("labels", ""): "against the labels (Ultralytics val)",
    ("labels", "classify"): "as top-1 / top-5 accuracy against the class folders (daemon's centre crop)",
    ("agreement", ""): "as agreement with FP32's predictions (box mAP, FP32 conf ≥ 0.25 as reference)",
    ("agreement", "segment"): "as agreement with FP32's predictions (box and mask mAP, FP32's boxes and masks at "
                              "conf ≥ 0.25 as reference; the larger drop is gated)",
    ("agreement", "pose"): "as agreement with FP32's predictions (box and keypoint mAP, keypoints by OKS, FP32's "
                           "boxes and keypoints at conf ≥ 0.25 as reference; the larger drop is gated, the "
                           "keypoint drop counted half)",
    ("agreement", "obb"): "as agreement with FP32's predictions (rotated-box mAP, probabilistic IoU, "
                          "FP32 conf ≥ 0.25 as reference)",
    ("agreement", "classify"): "as agreement with FP32: top-1 agreement rate and top-5 overlap",
}


def gate_sentence(acc: dict[str, Any], task: str, verdict: str) -> str:
    """Which kind of gate ran, its number, its limit and what the number means, in plain words."""
    drop, limit = acc["drop_points"], acc["max_drop"]
    source = acc.get("limit_source", "--max-drop")
    if task == "classify":
        kind = "agreement with FP32 (no labels)" if acc["mode"] == "agreement" else "labelled"
        return (f"Gate ({kind}): largest top-1/top-5 drop {drop:.2f} points (1 point = 1 % of the images), "
                f"limit {limit:.2f} ({source}): **{verdict}**.")
    worse = "worse" if drop >= 0 else "better"
    if task in gate.DENSE_UNITS:
        kind = "agreement with FP32's maps (no labels)" if acc["mode"] == "agreement" else "labelled"
        return (f"Gate ({kind}): the converted model is {abs(drop):.2f} {gate.points_label(acc['mode'], task)} "
                f"{worse} than FP32, limit {limit:.2f} ({source}): **{verdict}**.")
    if acc["mode"] == "labels":
        return (f"Gate (labelled): the converted model finds and outlines the labelled objects {abs(drop):.2f} "
                f"mAP50-95 points {worse} than FP32 (its largest drop over the task's mAP50-95 figures; 100 = "
                f"every object found and placed exactly). Limit {limit:.2f} ({source}): **{verdict}**.")
    boxes = acc.get("reference_boxes")
    counted = f" ({boxes} boxes, confidence ≥ 0.25)" if boxes is not None else ""
    what, scored = _AGREEMENT_WORDS.get(task, ("boxes", "boxes scored"))
    return (f"Gate (no labels, agreement with FP32): FP32's own confident {what}{counted} served as labels, and "
            f"the converted model's {scored} {abs(drop):.2f} mAP50-95 points {worse} against them than "
            "FP32's (FP32 scores about 100 against itself). This is disagreement, not lost accuracy: a box "
            "shifted by a pixel or a confidence crossing 0.25 counts against it. On labelled COCO images, "
            f"good INT8 models lose {AGREEMENT_GOOD} agreement points while losing 0–1.2 real mAP points; "
            f"broken ones lose {AGREEMENT_BROKEN} (docs/conversion.md). Limit {limit:.2f} agreement points "
            f"({source}): **{verdict}**.")


#: task -> (what FP32's pseudo-labels are, what was scored against them) in the agreement sentence.
_AGREEMENT_WORDS = {
    "segment": ("boxes and masks", "boxes or masks (whichever lost more) scored"),
    "pose": ("boxes and keypoints", ("boxes or keypoints (whichever lost more; keypoint agreement moves twice "
                                     "as much as box agreement and counts half) scored")),
}


def _fmt(value: float | None, scale: float = 100.0, digits: int = 2) -> str:
    return "—" if value is None else f"{value * scale:.{digits}f}"


def markdown(report: dict[str, Any], has_chart: bool) -> str:
    """The human-readable report: what was converted, accuracy against FP32, speed, what was tried."""
    b, src, env = report["bundle"], report["source"], report["environment"]
    lines = [
        f"# {b['model_id']}: {src['task']} model, {b['precision'].upper()}",
        "",
        f"- Source: `{src['path']}` ({src['classes']} classes)",
        f"- Input: {b['imgsz'][0]}×{b['imgsz'][1]}, batch 1, {'dynamic' if b['dynamic'] else 'static'} shape"
        + (f"; recorded shapes {', '.join(f'{h}×{w}' for h, w in b['shapes'])} (compiled at start under "
           "`models.shapes: minimal`)" if b.get("shapes") else ""),
        f"- Device: {env['device']}; OpenVINO {env['openvino']}, NNCF {env['nncf']}, Ultralytics {env['ultralytics']}",
    ]
    data = report.get("data")
    if data:
        lines.append(f"- Data: `{data['path']}` ({data['kind']}): {data['images']} readable images, "
                     f"{data['skipped']} skipped; {data['calibration']} for calibration, {data['holdout']} held out "
                     f"({data['holdout_from']}). "
                     f"{data['label_note']}")
    q = report.get("quantization")
    if q:
        lines += ["", "## Quantization", "",
                  f"Recipe `{q['recipe']}`: {q['description']} {q['ignored_ops']} operations kept in float."]
        for attempt in q.get("attempts", []):
            lines.append(f"- {attempt['method']}: drop {attempt['drop_points']:.2f} points"
                         + (f" ({attempt['note']})" if attempt.get("note") else ""))
    acc = report.get("accuracy")
    lines += ["", "## Accuracy", ""]
    if acc:
        mode = _MODES.get((acc["mode"], src["task"]), _MODES[(acc["mode"], "")])
        lines += [f"On {acc['images']} held-out images not used for calibration, {mode}.", "",
                  "| metric | FP32 | " + b["precision"].upper() + " | drop (points) |", "|---|---|---|---|"]
        for key, ref in acc["fp32"].items():
            cand = acc["result"][key]
            lines.append(f"| {key} | {_fmt(ref)} | {_fmt(cand)} | {(ref - cand) * 100:.2f} |")
        verdict = "passed" if acc["passed"] else ("FAILED, written because of --force" if acc["forced"] else "FAILED")
        lines += ["", gate_sentence(acc, src["task"], verdict)]
    else:
        lines.append(report.get("accuracy_note", "Not measured."))
    sp = report.get("speed")
    lines += ["", "## Speed", ""]
    if sp:
        lines += [(f"{sp['device']}, OpenVINO {sp['openvino']}, measured side by side in one run "
                   f"({sp['seconds']:.0f} s per model and mode)."), "",
                  "| model | latency ms (median, batch 1) | p90 ms | throughput img/s | requests |", "|---|---|---|---|---|"]
        for key, label in (("fp32", "FP32"), ("result", b["precision"].upper())):
            if key in sp:
                s = sp[key]
                lines.append(f"| {label} | {s['latency_ms']:.2f} | {s['latency_p90_ms']:.2f} | "
                             f"{s['throughput_fps']:.2f} | {s['requests']} |")
        if "throughput_ratio" in sp:
            lines += ["", f"Ratio to FP32: throughput ×{sp['throughput_ratio']:.2f}, latency ×{sp['latency_speedup']:.2f} faster."]
    else:
        lines.append("Not measured (--no-bench).")
    if has_chart:
        lines += ["", f"![FP32 vs {b['precision'].upper()}]({CHART})"]
    if report.get("warnings"):
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"


def write_chart(report: dict[str, Any], path: Path) -> bool:
    """Bars of mAP50-95 and throughput, FP32 beside the result. Returns False when nothing to plot."""
    acc: dict[str, Any] = report.get("accuracy") or {}
    sp: dict[str, Any] = report.get("speed") or {}
    if not acc and "result" not in sp:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = report["bundle"]["precision"].upper()
    panels = [p for p in ("accuracy", "speed") if (acc if p == "accuracy" else sp)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "accuracy":
            keys = [k for k in acc["fp32"] if k.endswith("map50_95") or k.startswith("top")]
            x = range(len(keys))
            for offset, key, name in ((-0.2, "fp32", "FP32"), (0.2, "result", label)):
                bars = ax.bar([i + offset for i in x], [acc[key][k] * 100 for k in keys], 0.4, label=name)
                ax.bar_label(bars, fmt="%.1f")
            ax.set_xticks(list(x), [k.replace("_map50_95", "") for k in keys])
            unit = "top-1 / top-5 (%)" if keys and keys[0].startswith("top") else "mAP50-95 (%)"
            ax.set_ylabel(unit + (" agreement" if acc["mode"] == "agreement" else ""))
            ax.set_title(f"Accuracy on {acc['images']} held-out images")
        else:
            names = ["FP32"] + ([label] if "result" in sp and label != "FP32" else [])
            values = [sp["fp32"]["throughput_fps"]] + ([sp["result"]["throughput_fps"]] if len(names) > 1 else [])
            ax.bar_label(ax.bar(names, values, color=["C0", "C1"][: len(names)]), fmt="%.1f")
            ax.set_ylabel("images / s")
            ax.set_title(f"Throughput on {sp['device'].split(' ')[0]}")
        ax.legend(loc="lower right") if panel == "accuracy" else None
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
