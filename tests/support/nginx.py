"""Debian's nginx in front of daemons, for tests and ``bench/fleet_bench.py``: the shipped
``packaging/nginx/yolo-edge-fleet.conf`` with its box, listen and log lines filled in, run by a main
config in a temporary prefix (its own pid, logs and temp folders; nothing under /etc or /var)."""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.daemon import REPO, ServerProcess, _die_with_parent, free_port

FLEET_CONF = REPO / "packaging" / "nginx" / "yolo-edge-fleet.conf"
BOX_LINE = re.compile(r"^(\s*)server\s+[^\s{]+:\d+(\s[^;]*)?;.*$", re.MULTILINE)


def nginx_binary() -> str:
    """The nginx executable; the test skips with a reason when it is not installed."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path is None:
        pytest.skip("nginx is not installed (bash scripts/install_system_deps.sh installs Debian's nginx)")
    return path


def render_fleet_conf(boxes: list[str], listen: str, access_log: Path, template: str | None = None) -> str:
    """The shipped config with one ``server`` line per address in ``boxes`` (each keeping the template's
    parameters: max_fails, fail_timeout, max_conns), ``listen`` and the access log path replaced."""
    text = FLEET_CONF.read_text() if template is None else template
    found = list(BOX_LINE.finditer(text))
    if not found:
        raise ValueError("no box line (server HOST:PORT ...;) in the fleet config")
    indent, params = found[0].group(1), found[0].group(2) or ""
    lines = "\n".join(f"{indent}server {box}{params};" for box in boxes)
    text = text[:found[0].start()] + lines + BOX_LINE.sub("", text[found[0].end():])
    text, n_listen = re.subn(r"^(\s*)listen\s+[^;]+;", rf"\g<1>listen {listen};", text, count=1, flags=re.MULTILINE)
    text, n_log = re.subn(r"^(\s*)access_log\s+\S+", rf"\g<1>access_log {access_log}", text, count=1,
                          flags=re.MULTILINE)
    if not (n_listen and n_log):
        raise ValueError("the fleet config lost its listen or access_log line")
    return text


def main_conf(prefix: Path, site_conf: Path, workers: int = 1) -> str:
    """nginx.conf for a private prefix: pid, error log and temp folders inside it."""
    temps = {"client_body": "body", "proxy": "proxy", "fastcgi": "fastcgi", "uwsgi": "uwsgi", "scgi": "scgi"}
    for folder in temps.values():
        (prefix / folder).mkdir(exist_ok=True)
    # As root, workers would switch to nobody, who cannot write our private temp folders.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes {workers};\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            "events { worker_connections 1024; }\nhttp {\n"
            + "".join(f"    {name}_temp_path {prefix}/{folder};\n" for name, folder in temps.items())
            + f"    include {site_conf};\n}}\n")


class Nginx(ServerProcess):
    """nginx in the foreground (``daemon off``) on a free loopback port, balancing ``boxes``
    (``host:port`` strings); ready when its port accepts connections (whether any box is up or not)."""

    def __init__(self, prefix: Path, boxes: list[str], template: str | None = None, workers: int = 1,
                 timeout: float = 30.0) -> None:
        prefix.mkdir(parents=True, exist_ok=True)
        self.name, self.prefix, self.log_path = "nginx", prefix, prefix / "nginx.out"
        self.access_log = prefix / "access.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        site = prefix / "yolo-edge-fleet.conf"
        site.write_text(render_fleet_conf(boxes, f"127.0.0.1:{self.port}", self.access_log, template))
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(main_conf(prefix, site, workers))
        binary = nginx_binary()
        common = ["-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(self.conf)]
        check = subprocess.run([binary, "-t", "-q", *common], check=False, capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused the config:\n{check.stderr}")
        t0 = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([binary, *common, "-g", "daemon off;"], stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.log()}\n{self.error_log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                break
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"nginx not listening after {timeout:.0f} s:\n{self.error_log()}")
            time.sleep(0.02)
        self.startup_s = time.perf_counter() - t0

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(errors="replace").splitlines() if self.access_log.exists() else []
