"""The one harness for a server under test: a subprocess on a free loopback port, waited for until
``/readyz`` answers 200, with what /proc says about it (CPU time, RSS). Tests and benchmarks
(``bench/``) both use it; ``start_daemon`` runs ``yolo-edge serve`` on a config written here."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-key-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the test process dies, so none outlives a killed run."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerProcess:
    """``argv`` as a subprocess that serves on ``port``; ``startup_s`` is spawn to the first 200 from /readyz."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None,
                 timeout: float = 120.0, cwd: Path = REPO, tls: ssl.SSLContext | None = None) -> None:
        """``tls``: the server speaks HTTPS; ``tls`` is the client context that trusts its certificate."""
        self.name, self.port, self.log_path = name, port, log_path
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        full_env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        t0 = time.perf_counter()
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=full_env,
                                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.process.returncode} before ready:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.base_url + "/readyz", timeout=1, context=tls) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.02)
        self.startup_s = time.perf_counter() - t0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def listening(self) -> tuple[set[int], set[str]]:
        """The TCP ports and the Unix socket paths the process listens on, from /proc."""
        pid = self.process.pid
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:["):-1])
        ports = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                    ports.add(int(f[1].rsplit(":", 1)[1], 16))
        paths = set()
        for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
            f = line.split()  # Num RefCount Protocol Flags Type St Inode [Path]
            if f[6] in inodes and int(f[3], 16) & 0x10000 and len(f) > 7:  # __SO_ACCEPTCON: listening
                paths.add(f[7])
        return ports, paths

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
        return {"rss_mb": out.get("VmRSS", 0.0), "rss_peak_mb": out.get("VmHWM", 0.0)}


class Daemon(ServerProcess):
    """``yolo-edge serve`` on ``config_path``, answering to ``api_key``."""

    def __init__(self, config_path: Path, port: int, log_path: Path, api_key: str = API_KEY,
                 env: dict[str, str] | None = None, timeout: float = 120.0, tls: ssl.SSLContext | None = None) -> None:
        self.config_path, self.api_key = config_path, api_key
        argv = [sys.executable, "-m", "edge.cli", "serve", "--config", str(config_path)]
        super().__init__("daemon", argv, port, log_path, env, timeout, tls=tls)


def link_models(tmp: Path, models: dict[str, Path]) -> Path:
    """A models.dir whose folders are symlinks to real exports (MODEL_ID -> folder)."""
    root = tmp / "models"
    root.mkdir(exist_ok=True)
    for model_id, folder in models.items():
        link = root / model_id
        if not link.exists():
            link.symlink_to(Path(folder).resolve(), target_is_directory=True)
    return root


def daemon_config(tmp: Path, models_dir: Path, port: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config on loopback ``port`` over ``models_dir`` with one API key (``API_KEY``, written to
    ``tmp/api_keys``) and a compile cache in ``tmp``; ``extra`` updates sections (a list, e.g. ``cameras``,
    replaces its section)."""
    keys = tmp / "api_keys"
    keys.write_text(API_KEY + "\n")
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "models": {"dir": str(models_dir), "cache_dir": str(tmp / "cache")},
        "auth": {"enabled": True, "api_keys_file": str(keys)},
    }
    for section, values in (extra or {}).items():
        if isinstance(values, list):  # cameras:
            config[section] = values
        else:
            config.setdefault(section, {}).update(values)
    return config


def write_config(tmp: Path, models_dir: Path, port: int, extra: dict[str, Any] | None = None) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(daemon_config(tmp, models_dir, port, extra)))
    return path


def start_daemon(tmp: Path, models_dir: Path, extra: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, timeout: float = 120, tls: ssl.SSLContext | None = None) -> Daemon:
    """A ready daemon serving ``models_dir`` on a free port (logs to ``tmp/daemon.log``); ``tls``: it serves
    HTTPS and this client context trusts its certificate."""
    port = free_port()
    return Daemon(write_config(tmp, models_dir, port, extra), port, tmp / "daemon.log", env=env, timeout=timeout,
                  tls=tls)
