"""Frigate's two remote detectors, written from its sources (``frigate/detectors/plugins/deepstack.py``
and ``zmq_ipc.py``) so tests and benchmarks can speak to the daemon exactly as Frigate does.

Both return Frigate's detector result: a (20, 6) float32 array of rows ``[label index, confidence,
y_min, x_min, y_max, x_max]`` with coordinates as 0-1 fractions of the region, zero rows after the
last detection. ``labels`` is Frigate's labelmap (index -> name, lower case), e.g. its coco-80 map.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import requests
from PIL import Image


class FrigateDeepStack:
    """Frigate's ``deepstack`` detector: the region (already resized to the model input, RGB u8) as a
    JPEG in the multipart file ``image`` with the form field ``api_key``; reads ``predictions`` until the
    first below 0.4 or with a label not in the labelmap ("truck" counts as "car")."""

    def __init__(self, api_url: str, api_key: str, labels: dict[int, str], timeout: float = 10.0) -> None:
        self.api_url, self.api_key, self.labels, self.timeout = api_url, api_key, labels, timeout
        self.session = requests.Session()

    def label_index(self, label: str) -> int:
        label = "car" if label.lower() == "truck" else label.lower()
        return next((i for i, v in self.labels.items() if v == label), -1)

    @staticmethod
    def encode(tensor_input: np.ndarray) -> bytes:
        image = Image.fromarray(np.squeeze(tensor_input).astype(np.uint8))
        with io.BytesIO() as out:
            image.save(out, format="JPEG")
            return out.getvalue()

    def detect_raw(self, tensor_input: np.ndarray) -> np.ndarray:
        h, w = np.squeeze(tensor_input).shape[:2]
        response = self.session.post(self.api_url, data={"api_key": self.api_key},
                                     files={"image": self.encode(tensor_input)}, timeout=self.timeout)
        return self.rows(response.json(), w, h)

    def rows(self, answer: dict[str, Any], w: int, h: int) -> np.ndarray:
        detections = np.zeros((20, 6), np.float32)
        if answer.get("predictions") is None:
            return detections
        for i, d in enumerate(answer["predictions"]):  # a 21st row raises IndexError, as in Frigate
            if d["confidence"] < 0.4:
                break
            label = self.label_index(d["label"])
            if label < 0:
                break
            detections[i] = [label, float(d["confidence"]), d["y_min"] / h, d["x_min"] / w, d["y_max"] / h,
                             d["x_max"] / w]
        return detections
