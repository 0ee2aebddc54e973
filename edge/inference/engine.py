"""The inference engine: OpenVINO models compiled once, with pre-processing inside the graph.

Each model takes the letterboxed u8 BGR image (1, H, W, 3) as it is; the BGR->RGB swap, the layout
change, the float conversion and the /255 run inside the compiled graph. Static-shape exports run at
their own size; dynamic-shape exports are compiled once for any shape (INT8 ones on AMX CPUs: once
per shape, see ``shape_pools``). With ``models.shapes: minimal`` a dynamic export runs each request at
the stride-padded rectangle of its image, as Ultralytics' PyTorch predictor does: one static compilation
per shape, the square serving while a new shape compiles (a static export cannot reshape: its head
holds the anchors of its size).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import openvino as ov

from edge.config.settings import ModelsConfig
from edge.errors import DeviceError, ModelError
from edge.inference.compile_options import compile_properties, static_per_shape
from edge.inference.devices import (
    device_nodes,
    in_container,
    process_groups,
    visible_devices,
    why_not_visible,
)
from edge.inference.infer_pool import InferPool, T
from edge.inference.letterbox import minimal_canvas
from edge.inference.repository import ModelSpec
from edge.inference.shape_pools import MAX_SHAPES, ShapePools

logger = logging.getLogger(__name__)

# Tasks whose input is always the square: classify is centre-cropped, depth stretched (as Ultralytics does).
SQUARE_ONLY_TASKS = ("classify", "depth")


@dataclass(frozen=True)
class InputPlan:
    """How one request's image becomes the model input.

    The image is resized to fit ``fit`` (h, w) and padded with 114 to ``canvas`` (h, w);
    ``minimal`` pads only to a stride multiple (then ``canvas`` is an upper bound).
    """

    canvas: tuple[int, int]
    fit: tuple[int, int]
    minimal: bool


class LoadedModel:
    """One compiled model, ready to infer. Thread-safe to share; one instance per MODEL_ID."""

    def __init__(self, spec: ModelSpec, pool: InferPool | ShapePools, device: str, precision: str,
                 dynamic: bool, compile_seconds: float, shape_aware: bool = False) -> None:
        self.spec = spec
        self.device = device
        self.precision = precision
        self.dynamic = dynamic
        # ``models.shapes: minimal`` on a dynamic export (``Engine.load`` decides: ``shape_aware``)
        self.shape_aware = shape_aware and isinstance(pool, ShapePools)
        # Padding to a stride multiple only, as Ultralytics does for a dynamic export; not when run as
        # static per shape, where Ultralytics pads to the square so that few shapes are compiled.
        self.minimal_padding = spec.dynamic is True and not isinstance(pool, ShapePools)
        self.compile_seconds = compile_seconds
        self.pool = pool

    def plan(self, size: int, image_hw: tuple[int, int] | None = None) -> InputPlan:
        """The input plan for a requested ``size`` (already validated, 32-1280) and an image of ``image_hw``.

        ``size`` is rounded up to a stride multiple. A dynamic model runs at that size; its padding is
        minimal (to a stride multiple) when metadata says the export is dynamic, square otherwise,
        exactly as Ultralytics decides from ``args.dynamic`` (``minimal_padding``). A static model cannot change shape: a
        smaller size is honoured by resizing the image to it and padding to the fixed input; a
        larger one is refused by the caller (see ``max_size``).

        Shape-aware (``models.shapes: minimal``) on per-shape compilations: the minimal rectangle of
        the image when that shape is compiled; else its compile starts in the background and this
        request runs as without the option.
        """
        stride = self.spec.stride
        s = int(math.ceil(size / stride) * stride)
        if self.shape_aware and image_hw is not None and isinstance(self.pool, ShapePools):
            if self.pool.ready(minimal_canvas(image_hw, (s, s), stride)):
                return InputPlan(canvas=(s, s), fit=(s, s), minimal=True)
        if self.dynamic:
            return InputPlan(canvas=(s, s), fit=(s, s), minimal=self.minimal_padding)
        h, w = self.spec.imgsz
        return InputPlan(canvas=(h, w), fit=(min(s, h), min(s, w)), minimal=False)

    @property
    def max_size(self) -> int:
        return 1280 if self.dynamic else max(self.spec.imgsz)

    async def infer(self, image: np.ndarray) -> list[np.ndarray]:
        """``image``: (H, W, 3) u8 BGR, already letterboxed. Returns the raw outputs, batch 1."""
        return await self.pool.infer(image[None])

    async def infer_then(self, image: np.ndarray, finish: Callable[[list[np.ndarray]], T]) -> T:
        """``finish(outputs)`` computed on the raw outputs in place (see ``InferPool.infer_then``)."""
        return await self.pool.infer_then(image[None], finish)

    def warm_up(self) -> None:
        h, w = self.spec.imgsz
        self.pool.warm_up(np.full((1, h, w, 3), 114, np.uint8))

    def moved_to(self, folder: Path) -> None:
        """The model's files now live in ``folder`` (same names): later compiles read them there."""
        self.spec = replace(self.spec, folder=folder, xml=folder / self.spec.xml.name)

    def describe(self) -> dict[str, object]:
        return {
            "id": self.spec.model_id, "task": self.spec.task, "classes": self.spec.names,
            "imgsz": list(self.spec.imgsz), "dynamic": self.dynamic, "precision": self.precision,
            "device": self.device, "stride": self.spec.stride,
            "shapes": "minimal" if self.shape_aware else "square",
            # (h, w) compiled so far; absent when one compilation runs any shape
            **({"compiled_shapes": [list(hw) for hw in self.pool.shapes]} if isinstance(self.pool, ShapePools)
               else {}),
        }


