"""Semantic and depth answers drawn by the console in real headless Chromium: every sampled canvas pixel
is the bare image blended with the colour of what the HUB API's own map says at that pixel (the class
there; the depth level there), for models that yolo-edge-convert built from Ultralytics' YOLO26 yamls
(seeded random weights: the drawing, not the accuracy, is under test). The JSON shown equals the API's."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np
import pytest

from tests.console.conftest import Console
from tests.console.test_console_browser import api_answer, predict_in_browser
from tests.console.test_console_tasks import needs

pytestmark = [pytest.mark.browser, pytest.mark.shared_data]

# For each (x, y): the drawn pixel, the bare image's pixel, and the colour draw.js gives `value` there.
SAMPLES = """async ([points, semantic]) => {
  const draw = await import("/console/draw.js");
  const bitmap = await createImageBitmap(document.getElementById("file").files[0]);
  const canvas = document.getElementById("canvas");
  const bare = new OffscreenCanvas(canvas.width, canvas.height).getContext("2d");
  bare.drawImage(bitmap, 0, 0);
  const drawn = canvas.getContext("2d");
  const px = (ctx, x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  return {alpha: draw.MAP_ALPHA, size: [canvas.width, canvas.height], points: points.map(([x, y, v]) => ({
    drawn: px(drawn, x, y), bare: px(bare, x, y), colour: semantic ? hex(draw.color(v)) : draw.plasma(v / 255)}))};
}"""


def api_map(answer: dict[str, Any], key: str) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(answer[key]["data"]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def sample_points(shape: tuple[int, int], count: int = 150) -> list[tuple[int, int]]:
    """Pixels spread over the lower two thirds of the image (the top-k bars cover the top left)."""
    h, w = shape
    rng = np.random.default_rng(0)
    return [(int(x), int(y)) for x, y in zip(rng.integers(0, w, count), rng.integers(h // 3, h, count))]


def blended(sample: dict[str, Any], alpha: float) -> np.ndarray:
    return np.rint(np.array(sample["bare"]) * (1 - alpha) + np.array(sample["colour"]) * alpha)


def test_semantic_tints_every_pixel_with_its_class(console: Console) -> None:
    needs(console, "semantic")
    shown = predict_in_browser(console, "semantic")
    answer = api_answer(console, "semantic", size=160)
    assert shown == answer and answer["data"]
    classes = api_map(answer, "semantic_mask")
    assert classes.shape == tuple(answer["semantic_mask"]["shape"])
    points = sample_points(classes.shape)
    got = console.page.evaluate(SAMPLES, [[(x, y, int(classes[y, x])) for x, y in points], True])
    assert got["size"] == [classes.shape[1], classes.shape[0]]
    for (x, y), sample in zip(points, got["points"]):
        assert np.abs(np.array(sample["drawn"]) - blended(sample, got["alpha"])).max() <= 2, (x, y, sample)
    present = {int(c) for c in np.unique(classes[[y for _, y in points], [x for x, _ in points]])}
    assert present <= {item["class"] for item in answer["data"]}  # the bars list the classes drawn
    assert console.csp_violations() == [] and not [m for m in console.messages if "error" in m]


def test_depth_is_drawn_in_false_colour(console: Console) -> None:
    needs(console, "depth")
    shown = predict_in_browser(console, "depth")
    answer = api_answer(console, "depth", size=160)
    assert shown == answer and answer["data"] == []
    levels = api_map(answer, "depth")  # 16 bits by default; the browser draws 8
    assert levels.dtype == np.uint16 and levels.max() > levels.min()
    points = sample_points(levels.shape)
    got = console.page.evaluate(SAMPLES, [[(x, y, int(round(levels[y, x] / 257))) for x, y in points], False])
    for (x, y), sample in zip(points, got["points"]):
        # one 8-bit level of rounding either way moves a plasma colour by at most ~4, blended ~2
        assert np.abs(np.array(sample["drawn"]) - blended(sample, got["alpha"])).max() <= 4, (x, y, sample)
    status = console.page.text_content("#predict-status") or ""
    assert f"{answer['depth']['min']:.2f} to {answer['depth']['max']:.2f}" in status, status
    assert console.csp_violations() == [] and not [m for m in console.messages if "error" in m]
