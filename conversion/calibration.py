"""Model inputs from image files, through exactly the runtime pre-processing: ``edge.inference.letterbox``,
or for classify models ``edge.inference.center_crop`` (short side resized, centre cropped), or for depth
models ``edge.inference.letterbox.stretch``.

An input is (1, 3, h, w) float32 RGB in [0, 1], the layout of an Ultralytics OpenVINO export
(the daemon does the same conversion in the graph's pre-processing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from conversion.progress import Progress, track
from edge.inference.center_crop import resize_center_crop
from edge.inference.letterbox import Letterbox, letterbox, stretch


def to_input(image: np.ndarray, imgsz: tuple[int, int], stride: int) -> tuple[np.ndarray, Letterbox]:
    """(H, W, 3) u8 BGR -> (1, 3, h, w) f32 RGB model input and the letterbox mapping."""
    boxed, box = letterbox(image, imgsz, stride=stride, minimal=False)
    return _as_tensor(boxed), box


def classify_input(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) u8 BGR -> (1, 3, size, size) f32 RGB: the daemon's classify crop, /255."""
    return _as_tensor(resize_center_crop(image, size))


def model_input(image: np.ndarray, imgsz: tuple[int, int], stride: int, task: str) -> np.ndarray:
    """The (1, 3, h, w) input the daemon would feed a ``task`` model for ``image``."""
    if task == "depth":  # stretched to the input, as Ultralytics' depth predictor does
        return _as_tensor(stretch(image, imgsz)[0])
    return classify_input(image, imgsz[0]) if task == "classify" else to_input(image, imgsz, stride)[0]


def _as_tensor(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) u8 BGR -> (1, 3, H, W) f32 RGB /255: what the daemon's graph does to its u8 input."""
    return (np.ascontiguousarray(image[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0)[None]


def read_bgr(path: Path) -> np.ndarray:
    """Decode an image file to (H, W, 3) u8 BGR; raises ``ValueError`` when OpenCV cannot."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: cannot decode")
    return image


class LetterboxedImages(Sequence[np.ndarray]):
    """A lazily decoded list of model inputs (letterboxed, or centre-cropped for classify); what
    ``nncf.Dataset`` iterates for calibration."""

    def __init__(self, paths: Sequence[Path], imgsz: tuple[int, int], stride: int,
                 progress: Progress | None = None, label: str = "calibration", task: str = "detect") -> None:
        self.paths = list(paths)
        self.task = task
        self.imgsz = imgsz
        self.stride = stride
        self.progress = progress
        self.label = label

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return model_input(read_bgr(self.paths[index]), self.imgsz, self.stride, self.task)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in track(range(len(self)), self.progress, self.label):
            yield self[i]


def nncf_dataset(paths: Sequence[Path], imgsz: tuple[int, int], stride: int, progress: Progress | None,
                 label: str = "calibration", task: str = "detect") -> Any:
    """An ``nncf.Dataset`` over the model inputs of ``paths`` (see ``model_input``)."""
    import nncf

    return nncf.Dataset(LetterboxedImages(paths, imgsz, stride, progress, label, task))
