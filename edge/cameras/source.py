"""One reader thread per camera that always holds only the newest frame.

The thread reads as fast as the source delivers (so RTSP/V4L2 buffers never fill up) and keeps one
slot: a new frame replaces the old one, which is counted as dropped if nobody took it. A source
that fails, ends or stalls is closed and reopened with exponential backoff. Video files loop and
are paced at their own fps, standing in for a live camera.

Sources: ``"0"`` (V4L2 index), ``/dev/videoN``, ``rtsp://...``, ``http(s)://...`` (MJPEG when the
answer is multipart/x-mixed-replace, else OpenCV/FFmpeg), or a video file path.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge.cameras.mjpeg_reader import MjpegReader, NotMultipart
from edge.config.redact import redact_text, redact_url
from edge.errors import CameraError

logger = logging.getLogger(__name__)

BACKOFF_START_S = 0.25


class Reader(Protocol):
    def read(self) -> np.ndarray: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Frame:
    """One frame: ``image`` (H, W, 3) u8 BGR; ``seq`` counts frames since start; ``time`` is
    wall-clock seconds (epoch) when it was read."""

    image: np.ndarray
    seq: int
    time: float


class CvReader:
    """OpenCV ``VideoCapture`` for V4L2 devices, network streams and (looping, paced) files."""

    def __init__(self, source: str, kind: str, timeout_s: float) -> None:
        self.source, self.kind = redact_url(source), kind
        ms = int(timeout_s * 1000)
        if kind == "v4l2":
            self.cap = cv2.VideoCapture(int(source) if source.isdigit() else source, cv2.CAP_V4L2)
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        elif kind == "stream":
            if source.startswith("rtsp"):
                os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
            self.cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG,
                                        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        else:
            self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            self.cap.release()
            raise CameraError(f"{self.source}: OpenCV cannot open this {kind} source")
        fps = self.cap.get(cv2.CAP_PROP_FPS) if kind == "file" else 0.0
        self.period = 1.0 / fps if 0 < fps <= 240 else (1 / 25 if kind == "file" else 0.0)
        self.next_due = time.monotonic()

    def read(self) -> np.ndarray:
        ok, image = self.cap.read()
        if not ok and self.kind == "file":  # loop
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self.cap.read()
        if not ok or image is None:
            raise CameraError(f"{self.source}: no frame (the {self.kind} source ended or stalled)")
        if self.period:
            delay = self.next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.next_due = max(self.next_due + self.period, time.monotonic() - self.period)
        return image

    def close(self) -> None:
        self.cap.release()


def source_kind(source: str) -> str:
    """``v4l2``, ``http`` (MJPEG or stream), ``stream`` or ``file``."""
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if source.isdigit() or source.startswith("/dev/video"):
        return "v4l2"
    if scheme in ("http", "https"):
        return "http"
    if scheme in ("rtsp", "rtsps", "rtmp", "udp", "tcp", "srt"):
        return "stream"
    return "file"


def open_reader(source: str, timeout_s: float) -> Reader:
    """Open ``source``; raises ``CameraError`` when it cannot give frames now."""
    kind = source_kind(source)
    if kind == "http":
        try:
            return MjpegReader(source, timeout_s)
        except NotMultipart:
            return CvReader(source, "stream", timeout_s)
    if kind == "file" and not Path(source).is_file():
        raise CameraError(f"{source}: no such video file")
    return CvReader(source, kind, timeout_s)


class CameraSource:
    """The reader thread of one camera. ``take()`` gives the newest frame not yet taken."""

    def __init__(self, name: str, source: str, stall_timeout_s: float = 10.0, reconnect_max_s: float = 10.0,
                 opener: Callable[[str, float], Reader] = open_reader) -> None:
        self.name, self.source = name, source
        self.stall_timeout_s, self.reconnect_max_s = stall_timeout_s, reconnect_max_s
        self.opener = opener
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._frame: Frame | None = None
        self._taken_seq = 0
        self._thread: threading.Thread | None = None
        # state, read by status()
        self.connected = False
        self.frames_in = 0
        self.frames_dropped = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.last_error_time: float | None = None
        self._fps_in = 0.0
        self._window = (time.monotonic(), 0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def latest(self) -> Frame | None:
        return self._frame

    def take(self) -> Frame | None:
        """The newest frame if it is newer than the last one taken, else None."""
        with self._lock:
            frame = self._frame
            if frame is None or frame.seq <= self._taken_seq:
                return None
            self._taken_seq = frame.seq
            return frame

    def status(self) -> dict[str, Any]:
        frame = self._frame
        now = time.time()
        fresh = frame is not None and now - frame.time < self.stall_timeout_s
        window_start, _ = self._window
        fps = self._fps_in if time.monotonic() - window_start < 3 else 0.0
        return {
            "connected": self.connected and fresh,
            "fps_in": round(fps, 2),
            "frames_in": self.frames_in,
            "frames_dropped": self.frames_dropped,
            "reconnects": self.reconnects,
            "last_frame_time": frame.time if frame else None,
            "frame_size": [frame.image.shape[1], frame.image.shape[0]] if frame else None,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
        }

    def _publish(self, image: np.ndarray) -> None:
        with self._lock:
            if self._frame is not None and self._frame.seq > self._taken_seq:
                self.frames_dropped += 1
            self.frames_in += 1
            self._frame = Frame(image, self.frames_in, time.time())
        start, count = self._window
        now = time.monotonic()
        if now - start >= 1.0:
            self._fps_in = (self.frames_in - count) / (now - start)
            self._window = (now, self.frames_in)

    def _fail(self, message: str) -> None:
        message = redact_text(message)  # exceptions quote the URL they failed on, secrets and all
        if message != self.last_error:
            logger.warning("camera %s: %s", self.name, message)
        self.last_error, self.last_error_time = message, time.time()

    def _run(self) -> None:
        backoff = BACKOFF_START_S
        while not self._stop.is_set():
            try:
                reader = self.opener(self.source, self.stall_timeout_s)
            except CameraError as exc:
                self._fail(str(exc))
            except Exception as exc:  # a backend bug must not kill the thread
                self._fail(f"{redact_url(self.source)}: {type(exc).__name__}: {exc}")
            else:
                backoff = self._read_until_failure(reader, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.reconnect_max_s)
            self.reconnects += 1

    def _read_until_failure(self, reader: Reader, backoff: float) -> float:
        logger.info("camera %s: opened %s", self.name, redact_url(self.source))
        self.connected = True
        try:
            while not self._stop.is_set():
                self._publish(reader.read())
                backoff = BACKOFF_START_S  # a working source starts the backoff over
        except CameraError as exc:
            self._fail(str(exc))
        except Exception as exc:
            self._fail(f"{redact_url(self.source)}: {type(exc).__name__}: {exc}")
        finally:
            self.connected = False
            reader.close()
        return backoff
