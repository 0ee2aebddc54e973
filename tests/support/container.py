"""The image under test: build it with ``make image``'s script, run it the way compose.yaml does, on loopback.

Every call goes through the ``docker`` command (the client a user has), never an SDK.
"""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.daemon import REPO, free_port

IMAGE = "yolo-edge:latest"
BUILD_LOG = REPO / "build" / "image-build.log"


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


@functools.cache
def docker_missing() -> str:
    """Why no docker daemon can run here ("" when one answers); scripts/ensure_dockerd.sh tries to start
    one, once per test session."""
    started = subprocess.run(["bash", str(REPO / "scripts" / "ensure_dockerd.sh")], capture_output=True,
                             text=True, timeout=90, check=False)
    return "" if started.returncode == 0 else (started.stderr or started.stdout).strip()[-600:]


def require_docker() -> None:
    """Skip, saying why, where no docker daemon can run."""
    if reason := docker_missing():
        pytest.skip(f"no docker daemon here: {reason}")


def build_image() -> float:
    """``make image`` (base image and layers reused when present); seconds taken. Fails with the log's tail."""
    BUILD_LOG.parent.mkdir(exist_ok=True)
    t0 = time.monotonic()
    with BUILD_LOG.open("w") as log:
        rc = subprocess.run(["bash", str(REPO / "packaging" / "build_image.sh"), IMAGE], stdout=log,
                            stderr=subprocess.STDOUT, cwd=REPO, timeout=3600, check=False).returncode
    if rc != 0:
        pytest.fail(f"building {IMAGE} failed (rc {rc}); {BUILD_LOG} ends with:\n"
                    + "\n".join(BUILD_LOG.read_text().splitlines()[-25:]))
    return time.monotonic() - t0


def compose_hardening() -> list[str]:
    """compose.yaml's sandbox (read-only root, tmpfs, capabilities, no-new-privileges) as ``docker run``
    options, so that the test runs the image as compose.yaml does."""
    service = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["yolo-edge"]
    args = ["--read-only"] if service.get("read_only") else []
    args += [f"--tmpfs={t}" for t in service.get("tmpfs", [])]
    args += [f"--cap-drop={c}" for c in service.get("cap_drop", [])]
    args += [f"--security-opt={o}" for o in service.get("security_opt", [])]
    return args


class Container:
    """``docker run -d`` of the image, its port 8080 published on 127.0.0.1; removed by ``remove()``."""

    def __init__(self, name: str, mounts: dict[Path, str], api_key: str, extra: Sequence[str] = ()) -> None:
        self.name, self.api_key = name, api_key
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        docker("rm", "-f", name, check=False)
        volumes = [f"--volume={host}:{inside}:ro" for host, inside in mounts.items()]
        self.started_at = time.monotonic()
        docker("run", "-d", "--name", name, f"--publish=127.0.0.1:{self.port}:8080", *compose_hardening(),
               *volumes, *extra, IMAGE)

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds from ``docker run`` to /readyz 200; fails with the log when the container exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - self.started_at
            except requests.ConnectionError:
                pass
            if self.state("{{.State.Running}}") != "true":
                pytest.fail(f"container {self.name} exited ({self.state('{{.State.ExitCode}}')}):\n{self.logs()}")
            time.sleep(0.1)
        pytest.fail(f"container {self.name} not ready in {timeout} s:\n{self.logs()}")

    def state(self, template: str) -> str:
        return docker("inspect", "-f", template, self.name, check=False).stdout.strip()

    def logs(self) -> str:
        out = docker("logs", self.name, check=False)
        return out.stdout + out.stderr

    def wait_exit(self, timeout: float = 60) -> int:
        return int(docker("wait", self.name, timeout=timeout).stdout.strip())

    def process_uids(self) -> dict[str, int]:
        """Command line -> uid of every process in the container, as the host's ps sees them."""
        lines = docker("top", self.name, "-o", "pid,uid,args").stdout.splitlines()[1:]  # docker top needs pid
        return {line.split(None, 2)[2]: int(line.split(None, 2)[1]) for line in lines}

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
