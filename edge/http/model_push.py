"""The client side of ``PUT /v1/models/{MODEL_ID}``: pack a bundle folder once and upload it to boxes.

Used by ``yolo-edge push BUNDLE_DIR --to URL...`` and ``yolo-edge-convert ... --push URL``. The admin key
comes from a key file (its first key line) or ``$YOLO_EDGE_ADMIN_KEY``, never from the command line,
where ``ps`` and the shell history would show it. Each box is tried on its own: one box being down
does not stop the others, and each gets a result line.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from edge import __version__
from edge.errors import ConfigError, ModelError
from edge.inference.repository import read_model_folder
from edge.service.model_store import UPLOAD_INFO

KEY_ENV = "YOLO_EDGE_ADMIN_KEY"
TIMEOUT_S = 600.0  # a big model on a slow box: receive, compile, warm


@dataclass(frozen=True)
class PushResult:
    """One box's answer: ``status`` 0 when it could not be reached."""

    url: str
    status: int
    message: str
    answer: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def line(self) -> str:
        if not self.ok:
            return f"{self.url}: FAILED ({self.status or 'no answer'}): {self.message}"
        a = self.answer or {}
        shape = "dynamic" if a.get("dynamic") else "x".join(map(str, a.get("imgsz", [])))
        seconds = (a.get("seconds") or {}).get("total")
        return (f"{self.url}: {a.get('action')} {a.get('id')} ({a.get('task')}, {a.get('precision')}, "
                f"{len(a.get('classes') or {})} classes, {shape}, {a.get('device')}), sha256 "
                f"{str(a.get('sha256'))[:16]}, serving after {seconds} s")


def read_admin_key(key_file: Path | None, environ: dict[str, str] | None = None) -> str:
    """The first key line of ``key_file`` (``#`` comments skipped), else ``$YOLO_EDGE_ADMIN_KEY``."""
    environ = dict(os.environ) if environ is None else environ
    if key_file is not None:
        try:
            lines = key_file.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"--key-file {key_file}: {exc.strerror or exc}") from None
        for line in (line.strip() for line in lines):
            if line and not line.startswith("#"):
                if line.startswith("sha256:"):
                    raise ConfigError(f"--key-file {key_file}: holds a digest (sha256:...), not a key; give the "
                                      "file with the key itself")
                return line
        raise ConfigError(f"--key-file {key_file}: no key in it")
    key = environ.get(KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"no admin key: give --key-file PATH (one key per line) or set ${KEY_ENV}")
    return key


def check_bundle(folder: Path, model_id: str | None) -> str:
    """Read the bundle as the box will (ModelError/ConfigError when it is not one); its MODEL_ID."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder; give a model folder (an OpenVINO export or a yolo-edge-convert "
                          "bundle)")
    model_id = model_id or folder.resolve().name
    read_model_folder(folder, model_id)  # MODEL_ID, .xml/.bin pair, metadata.yaml
    return model_id


def pack(folder: Path, out: IO[bytes]) -> None:
    """tar.gz of ``folder``'s files at the top of the archive (links followed, our upload record left out)."""
    with tarfile.open(fileobj=out, mode="w:gz", dereference=True) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != UPLOAD_INFO:
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)


def push(folder: Path, urls: list[str], key: str, model_id: str | None = None,
         timeout: float = TIMEOUT_S) -> list[PushResult]:
    """Upload ``folder`` as ``model_id`` (default: the folder name) to every box in ``urls``."""
    try:
        model_id = check_bundle(folder, model_id)
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    with tempfile.TemporaryFile() as archive:
        pack(folder, archive)
        size = archive.tell()
        return [upload(archive, size, url, model_id, key, timeout) for url in urls]


def upload(archive: IO[bytes], size: int, base_url: str, model_id: str, key: str, timeout: float) -> PushResult:
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        return PushResult(base_url, 0, "the box URL must start with http:// or https://")
    archive.seek(0)
    request = urllib.request.Request(
        f"{base}/v1/models/{model_id}", data=archive, method="PUT",
        headers={"Content-Type": "application/gzip", "Content-Length": str(size), "x-api-key": key,
                 "User-Agent": f"yolo-edge-push/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = _json(response.read())
            return PushResult(base_url, response.status, "ok", body.get("data"))
    except urllib.error.HTTPError as exc:
        body = _json(exc.read())
        return PushResult(base_url, exc.code, str(body.get("message") or exc.reason))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return PushResult(base_url, 0, f"cannot reach the box: {reason}")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}
    return body if isinstance(body, dict) else {}
