"""Steady predict load for fleet tests and benchmarks: ``clients`` threads, each on its own keep-alive
connection, posting the same image to ``/v1/predict/{model_id}`` back to back until stopped (or until
``max_seconds``: the loop always ends by itself). Every request is kept as (start, end, outcome, body)
with monotonic times; outcome is the HTTP status, or the name of the connection error."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit


def multipart(image: bytes, field: str = "image", filename: str = "bus.jpg") -> tuple[bytes, str]:
    """(body, content type) of a form with one file field."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Outcome:
    start: float
    end: float
    status: int | str  # an HTTP status, or e.g. "ConnectionResetError"
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == 200


class PredictLoad:
    """Threads posting ``image`` to ``base_url``/v1/predict/``model_id`` with ``api_key``."""

    def __init__(self, base_url: str, model_id: str, api_key: str, image: bytes, clients: int = 4,
                 max_seconds: float = 120.0, keep_bodies: bool = False) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.path = f"/v1/predict/{model_id}"
        self.body, content_type = multipart(image)
        self.headers = {"Content-Type": content_type, "x-api-key": api_key}
        self.clients, self.max_seconds, self.keep_bodies = clients, max_seconds, keep_bodies
        self.results: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self) -> PredictLoad:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for t in self._threads:
            t.join(self.max_seconds + 60)
        return self.snapshot()

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return sorted(self.results, key=lambda o: o.start)

    def count(self) -> int:
        with self._lock:
            return len(self.results)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        while not self._stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                conn.request("POST", self.path, body=self.body, headers=self.headers)
                response = conn.getresponse()
                body = response.read()
                outcome = Outcome(t0, time.monotonic(), response.status, body if self.keep_bodies or
                                  response.status != 200 else b"")
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # the next request opens a new connection
                outcome = Outcome(t0, time.monotonic(), type(exc).__name__)
            with self._lock:
                self.results.append(outcome)
        conn.close()


def tally(outcomes: list[Outcome]) -> dict[str, object]:
    """sent / answered (200) / failed, and the failures by outcome."""
    failed = Counter(str(o.status) for o in outcomes if not o.ok)
    return {"sent": len(outcomes), "answered": sum(o.ok for o in outcomes), "failed": sum(failed.values()),
            "failures": dict(failed)}
