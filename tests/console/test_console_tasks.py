"""Classify and OBB answers drawn by the console in real headless Chromium: top-k bars whose lengths
follow the confidences, and rotated boxes drawn along their four corners, for models that
yolo-edge-convert built from Ultralytics yamls (seeded random weights: the drawing, not the accuracy,
is under test). The JSON shown must equal the HUB API's answer for the same request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import Console
from tests.console.test_console_browser import api_answer, predict_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.shared_data]

# For each point: how many pixels of a 5x5 square around it differ from the bare image.
CHANGED_AT = """async (points) => {
  const bitmap = await createImageBitmap(document.getElementById("file").files[0]);
  const canvas = document.getElementById("canvas");
  const bare = new OffscreenCanvas(canvas.width, canvas.height).getContext("2d");
  bare.drawImage(bitmap, 0, 0);
  const drawn = canvas.getContext("2d");
  return points.map(([x, y]) => {
    const x0 = Math.max(0, Math.round(x) - 2), y0 = Math.max(0, Math.round(y) - 2);
    const a = drawn.getImageData(x0, y0, 5, 5).data, b = bare.getImageData(x0, y0, 5, 5).data;
    let n = 0;
    for (let i = 0; i < a.length; i += 4) if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 24) n++;
    return n;
  });
}"""
# Along a row of the canvas: the colour at `x0` and how many pixels from there on keep it.
RUN = """([x0, y]) => {
  const ctx = document.getElementById("canvas").getContext("2d");
  const row = ctx.getImageData(0, y, ctx.canvas.width, 1).data;
  const at = (x) => Array.from(row.slice(4 * x, 4 * x + 3));
  const first = at(x0);
  let x = x0;
  while (x < ctx.canvas.width && at(x).every((v, i) => Math.abs(v - first[i]) <= 2)) x++;
  return {rgb: first, run: x - x0};
}"""


def needs(console: Console, model_id: str) -> None:
    if not (console.daemon.config_path.parent / "models" / model_id).exists():
        pytest.skip(f"the {model_id} bundle needs the conversion tool (torch, ultralytics, nncf)")


def test_classify_draws_top_k_bars(console: Console) -> None:
    needs(console, "classify")
    shown = predict_in_browser(console, "classify")
    assert console.page.input_value("#size") == "96"  # the slider follows the model's own size
    assert shown == api_answer(console, "classify", size=96) and len(shown["data"]) >= 2
    width, height = console.page.evaluate(
        "() => [document.getElementById('canvas').width, document.getElementById('canvas').height]")
    scale = max(1, max(width, height) / 800)  # bars: at (8, 8 + i * 26) in 800-px units, 360 long at 100 %
    full = min(width * 0.6, 360 * scale)
    measured = 0
    for i, item in enumerate(shown["data"]):
        top = 8 * scale + i * 26 * scale
        bar = console.page.evaluate(RUN, [round(8 * scale) + 1, round(top + 2 * scale)])  # above the text
        expected = full * item["confidence"]
        if expected >= 4:
            assert abs(bar["run"] + 1 - expected) <= 2, (item, bar, expected)
            assert bar["rgb"] != [0, 0, 0], bar
            measured += 1
    assert measured >= 1, shown["data"]
    assert console.csp_violations() == []


def corners(item: dict[str, Any]) -> list[tuple[float, float]]:
    b = item["box"]
    return [(b[f"x{i}"], b[f"y{i}"]) for i in range(1, 5)]


def test_obb_draws_rotated_boxes(console: Console) -> None:
    needs(console, "obb")
    shown = predict_in_browser(console, "obb")
    assert shown == api_answer(console, "obb", size=160) and len(shown["data"]) >= 1
    items = shown["data"][:40]
    rotated = [it for it in items if len({round(x) for x, _ in corners(it)}) > 2]
    assert rotated, "no rotated box in the answer: nothing to check the drawing with"
    width, height = console.page.evaluate(
        "() => [document.getElementById('canvas').width, document.getElementById('canvas').height]")
    points = []
    for it in rotated:  # random weights: some boxes reach past the image, where nothing can be drawn
        c = corners(it)
        for (x1, y1), (x2, y2) in zip(c, c[1:] + c[:1]):
            points += [(x, y) for t in (0.3, 0.5, 0.7) for x, y in [(x1 + (x2 - x1) * t, y1 + (y2 - y1) * t)]
                       if 3 <= x <= width - 4 and 3 <= y <= height - 4]
    assert len(points) >= 6, rotated
    changed = console.page.evaluate(CHANGED_AT, points)
    missed = [p for p, n in zip(points, changed) if n == 0]
    assert not missed, f"{len(missed)} of {len(points)} points on the rotated edges were not drawn: {missed[:5]}"
    assert console.csp_violations() == []
