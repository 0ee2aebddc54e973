"""Run a real ``yolo-edge serve`` in a subprocess on a free loopback port, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

API_KEY = "test-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    base_url: str
    api_key: str
    config_path: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def write_config(tmp: Path, models_dir: Path, port: int, extra: dict | None = None) -> Path:
    keys = tmp / "api_keys"
    keys.write_text(API_KEY + "\n")
    config: dict = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": {"dir": str(models_dir), "cache_dir": str(tmp / "cache")},
        "auth": {"enabled": True, "api_keys_file": str(keys)},
    }
    for section, values in (extra or {}).items():
        config.setdefault(section, {}).update(values)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _die_with_parent() -> None:
    """Linux: the daemon gets SIGTERM if the test process dies, so no daemon outlives a killed run."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_daemon(tmp: Path, models_dir: Path, extra: dict | None = None, env: dict | None = None,
                 timeout: float = 120) -> Daemon:
    port = free_port()
    config_path = write_config(tmp, models_dir, port, extra)
    log_path = tmp / "daemon.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "edge.cli", "serve", "--config", str(config_path)],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                               preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    daemon = Daemon(process, f"http://127.0.0.1:{port}", API_KEY, config_path, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daemon exited with {process.returncode}:\n{daemon.log()}")
        try:
            if requests.get(daemon.base_url + "/readyz", timeout=1).status_code == 200:
                return daemon
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    daemon.stop()
    raise RuntimeError(f"daemon not ready within {timeout} s:\n{daemon.log()}")


def link_models(tmp: Path, models: dict[str, Path]) -> Path:
    """A models.dir whose folders are symlinks to real exports (MODEL_ID -> folder)."""
    root = tmp / "models"
    root.mkdir(exist_ok=True)
    for model_id, folder in models.items():
        (root / model_id).symlink_to(folder)
    return root
