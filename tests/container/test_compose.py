"""compose.yaml itself, run by the real compose (``docker compose`` or Debian's ``docker-compose``): its
secret file read by the image's user, its read-only root, its loopback port and its stop grace period.
The devices this machine lacks are removed from a copy (Docker refuses to start without them); the
rest is the file as shipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.container import build_image, require_docker
from tests.support.daemon import API_KEY, REPO, free_port

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.shared_data]


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("neither `docker compose` nor docker-compose is installed (scripts/install_system_deps.sh)")


def for_this_machine(compose: dict[str, Any], model: Path, port: int) -> dict[str, str]:
    """Edit ``compose`` in place: keep the devices this machine has, publish on ``port``, serve ``model``.
    Returns the environment compose needs (RENDER_GID when a device is kept)."""
    service = compose["services"]["yolo-edge"]
    service["devices"] = [d for d in service["devices"] if Path(d.split(":")[0]).exists()]
    env = dict(os.environ)
    if service["devices"]:
        node = next(p for d in service["devices"] for p in Path(d.split(":")[0]).iterdir())
        env["RENDER_GID"] = str(node.stat().st_gid)
    else:
        del service["devices"], service["group_add"]
    assert service["ports"] == ["127.0.0.1:8080:8080"]  # loopback as shipped
    service["ports"] = [f"127.0.0.1:{port}:8080"]
    service["volumes"] = [v for v in service["volumes"] if not v.startswith("./models:")]
    service["volumes"].append(f"{model}:/var/lib/yolo-edge/models/yolov8n:ro")
    return env


def test_compose_up_serves_and_stops_cleanly(shared_data: Path, tmp_path: Path) -> None:
    require_docker()
    command = compose_command()
    model = shared_data / "models" / "yolov8n_int8_openvino_model"
    if not (model / "metadata.yaml").is_file():
        pytest.skip(f"no model at {model}")
    build_image()
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    port = free_port()
    env = for_this_machine(compose, model, port)
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(compose))
    # the key as compose.yaml's header says: group 10001 may read it, others may not
    keys = tmp_path / "var" / "api_keys"
    keys.parent.mkdir()
    keys.write_text(API_KEY + "\n")
    try:
        os.chown(keys, -1, 10001)
        keys.chmod(0o640)
    except PermissionError:  # not root: readable by all instead
        keys.chmod(0o644)
    tmp_path.chmod(0o755)
    project = ["-p", f"yolo-edge-compose-{os.getpid()}", "-f", str(tmp_path / "compose.yaml")]

    def compose_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *project, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=timeout, check=False)

    try:
        up = compose_run("up", "-d")
        assert up.returncode == 0, up.stderr
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        answer = requests.post(f"{base}/v1/predict/yolov8n", headers={"x-api-key": API_KEY}, timeout=60,
                               files={"image": ("bus.jpg", (REPO / "assets" / "bus.jpg").read_bytes())})
        container = compose_run("ps", "-q").stdout.strip()
        stop = compose_run("stop")
        exit_code = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", container], capture_output=True,
                                   text=True, check=False).stdout.strip()
        logs = compose_run("logs", "--no-color").stdout
    finally:
        compose_run("down", "-v")
    assert answer.status_code == 200, (answer.text, logs[-3000:])
    assert any(p["name"] == "bus" for p in answer.json()["data"])
    assert stop.returncode == 0, stop.stderr
    assert exit_code == "0", logs[-3000:]  # SIGTERM drained and exited, not killed after the grace period
    assert "stopping: finishing requests in flight" in logs