class Engine:
    """An OpenVINO ``Core`` with the compile cache on, compiling models for one device."""

    def __init__(self, device: str = "CPU", cache_dir: Path | None = None, infer_requests: int = 0,
                 cpu_precision: str = "f32", shapes: str = "square", max_shapes: int = MAX_SHAPES) -> None:
        cap_malloc_arenas()
        self.core = ov.Core()
        self.device = device
        self.infer_requests = infer_requests
        self.cpu_precision = cpu_precision
        self.shapes = shapes
        self.max_shapes = max_shapes
        self._lock = threading.Lock()
        # Which devices this process sees (name -> full name): logged at start, on /readyz.
        self.visible = visible_devices(self.core)
        logger.info("OpenVINO %s sees %s", ov.get_version(),
                    ", ".join(f"{name} ({full})" for name, full in self.visible.items()) or "no device")
        wanted = device.split(":")[0]
        if wanted not in ("AUTO", "MULTI", "HETERO") and not self._present(device):
            plugin = wanted.split(".")[0]
            raise DeviceError(why_not_visible(device, self.visible, device_nodes(plugin), process_groups(),
                                              in_container()))
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.core.set_property({"CACHE_DIR": str(cache_dir)})

    @classmethod
    def from_config(cls, models: ModelsConfig) -> Engine:
        return cls(models.device, models.cache_dir, models.infer_requests, models.cpu_precision,
                   models.shapes, models.max_shapes)

    def _present(self, device: str) -> bool:
        """Ask ``device``'s own plugin only: listing every device loads every plugin (~18 MB of RSS)."""
        try:
            self.core.get_property(device, "FULL_DEVICE_NAME")
        except RuntimeError:
            return False
        return True

    @property
    def version(self) -> str:
        return ov.get_version()

    @functools.cached_property
    def device_name(self) -> str | None:
        """The device's own name (``Intel(R) Xeon(R) ...``); None for AUTO/MULTI or a plugin that has none."""
        try:
            return str(self.core.get_property(self.device, "FULL_DEVICE_NAME"))
        except RuntimeError:
            return None

    def load(self, spec: ModelSpec) -> LoadedModel:
        """Read, wrap with pre-processing, compile and warm one model. Blocking: run it off the loop."""
        t0 = time.perf_counter()
        try:
            model = self.core.read_model(spec.xml)
        except RuntimeError as exc:
            raise ModelError(f"{spec.folder}: OpenVINO cannot read {spec.xml.name}: {exc}") from None
        if len(model.inputs) != 1:
            raise ModelError(f"{spec.folder}: expected one input, found {len(model.inputs)}")
        shape = model.inputs[0].get_partial_shape()
        if shape.rank.get_length() != 4:
            raise ModelError(f"{spec.folder}: expected a 4-D image input, found {shape}")
        dynamic = shape.is_dynamic
        if dynamic and self.device.startswith("NPU"):
            # The NPU compiles static shapes only: pin a dynamic export to its own size, as Ultralytics does.
            model.reshape([1, 3, *spec.imgsz])
            dynamic = False
        elif shape[0].is_dynamic or shape[0].get_length() != 1:
            # Batch 1 always; keep H, W as the export made them.
            model.reshape([1, 3, shape[2], shape[3]])
        # the graph, not the metadata, decides (as Ultralytics does: FakeQuantize means INT8), so a bundle
        # whose metadata says otherwise still runs INT8 the way INT8 must run on this CPU
        precision = detect_precision(model)
        # one compilation per shape with ``models.shapes: minimal`` on a dynamic export (not on the NPU)
        shape_aware = self.shapes == "minimal" and dynamic and spec.task not in SQUARE_ONLY_TASKS
        if self.shapes == "minimal" and not shape.is_dynamic and spec.task not in SQUARE_ONLY_TASKS:
            # A static YOLO IR does not reshape: its head holds the anchors of the exported size as constants.
            logger.warning("model %s: a static export runs at its own %s only; models.shapes: minimal needs an "
                           "export with dynamic shapes (yolo-edge-convert --dynamic, or yolo export dynamic=True)",
                           spec.model_id, "x".join(map(str, spec.imgsz)))
        pool: InferPool | ShapePools
        if static_per_shape(self.device, precision, dynamic) or shape_aware:
            # ``loaded.spec`` read when a shape is compiled, not now: an upload compiles its model in a
            # staging folder and then moves it into place (``LoadedModel.moved_to``). Shape-aware: the
            # square at the export's size is kept, to serve while a new shape compiles.
            pinned = {tuple(spec.imgsz): self._compile(spec, self._reshaped(spec, spec.imgsz))} \
                if shape_aware else None
            pool = ShapePools(lambda hw: self._compile(loaded.spec, self._reshaped(loaded.spec, hw)),
                              pinned=pinned, name=spec.model_id, max_shapes=self.max_shapes)
            how = "static per input shape, " + ("each image at its minimal rectangle (models.shapes: minimal)"
                                                if shape_aware else "square (INT8 dynamic on an AMX CPU)")
        else:
            pool = self._compile(spec, model)
            how = f"{pool.size} infer requests" + (" + 1 for latency when idle" if pool.solo else "")
        loaded = LoadedModel(spec, pool, self.device, precision, dynamic, compile_seconds=time.perf_counter() - t0,
                             shape_aware=shape_aware)
        loaded.warm_up()
        if loaded.shape_aware and spec.shapes and isinstance(pool, ShapePools):
            self._precompile(spec, pool)
        logger.info("model %s: %s %s %s on %s, %s, ready in %.2f s", spec.model_id, spec.task, precision,
                    "dynamic" if dynamic else "x".join(map(str, spec.imgsz)), self.device, how,
                    time.perf_counter() - t0)
        return loaded

    def _precompile(self, spec: ModelSpec, pool: ShapePools) -> None:
        """The shapes the bundle records (``yolo-edge-convert --shapes``), compiled before the model serves."""
        refused = pool.precompile(spec.shapes)
        if refused:
            logger.warning("model %s: models.max_shapes %d leaves no room for the recorded shapes %s: %s",
                           spec.model_id, pool.max_shapes, ", ".join("x".join(map(str, hw)) for hw in refused),
                           "they run at the square" if pool.max_shapes == 0 else
                           "they compile when requested, dropping the least recently used")

    def _reshaped(self, spec: ModelSpec, hw: tuple[int, int]) -> ov.Model:
        model = self.core.read_model(spec.xml)
        model.reshape([1, 3, *hw])
        return model

    def _compile(self, spec: ModelSpec, model: ov.Model) -> InferPool:
        """Compile ``model`` (NCHW f32 input) with the pre-processing in the graph. Blocking."""
        model = embed_preprocessing(model)
        try:
            with self._lock:
                # infer_requests 1: one LATENCY compilation, the least memory. Otherwise THROUGHPUT
                # (one stream per core) for load, and on CPU a LATENCY compilation for a lone request
                # (all cores on one image): about half the latency at concurrency 1 for ~35 MB of RSS.
                lean = self.infer_requests == 1
                hint = "LATENCY" if lean else "THROUGHPUT"
                compiled = self.core.compile_model(model, self.device,
                                                   compile_properties(self.device, hint, self.cpu_precision))
                solo = self.core.compile_model(model, self.device,
                                               compile_properties(self.device, "LATENCY", self.cpu_precision)) \
                    if self.device == "CPU" and not lean else None
        except RuntimeError as exc:
            raise DeviceError(f"{spec.model_id}: compiling for {self.device} failed: {exc}") from None
        optimal = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        return InferPool(compiled, self.infer_requests or max(int(optimal), 1), solo)


def embed_preprocessing(model: ov.Model) -> ov.Model:
    """Let the graph take (1, H, W, 3) u8 BGR and do BGR->RGB, NHWC->NCHW, f32 and /255 itself."""
    ppp = ov.preprocess.PrePostProcessor(model)
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
        .set_color_format(ov.preprocess.ColorFormat.BGR)
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(ov.Type.f32) \
        .convert_color(ov.preprocess.ColorFormat.RGB).scale(255.0)
    return ppp.build()


def detect_precision(model: ov.Model) -> str:
    """int8 when the graph holds FakeQuantize (NNCF), fp16 when its weights are f16, else fp32."""
    types = {op.get_type_name() for op in model.get_ops()}
    if "FakeQuantize" in types:
        return "int8"
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and op.get_output_element_type(0) == ov.Type.f16:
            return "fp16"
    return "fp32"


def cap_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (default: 8 per core, one per contending thread), unless
    ``MALLOC_ARENA_MAX`` is set. Each arena keeps the freed buffers of the requests its thread served;
    with two, the daemon's RSS after load is ~18 MB lower (docs/benchmark.md)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass

