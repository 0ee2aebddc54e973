"""Real parts for the camera tests: a video file made from coco128, an MJPEG-over-HTTP camera that
can drop and come back, a mosquitto broker on a free loopback port, and a webhook receiver."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import pytest

from tests.support.daemon import free_port
from tests.support.shared_data import require_shared_data

PERSON, GIRAFFE = 0, 23


def coco128_images(classes_wanted: set[int] | None = None, classes_absent: set[int] | None = None,
                   limit: int = 12) -> list[Path]:
    """coco128 train images chosen by their ground-truth labels (sorted, first ``limit``)."""
    root = require_shared_data() / "coco128"
    out = []
    for img in sorted((root / "images" / "train2017").glob("*.jpg")):
        label = root / "labels" / "train2017" / f"{img.stem}.txt"
        present = {int(line.split()[0]) for line in label.read_text().splitlines() if line.strip()} \
            if label.is_file() else set()
        if classes_wanted and not classes_wanted <= present:
            continue
        if classes_absent and classes_absent & present:
            continue
        out.append(img)
        if len(out) >= limit:
            break
    if not out:
        pytest.skip("coco128 has no image with the wanted classes")
    return out


def write_video(path: Path, images: list[Path], size: tuple[int, int] = (640, 480), fps: float = 10,
                repeat: int = 5) -> Path:
    """An mp4 (mp4v) of ``images`` resized to ``size`` (w, h), each shown ``repeat`` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v video")
    for img in images:
        frame = cv2.resize(cv2.imread(str(img)), size)
        for _ in range(repeat):
            writer.write(frame)
    writer.release()
    return path


class MjpegCamera:
    """An MJPEG-over-HTTP camera on 127.0.0.1 cycling through JPEG frames at ``fps``.

    ``drop()`` cuts every open stream and refuses connections (the port closes); ``restore()``
    listens again on the same port. ``content_length=False`` sends parts delimited only by boundaries.
    """

    def __init__(self, frames: list[bytes], fps: float = 10, content_length: bool = True) -> None:
        self.frames, self.fps, self.content_length = frames, fps, content_length
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/video.mjpg"
        self.connections = 0
        self._server: ThreadingHTTPServer | None = None
        self._up = threading.Event()
        self.frozen = threading.Event()  # set: connections stay open but no frame is sent (a stall)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                cam.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=--camframe")
                self.end_headers()
                i = 0
                try:
                    while cam._up.is_set():
                        if cam.frozen.is_set():
                            time.sleep(0.05)
                            continue
                        jpeg = cam.frames[i % len(cam.frames)]
                        head = b"----camframe\r\nContent-Type: image/jpeg\r\n"
                        if cam.content_length:
                            head += f"Content-Length: {len(jpeg)}\r\n".encode()
                        self.wfile.write(head + b"\r\n" + jpeg + b"\r\n")
                        self.wfile.flush()
                        i += 1
                        time.sleep(1 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler

    def restore(self) -> None:
        self._up.set()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def drop(self) -> None:
        self._up.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MjpegCamera:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


def jpeg_frames(images: list[Path], size: tuple[int, int] = (640, 480)) -> list[bytes]:
    return [cv2.imencode(".jpg", cv2.resize(cv2.imread(str(p)), size))[1].tobytes() for p in images]


class Mosquitto:
    """A real mosquitto broker on a free loopback port, no persistence. Anonymous and plain by default;
    with ``pki`` a TLS listener that wants a client certificate signed by ``pki.ca``; with ``users``
    (name -> password) a password file (mosquitto_passwd) and no anonymous access."""

    def __init__(self, tmp: Path, pki: Any = None, users: dict[str, str] | None = None) -> None:
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
        if exe is None:
            message = "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.exe, self.tmp = exe, tmp
        self.port = free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:  # else mosquitto drops to its own user, who cannot read tmp_path
            lines.append("user root")
        if pki is not None:
            lines += [f"cafile {pki.ca}", f"certfile {pki.server_cert}", f"keyfile {pki.server_key}",
                      "require_certificate true"]
        if users:
            passwd = tmp / "mosquitto.passwd"
            passwd.write_text("")
            for name, password in users.items():
                subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b",
                                str(passwd), name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log_path = tmp / "mosquitto.log"
        self.log = open(self.log_path, "ab")
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: _can_connect(self.port), 10, "mosquitto did not start listening")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the broker (clients see the connection drop), wait ``down_s``, start it on the same port."""
        self.proc.terminate()
        self.proc.wait(10)
        time.sleep(down_s)
        self._start()

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def _can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class Subscriber:
    """paho-mqtt subscriber collecting (topic, payload, retain) on ``topics``."""

    def __init__(self, port: int, topics: str = "#", pki: Any = None, auth: tuple[str, str] | None = None) -> None:
        paho = pytest.importorskip("paho.mqtt.client")
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, bool(m.retain)))
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        if pki is not None:
            self.client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key))
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics, qos=1)
        self.client.loop_start()

    def topics(self) -> list[str]:
        return [t for t, _, _ in self.messages]

    def payloads(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == topic]

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class WebhookReceiver:
    """An HTTP server that records POSTed JSON; the first ``fail_first`` requests get HTTP 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.attempts = 0
        self.fail_first = fail_first
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recv.attempts += 1
                if recv.attempts <= recv.fail_first:
                    self.send_response(503)
                else:
                    recv.bodies.append(body)
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(check: Callable[[], Any], timeout: float, message: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until truthy (returned) or fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"{message} (after {timeout:g} s)")


async def await_for(check: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> Any:
    import asyncio
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(interval)
    pytest.fail(f"{message} (after {timeout:g} s)")

