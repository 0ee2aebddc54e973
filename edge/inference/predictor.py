"""One prediction, start to end: decode -> letterbox -> infer -> post-process.

Decoding and letterboxing run in a thread pool (OpenCV and numpy release the GIL); inference runs
on the model's infer-request pool, and post-processing in its completion callback, on the output
tensors in place. The event loop only schedules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from edge.errors import BadRequest
from edge.inference.center_crop import resize_center_crop
from edge.inference.decode_lanes import DecodeLanes
from edge.inference.engine import LoadedModel
from edge.inference.image_decode import ImageHeader, decode_checked, read_header
from edge.inference.letterbox import Letterbox, letterbox, stretch
from edge.inference.options import PredictOptions
from edge.inference.postprocess import postprocess
from edge.inference.prediction import Prediction
from edge.inference.repository import DENSE_TASKS


#: Tasks whose image is stretched to the input rather than letterboxed (Ultralytics' ``scale_fill``).
STRETCHED = ("depth",)


@dataclass
class Timings:
    """Milliseconds spent per stage of one request."""

    decode: float = 0.0
    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def as_speed(self) -> dict[str, float]:
        return {"preprocess": round(self.decode + self.preprocess, 3), "inference": round(self.inference, 3),
                "postprocess": round(self.postprocess, 3)}


def prepare(model: LoadedModel, image: np.ndarray, options: PredictOptions
            ) -> tuple[np.ndarray, Letterbox | tuple[int, int]]:
    """Letterbox ``image`` (H, W, 3) u8 BGR for ``model`` at the requested size.

    Classify models are not letterboxed: Ultralytics resizes the short side and centre-crops, and
    there are no coordinates to map back, so the original (h, w) is returned instead of a Letterbox.
    """
    if options.size > model.max_size:
        raise BadRequest(f"size {options.size} is larger than model {model.spec.model_id!r} can run: its input is "
                         f"fixed at {model.spec.imgsz[0]}x{model.spec.imgsz[1]} (export it with dynamic shapes "
                         f"to serve larger sizes)")
    plan = model.plan(options.size, image.shape[:2])
    if model.spec.task == "classify":
        return resize_center_crop(image, plan.canvas[0] if not model.dynamic else plan.fit[0]), image.shape[:2]
    if model.spec.task in STRETCHED:
        return stretch(image, plan.canvas)
    return letterbox(image, plan.canvas, model.spec.stride, plan.minimal, plan.fit)


class Predictor:
    """Runs predictions for any loaded model; shares one executor for the CPU-side stages."""

    def __init__(self, executor: Executor, max_pixels: int, lanes: DecodeLanes | None = None) -> None:
        self.executor = executor
        self.max_pixels = max_pixels
        self.lanes = lanes or DecodeLanes()  # a reload hands the old predictor's lanes on

    async def predict_bytes(self, model: LoadedModel, data: bytes, options: PredictOptions) -> tuple[Prediction, Timings]:
        """``data``: the encoded image. Its header is read (and refused) first, off the loop (a 5 MB
        JPEG takes ~20 ms to walk). A light image is then decoded and letterboxed in the same trip to the
        executor (one thread hand-off less: the light lane never waits); a heavy one goes back to wait
        for the heavy lane, then decodes in a second trip."""
        loop = asyncio.get_running_loop()
        timings = Timings()
        t0 = time.perf_counter()
        with self.lanes.decoding():
            header, prepared = await loop.run_in_executor(self.executor, self._header_prepare, model, data,
                                                          options, timings)
        if prepared is None:
            timings.decode = (time.perf_counter() - t0) * 1000
            async with self.lanes.lane(header):
                prepared = await loop.run_in_executor(self.executor, self._decode_prepare, model, data, header,
                                                      options, timings)
        tensor, lb = prepared
        return await self._infer_postprocess(model, tensor, lb, options, timings)

    def _header_prepare(self, model: LoadedModel, data: bytes, options: PredictOptions, timings: Timings
                        ) -> tuple[ImageHeader, tuple[np.ndarray, Letterbox | tuple[int, int]] | None]:
        """The header, and for a light image the prepared tensor too (None for a heavy one)."""
        t0 = time.perf_counter()
        header = read_header(data, self.max_pixels)
        timings.decode = (time.perf_counter() - t0) * 1000
        if header.heavy:
            return header, None
        return header, self._decode_prepare(model, data, header, options, timings)

    def _decode_prepare(self, model: LoadedModel, data: bytes, header: ImageHeader, options: PredictOptions,
                        timings: Timings) -> tuple[np.ndarray, Letterbox | tuple[int, int]]:
        t0 = time.perf_counter()
        image = decode_checked(data, header)
        t1 = time.perf_counter()
        prepared = prepare(model, image, options)
        timings.decode += (t1 - t0) * 1000
        timings.preprocess = (time.perf_counter() - t1) * 1000
        return prepared

    async def predict_image(self, model: LoadedModel, image: np.ndarray, options: PredictOptions,
                            timings: Timings | None = None) -> tuple[Prediction, Timings]:
        """``image``: (H, W, 3) u8 BGR. Returns the prediction in original-image pixels."""
        loop = asyncio.get_running_loop()
        timings = timings or Timings()
        t0 = time.perf_counter()
        tensor, lb = await loop.run_in_executor(self.executor, prepare, model, image, options)
        timings.preprocess = (time.perf_counter() - t0) * 1000
        return await self._infer_postprocess(model, tensor, lb, options, timings)

    async def _infer_postprocess(self, model: LoadedModel, tensor: np.ndarray, lb: Letterbox | tuple[int, int],
                                 options: PredictOptions,
                                 timings: Timings) -> tuple[Prediction, Timings]:
        t1 = time.perf_counter()
        ended: list[float] = []

        task = model.spec.task
        if task in DENSE_TASKS:
            # resizing a map to the whole image takes tens of ms (27-83 ms at 1080p, 39-359 ms at 4K on
            # this machine): not while holding the infer request; the rest post-process in under 1 ms
            def copy_out(outputs: list[np.ndarray]) -> list[np.ndarray]:
                ended.append(time.perf_counter())
                return [np.array(o) for o in outputs]  # the map at the input size: small

            outputs = await model.infer_then(tensor, copy_out)
            pred = await asyncio.get_running_loop().run_in_executor(
                self.executor, postprocess, task, outputs, lb, model.spec, options)
        else:
            def finish(outputs: list[np.ndarray]) -> Prediction:
                # In the inference's completion callback, on the output tensors themselves: no copy of
                # the (1, 84, 8400) output and no trip through the executor (docs/benchmark.md).
                ended.append(time.perf_counter())
                return detached(postprocess(task, outputs, lb, model.spec, options), outputs)

            pred = await model.infer_then(tensor, finish)
        t3 = time.perf_counter()
        timings.inference, timings.postprocess = (ended[0] - t1) * 1000, (t3 - ended[0]) * 1000
        return pred, timings


def detached(pred: Prediction, outputs: list[np.ndarray]) -> Prediction:
    """``pred`` with a copy of any array that still views ``outputs`` (reused by the next inference)."""
    def own(a: np.ndarray) -> np.ndarray:
        return a.copy() if any(np.may_share_memory(a, o) for o in outputs) else a

    for f in dataclasses.fields(pred):
        value = getattr(pred, f.name)
        if isinstance(value, np.ndarray):
            setattr(pred, f.name, own(value))
        elif isinstance(value, list):
            setattr(pred, f.name, [own(v) if isinstance(v, np.ndarray) else v for v in value])
    return pred
