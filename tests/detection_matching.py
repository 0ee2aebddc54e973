"""Match our HUB items to Ultralytics' ``Results.summary()`` items one to one, and keep figures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FIGURES_DIR = Path(__file__).resolve().parents[1] / "build" / "figures"


def box_iou(a: dict, b: dict) -> float:
    ax1, ay1, ax2, ay2 = a["x1"], a["y1"], a["x2"], a["y2"]
    bx1, by1, bx2, by2 = b["x1"], b["y1"], b["x2"], b["y2"]
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else float(a == b)


@dataclass
class ParityFigures:
    compared: int = 0  # reference instances
    matched: int = 0
    worst_iou: float = 1.0
    worst_conf_gap: float = 0.0
    failures: list[str] = field(default_factory=list)

    def match(self, ours: list[dict], ref: list[dict], label: str, min_iou: float = 0.99,
              max_conf_gap: float = 0.01) -> None:
        """Greedy one-to-one matching by class and IoU; a mismatch is recorded, not raised."""
        self.compared += len(ref)
        used: set[int] = set()
        for r in ref:
            best, best_iou = None, -1.0
            for j, o in enumerate(ours):
                if j in used or o["class"] != r["class"]:
                    continue
                iou = box_iou(o["box"], r["box"])
                if iou > best_iou:
                    best, best_iou = j, iou
            if best is None:
                self.failures.append(f"{label}: no match for {r['name']} {r['confidence']}")
                continue
            used.add(best)
            gap = abs(ours[best]["confidence"] - r["confidence"])
            self.worst_iou = min(self.worst_iou, best_iou)
            self.worst_conf_gap = max(self.worst_conf_gap, gap)
            if best_iou >= min_iou and gap <= max_conf_gap:
                self.matched += 1
            else:
                self.failures.append(f"{label}: {r['name']} iou {best_iou:.4f} conf gap {gap:.4f}")
        extra = len(ours) - len(used)
        if extra:
            self.failures.append(f"{label}: {extra} detections Ultralytics does not have")

    def save(self, name: str) -> None:
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        body = asdict(self)
        body["failures"] = body["failures"][:20]
        (FIGURES_DIR / f"{name}.json").write_text(json.dumps(body, indent=2))


def coco_images(shared_data: Path, count: int) -> list[Path]:
    images = sorted((shared_data / "coco128" / "images" / "train2017").glob("*.jpg"))
    return images[:count]


def as_float_array(items: list[dict]) -> np.ndarray:
    return np.array([[i["box"]["x1"], i["box"]["y1"], i["box"]["x2"], i["box"]["y2"]] for i in items])
