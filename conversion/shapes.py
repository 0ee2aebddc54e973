"""The input shapes a bundle records for shape-aware serving (``yolo-edge-convert --shapes``).

A dynamic-shape IR serves any shape; the daemon with ``models.shapes: minimal`` compiles one static
model per (h, w) it meets. Shapes known at conversion time (the cameras' 16:9, a phone's 4:3) are
written to the bundle's ``metadata.yaml`` as ``yolo_edge_shapes: [[h, w], ...]`` and compiled at start,
so the first frames already run at their own shape. Ultralytics ignores the key.

Why one dynamic IR and not one static IR per shape: on CPU a dynamic IR reshaped to a shape and
compiled is the same static graph as an IR exported at that shape (docs/benchmark.md, "Shapes in the
bundle"), and one IR serves every size and every shape seen later. The iGPU and the NPU also get
static compilations this way (the daemon reshapes before compiling; the NPU is pinned to the export's
own size).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from conversion.errors import UsageError
from edge.inference.letterbox import minimal_canvas
from edge.inference.repository import SHAPES_KEY

STRIDE = 32
_HW = re.compile(r"^(\d+)x(\d+)$")
_ASPECT = re.compile(r"^(\d+):(\d+)$")


def parse_shape(text: str, imgsz: tuple[int, int]) -> tuple[int, int]:
    """``384x640`` (height x width, multiples of 32 up to 1280) or an aspect ratio ``16:9`` (width:height),
    taken as the stride-padded rectangle such a frame runs at within ``imgsz`` (16:9 at 640: 384x640)."""
    if m := _HW.match(text):
        h, w = int(m[1]), int(m[2])
        if not all(STRIDE <= v <= 1280 and v % STRIDE == 0 for v in (h, w)):
            raise UsageError(f"--shapes {text}: height and width must be multiples of {STRIDE} from {STRIDE} to 1280")
        return h, w
    if (m := _ASPECT.match(text)) and int(m[1]) > 0 and int(m[2]) > 0:
        return minimal_canvas((int(m[2]), int(m[1])), imgsz, STRIDE)
    raise UsageError(f"--shapes {text}: give HEIGHTxWIDTH (384x640) or an aspect ratio WIDTH:HEIGHT (16:9)")


def check_shapes(shapes: tuple[tuple[int, int], ...], dynamic: bool) -> None:
    if shapes and not dynamic:
        raise UsageError("--shapes needs --dynamic: a static Ultralytics IR cannot change shape (its head "
                         "holds the anchors of the exported size)")


def record_shapes(bundle: Path, shapes: tuple[tuple[int, int], ...]) -> None:
    """Add ``shapes`` to the ``metadata.yaml`` in ``bundle`` (nothing to do without shapes)."""
    if not shapes:
        return
    meta_path = bundle / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta[SHAPES_KEY] = [[h, w] for h, w in shapes]
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
