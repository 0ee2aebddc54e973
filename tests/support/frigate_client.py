"""Frigate's two remote detectors, written from its sources (``frigate/detectors/plugins/deepstack.py``
and ``zmq_ipc.py``) so tests and benchmarks can speak to the daemon exactly as Frigate does.

Both return Frigate's detector result: a (20, 6) float32 array of rows ``[label index, confidence,
y_min, x_min, y_max, x_max]`` with coordinates as 0-1 fractions of the region, zero rows after the
last detection. ``labels`` is Frigate's labelmap (index -> name, lower case), e.g. its coco-80 map.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np
import requests
import zmq
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


# Frigate's model.input_tensor -> the transpose its BaseLocalDetector applies to the (1, H, W, 3) region
TRANSPOSE = {"nhwc": None, "nchw": (0, 3, 1, 2), "hwnc": (1, 2, 0, 3), "hwcn": (1, 2, 3, 0)}


class FrigateZmq:
    """Frigate's ``zmq`` detector (``zmq_ipc.py``) with the input transform of its ``LocalObjectDetector``.

    A REQ socket with ``request_timeout_ms`` for send and receive and ``linger_ms``; at start the model
    handshake ``[{"model_request": true, "model_name": basename(model_path)}]`` (30 s to answer), and the
    file itself only if told it is missing; then ``[{"shape", "dtype", "model_type"}, tensor bytes]`` per
    region. The reply is one frame of 480 bytes or ``[header, tensor]``; anything else, a timeout or a
    ZMQ error gives zero rows (after a timeout or error: a new socket and a new handshake). The region
    goes in as Frigate holds it, (1, H, W, 3) u8 in ``input_pixel_format``, and is transposed per
    ``input_tensor`` and made float per ``input_dtype`` (``float``: /255, ``float_denorm``) as Frigate does.
    ``last_frames`` keeps the last reply as received, for tests to read the server's error header.
    """

    def __init__(self, endpoint: str, model_path: str = "/config/model_cache/yolo.onnx", model_type: str = "yolo-generic",
                 input_tensor: str = "nhwc", input_dtype: str = "int", request_timeout_ms: int = 200,
                 linger_ms: int = 0) -> None:
        self.endpoint, self.model_path, self.model_type = endpoint, model_path, model_type
        self.input_tensor, self.input_dtype = input_tensor, input_dtype
        self.request_timeout_ms, self.linger_ms = request_timeout_ms, linger_ms
        self.context = zmq.Context()
        self.socket: Any = None
        self.last_frames: list[bytes] = []
        self.handshake: dict[str, Any] | None = None
        self.zero_result = np.zeros((20, 6), np.float32)
        self.create_socket()
        self.model_ready = self.check_and_transfer_model()

    def create_socket(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=self.linger_ms)
        self.socket = self.context.socket(zmq.REQ)
        self.socket.setsockopt(zmq.RCVTIMEO, self.request_timeout_ms)
        self.socket.setsockopt(zmq.SNDTIMEO, self.request_timeout_ms)
        self.socket.setsockopt(zmq.LINGER, self.linger_ms)
        self.socket.connect(self.endpoint)

    def check_and_transfer_model(self) -> bool:
        try:
            name = os.path.basename(self.model_path)
            self.socket.send_multipart([json.dumps({"model_request": True, "model_name": name}).encode()])
            self.socket.setsockopt(zmq.RCVTIMEO, 30000)
            try:
                frames = self.socket.recv_multipart()
            finally:
                self.socket.setsockopt(zmq.RCVTIMEO, self.request_timeout_ms)
            if len(frames) != 1:
                return False
            self.handshake = json.loads(frames[0].decode())
            if self.handshake.get("model_available") and self.handshake.get("model_loaded"):
                return True
            return False  # Frigate would send the file here when not available; no test wants that
        except Exception:  # noqa: BLE001 - Frigate logs and stays "not ready"
            return False

    def transform(self, region: np.ndarray) -> np.ndarray:
        """Frigate's ``BaseLocalDetector._transform_input``."""
        axes = TRANSPOSE[self.input_tensor]
        tensor = np.transpose(region, axes) if axes else region
        if self.input_dtype == "float":
            tensor = tensor.astype(np.float32)
            tensor /= 255
        elif self.input_dtype == "float_denorm":
            tensor = tensor.astype(np.float32)
        return tensor

    def detect_raw(self, region: np.ndarray) -> np.ndarray:
        return self.send(self.transform(region))

    def send(self, tensor: np.ndarray, header: bytes | None = None) -> np.ndarray:
        """Frigate's ``detect_raw`` on an already transformed tensor (``header``: to send a broken one)."""
        if not self.model_ready:
            return self.zero_result
        if header is None:
            header = json.dumps({"shape": list(tensor.shape), "dtype": str(tensor.dtype.name),
                                 "model_type": self.model_type}).encode()
        return self.exchange([header, memoryview(tensor.tobytes(order="C"))])

    def exchange(self, frames: list[Any]) -> np.ndarray:
        """Send ``frames`` as one request and read the reply as Frigate does (a timeout: a new socket)."""
        try:
            self.socket.send_multipart(frames)
            self.last_frames = self.socket.recv_multipart()
            return self.decode(self.last_frames)
        except (zmq.Again, zmq.ZMQError):
            self.last_frames = []
            self.create_socket()
            self.model_ready = self.check_and_transfer_model()
            return self.zero_result

    def decode(self, frames: list[bytes]) -> np.ndarray:
        try:
            if len(frames) == 1:
                if len(frames[0]) != 20 * 6 * 4:
                    return self.zero_result
                return np.frombuffer(frames[0], dtype=np.float32).reshape((20, 6))
            if len(frames) >= 2:
                header = json.loads(frames[0].decode())
                return np.frombuffer(frames[1], dtype=np.dtype(header.get("dtype", "float32"))).reshape(
                    tuple(header.get("shape", [])))
            return self.zero_result
        except Exception:  # noqa: BLE001
            return self.zero_result

    def reply_header(self) -> dict[str, Any]:
        """The JSON header of the last reply ({} when it had none)."""
        return json.loads(self.last_frames[0]) if len(self.last_frames) >= 2 else {}

    def close(self) -> None:
        self.socket.close(linger=self.linger_ms)
        self.context.term()
