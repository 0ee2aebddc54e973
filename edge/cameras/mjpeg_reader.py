"""A small blocking reader for MJPEG over HTTP (``multipart/x-mixed-replace``), as IP cameras,
mjpg-streamer and motion serve it.

It runs in a camera's reader thread. The socket timeout bounds every read, so a stream that stalls
raises ``CameraError`` instead of hanging. Parts with a ``Content-Length`` are read exactly; parts
without one are read up to the next boundary line.
"""

from __future__ import annotations

import base64
import http.client
import logging
import urllib.parse

import cv2
import numpy as np

from edge.config.redact import redact_text, redact_url
from edge.errors import CameraError

logger = logging.getLogger(__name__)

MAX_PART_BYTES = 32 * 1024 * 1024
MAX_HEADER_LINES = 64


class NotMultipart(CameraError):
    """The URL answered, but not with an MJPEG stream (the caller may hand it to OpenCV)."""


class MjpegReader:
    """Frames of one MJPEG-over-HTTP stream; ``read()`` -> (H, W, 3) u8 BGR."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CameraError(f"{redact_url(url)}: not an http(s) URL")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.url = redact_url(url)
        self.conn = cls(parts.hostname, parts.port, timeout=timeout_s)
        headers = {"Accept": "multipart/x-mixed-replace, image/jpeg", "User-Agent": "yolo-edge"}
        if parts.username:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            self.conn.request("GET", path, headers=headers)
            self.resp = self.conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            raise CameraError(f"{self.url}: cannot connect: {redact_text(str(exc))}") from None
        if self.resp.status != 200:
            self.close()
            raise CameraError(f"{self.url}: HTTP {self.resp.status} {self.resp.reason}")
        ctype = self.resp.getheader("Content-Type", "")
        if not ctype.lower().startswith("multipart/"):
            self.close()
            raise NotMultipart(f"{self.url}: Content-Type {ctype!r} is not multipart/x-mixed-replace")
        boundary = ""
        for param in ctype.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "boundary":
                boundary = value.strip().strip('"')
        if not boundary:
            self.close()
            raise CameraError(f"{self.url}: multipart answer without a boundary")
        self.boundary = boundary.lstrip("-").encode()
        self._at_part = False  # True when the boundary line of the next part was already consumed

    def read(self) -> np.ndarray:
        """The next decodable frame; raises ``CameraError`` when the stream ends, stalls or breaks."""
        for _ in range(100):  # skip a few undecodable parts, never loop forever
            data = self._next_part()
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            logger.debug("%s: skipped a part that is not a decodable image (%d bytes)", self.url, len(data))
        raise CameraError(f"{self.url}: no decodable JPEG in 100 parts")

    def _line(self) -> bytes:
        try:
            line = self.resp.readline(65537)
        except TimeoutError:
            raise CameraError(f"{self.url}: stalled (no data within the timeout)") from None
        except (OSError, http.client.HTTPException) as exc:
            raise CameraError(f"{self.url}: read failed: {redact_text(str(exc))}") from None
        if not line:
            raise CameraError(f"{self.url}: the stream ended")
        return line

    def _is_boundary(self, line: bytes) -> bool:
        return line.startswith(b"--") and line.strip().lstrip(b"-").startswith(self.boundary)

    def _next_part(self) -> bytes:
        if not self._at_part:
            while not self._is_boundary(self._line()):
                pass
        self._at_part = False
        length = None
        for _ in range(MAX_HEADER_LINES):
            line = self._line().strip()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    length = None
        if length is not None:
            if not 0 < length <= MAX_PART_BYTES:
                raise CameraError(f"{self.url}: part length {length} out of range")
            try:
                data = self.resp.read(length)
            except TimeoutError:
                raise CameraError(f"{self.url}: stalled inside a frame") from None
            except (OSError, http.client.HTTPException) as exc:
                raise CameraError(f"{self.url}: read failed: {redact_text(str(exc))}") from None
            if len(data) < length:
                raise CameraError(f"{self.url}: the stream ended inside a frame")
            return data
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self._line()
            if self._is_boundary(line):
                self._at_part = True
                break
            chunks.append(line)
            size += len(line)
            if size > MAX_PART_BYTES:
                raise CameraError(f"{self.url}: a part without Content-Length ran past {MAX_PART_BYTES} bytes")
        data = b"".join(chunks)
        return data[:-2] if data.endswith(b"\r\n") else data

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass

