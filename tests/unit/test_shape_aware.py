"""``models.shapes: minimal``: a request runs at its image's minimal rectangle once that shape is
compiled; until then it runs at the pinned square while the shape compiles in the background, so no
request waits for a compile. A tiny dynamic model built here (its output is the sum of its input, so an
answer also shows the shape that ran it); no real weights."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
import yaml
from openvino import opset13 as ops

from edge.inference.engine import Engine, LoadedModel
from edge.inference.infer_pool import InferPool
from edge.inference.letterbox import letterbox, minimal_canvas
from edge.inference.options import PredictOptions
from edge.inference.predictor import prepare
from edge.inference.repository import read_model_folder
from edge.inference.shape_pools import ShapePools


def tiny_model_folder(tmp: Path, dynamic: bool, task: str = "detect") -> Path:
    """An IR taking (1, 3, H, W) f32 (dynamic H, W or 64x64) and returning its sum, with Ultralytics metadata."""
    folder = tmp / ("dyn" if dynamic else "static")
    folder.mkdir()
    x = ops.parameter([1, 3, -1, -1] if dynamic else [1, 3, 64, 64], ov.Type.f32, name="images")
    out = ops.reduce_sum(x, ops.constant(np.array([1, 2, 3], np.int64)), True)
    ov.save_model(ov.Model([out], [x], "sum"), folder / "tiny.xml")
    (folder / "metadata.yaml").write_text(yaml.safe_dump({
        "task": task, "names": {0: "a"}, "stride": 32, "imgsz": [64, 64], "args": {"dynamic": dynamic}}))
    return folder


def wait_for(shape: tuple[int, int], pools: ShapePools) -> None:
    """Until ``shape`` is compiled: the observable signal (``compiled_shapes`` in the model list)."""
    deadline = time.monotonic() + 60
    while shape not in pools.shapes:
        assert time.monotonic() < deadline, f"{shape} never compiled"
        time.sleep(0.01)


def gated(model: LoadedModel) -> tuple[threading.Event, list[tuple[int, int]]]:
    """Hold every later compile of ``model`` until the returned event is set; list the shapes asked."""
    assert isinstance(model.pool, ShapePools)
    gate, asked = threading.Event(), []
    compile_for = model.pool.compile_for

    def held(hw: tuple[int, int]) -> InferPool:
        asked.append(hw)
        assert gate.wait(60)
        return compile_for(hw)

    model.pool.compile_for = held
    return gate, asked


@pytest.mark.parametrize("image_hw, minimal", [
    ((72, 128), (64, 64)),     # 16:9 -> 36x64 padded to the stride: 64x64 (the square itself)
    ((128, 72), (64, 64)),
    ((720, 1280), (384, 640)),  # at 640: the figure Ultralytics' predictor gives
    ((480, 640), (480, 640)),
    ((1080, 1920), (384, 640)),
    ((640, 640), (640, 640)),
])
def test_minimal_canvas_is_what_letterbox_makes(image_hw: tuple[int, int], minimal: tuple[int, int]) -> None:
    size = (64, 64) if max(image_hw) <= 128 else (640, 640)
    assert minimal_canvas(image_hw, size, 32) == minimal
    out, _ = letterbox(np.zeros((*image_hw, 3), np.uint8), size, 32, minimal=True)
    assert out.shape[:2] == minimal


async def test_a_new_shape_runs_square_until_compiled_then_minimal(tmp_path: Path) -> None:
    model = Engine(shapes="minimal").load(read_model_folder(tiny_model_folder(tmp_path, dynamic=True), "tiny"))
    assert model.shape_aware and model.describe()["compiled_shapes"] == [[64, 64]]
    gate, asked = gated(model)
    image = np.full((720, 1280, 3), 1, np.uint8)
    options = PredictOptions(size=640)
    # The compile of 384x640 is held: requests keep running, at the square, and it is asked for once.
    for _ in range(3):
        tensor, lb = prepare(model, image, options)
        assert tensor.shape[:2] == (640, 640) and lb.input_shape == (640, 640)
    assert asked == [(384, 640)]
    # Another new shape meanwhile: also the square, and no second compile while one runs.
    tensor, _ = prepare(model, np.full((480, 640, 3), 1, np.uint8), options)
    assert tensor.shape[:2] == (640, 640) and asked == [(384, 640)]
    gate.set()
    wait_for((384, 640), model.pool)  # type: ignore[arg-type]
    tensor, lb = prepare(model, image, options)
    assert tensor.shape[:2] == (384, 640) and lb.pad == (0, 12)
    out = await model.infer(tensor)
    assert float(out[0].sum()) == pytest.approx(float(tensor.astype(np.float64).sum()) / 255, rel=1e-3)  # f32 sum
    assert model.describe()["compiled_shapes"] == [[64, 64], [384, 640]]
    # Now the 4:3 image starts its own compile.
    assert prepare(model, np.full((480, 640, 3), 1, np.uint8), options)[0].shape[:2] == (640, 640)
    wait_for((480, 640), model.pool)  # type: ignore[arg-type]
    assert prepare(model, np.full((480, 640, 3), 1, np.uint8), options)[0].shape[:2] == (480, 640)
    assert asked == [(384, 640), (480, 640)]


@pytest.mark.parametrize("shapes, dynamic, task, aware", [
    ("minimal", True, "detect", True),
    ("square", True, "detect", False),    # the default: as before
    ("minimal", False, "detect", False),  # a static export cannot reshape: it stays square, with a warning
    ("minimal", True, "classify", False),  # classify centre-crops: no letterbox to shrink
])
def test_who_is_shape_aware(tmp_path: Path, shapes: str, dynamic: bool, task: str, aware: bool,
                            caplog: pytest.LogCaptureFixture) -> None:
    model = Engine(shapes=shapes).load(read_model_folder(tiny_model_folder(tmp_path, dynamic, task), "tiny"))
    assert model.shape_aware is aware
    assert model.describe()["shapes"] == ("minimal" if aware else "square")
    tensor, _ = prepare(model, np.full((72, 128, 3), 1, np.uint8), PredictOptions(size=64))
    assert tensor.shape[:2] == (64, 64)
    assert ("needs an export with dynamic shapes" in caplog.text) is (shapes == "minimal" and not dynamic
                                                                       and task != "classify")


def summing_pool(hw: tuple[int, int]) -> InferPool:
    x = ops.parameter([1, *hw, 3], ov.Type.f32, name="x")
    model = ov.Model([ops.reduce_sum(x, ops.constant(np.array([1, 2, 3], np.int64)), False)], [x], "sum")
    return InferPool(ov.Core().compile_model(model, "CPU"), 1)


async def test_the_pinned_square_is_never_dropped() -> None:
    pools = ShapePools(summing_pool, pinned={(32, 32): summing_pool((32, 32))}, max_shapes=1)
    for hw in [(32, 64), (64, 32), (64, 64)]:
        assert not pools.ready(hw)
        wait_for(hw, pools)
    assert pools.shapes == [(32, 32), (64, 64)]
    assert float((await pools.infer(np.ones((1, 32, 32, 3), np.float32)))[0][0]) == 32 * 32 * 3


def test_a_shape_that_fails_to_compile_stays_on_the_square(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[int, int]] = []
    done = threading.Event()

    def broken(hw: tuple[int, int]) -> InferPool:
        calls.append(hw)
        done.set()
        raise RuntimeError("no such shape")

    pools = ShapePools(broken, pinned={(32, 32): summing_pool((32, 32))}, name="m")
    assert not pools.ready((32, 64))
    assert done.wait(60)
    for _ in range(100):  # until the failure is recorded
        if "failed" in caplog.text:
            break
        time.sleep(0.01)
    assert not pools.ready((32, 64)) and calls == [(32, 64)]  # asked once, not on every request
    assert "m: compiling input shape 32x64 failed, staying on the square: no such shape" in caplog.text
