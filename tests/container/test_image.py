"""The OCI image (packaging/Dockerfile), built here with ``make image``'s script and run as compose.yaml runs
it: a real shared model mounted read-only, its port published on 127.0.0.1, the key as a Docker secret
file. It answers bus.jpg exactly as the host's daemon does, drains under load at SIGTERM, runs as a
non-root user, reports itself healthy, and refuses a configured GPU it cannot see, naming the cause.
Skips, saying why, where no docker daemon can run."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.service.test_lifecycle import Load, record_figure
from tests.support.container import Container, build_image, docker, require_docker
from tests.support.daemon import API_KEY, REPO, link_models, start_daemon

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.shared_data]

MODEL_ID = "yolov8n"
BUS = REPO / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def image_built() -> float:
    require_docker()
    seconds = build_image()
    size = int(docker("image", "inspect", "-f", "{{.Size}}", "yolo-edge:latest").stdout)
    record_figure("container_image", {"build_s": round(seconds, 1), "size_mb": round(size / 1e6)})
    return seconds


@pytest.fixture(scope="module")
def model(shared_data: Path) -> Path:
    path = shared_data / "models" / "yolov8n_int8_openvino_model"
    if not (path / "metadata.yaml").is_file():
        pytest.skip(f"no model at {path}")
    return path


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The API key as compose.yaml hands it over: a secret file at /run/secrets/api_keys, readable by uid 10001."""
    path = tmp_path / "api_keys"
    path.write_text(API_KEY + "\n")
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    return path


@pytest.fixture
def container(image_built: float, model: Path, key_file: Path) -> Iterator[Container]:
    box = Container(f"yolo-edge-test-{os.getpid()}", {model: f"/var/lib/yolo-edge/models/{MODEL_ID}",
                                                       key_file: "/run/secrets/api_keys"}, API_KEY,
                    extra=["--health-interval=1s", "--health-start-period=0s"])  # the image's check, sooner
    try:
        yield box
    finally:
        box.remove()


def predict(base_url: str, image: bytes) -> requests.Response:
    return requests.post(f"{base_url}/v1/predict/{MODEL_ID}", files={"image": ("bus.jpg", image, "image/jpeg")},
                         data={"size": 640, "confidence": 0.25}, headers={"x-api-key": API_KEY}, timeout=60)


def test_image_answers_as_the_host_daemon_and_runs_as_non_root(container: Container, model: Path,
                                                             tmp_path: Path) -> None:
    ready_s = container.wait_ready()
    image = BUS.read_bytes()
    answer = predict(container.base_url, image)
    assert answer.status_code == 200, answer.text
    ready = requests.get(container.base_url + "/readyz", headers={"x-api-key": API_KEY}, timeout=10).json()
    uids = container.process_uids()
    deadline = time.monotonic() + 30
    while container.state("{{.State.Health.Status}}") != "healthy" and time.monotonic() < deadline:
        time.sleep(0.5)
    health = container.state("{{.State.Health.Status}}")
    logs = container.logs()

    host_dir = tmp_path / "host"
    host_dir.mkdir()
    t0 = time.monotonic()
    daemon = start_daemon(host_dir, link_models(host_dir, {MODEL_ID: model}))
    host_ready_s = time.monotonic() - t0  # the same start on the host, for comparison
    try:
        host_answer = predict(daemon.base_url, image)
    finally:
        daemon.stop()
    boxes = answer.json()["data"]
    record_figure("container_run", {"start_to_ready_s": round(ready_s, 2), "host_start_to_ready_s": round(host_ready_s, 2),
                                    "detections": len(boxes),
                                    "identical_to_host": boxes == host_answer.json()["data"],
                                    "classes": dict(Counter(b["name"] for b in boxes))})
    assert boxes == host_answer.json()["data"]  # same model, same OpenVINO, same CPU: identical
    assert Counter(b["name"] for b in boxes)["person"] >= 3  # bus.jpg: a bus and its passengers
    # the log and /readyz name the devices OpenVINO sees
    assert ready["device"] == "CPU" and "CPU" in ready["devices"], ready
    assert "sees CPU (" in logs, logs
    # every process (tini, the daemon) runs as the image's user
    assert uids and set(uids.values()) == {10001}, uids
    assert health == "healthy", container.state("{{json .State.Health}}")


def test_sigterm_under_load_answers_every_accepted_request(container: Container) -> None:
    container.wait_ready()
    load = Load(container, BUS.read_bytes(), MODEL_ID, clients=6, stop_on_refusal=True)  # type: ignore[arg-type]
    try:
        load.start()
        time.sleep(2.0)
        load.wait_all_in_flight()  # stop while every client has a request in the daemon
        t_term = time.monotonic()
        docker("kill", f"--signal={signal.SIGTERM.name}", container.name)  # to tini, PID 1, which forwards it
        t_sent = time.monotonic()  # the signal arrived somewhere in [t_term, t_sent]
        rc = container.wait_exit()
        t_exit = time.monotonic()
        load.join()
    finally:
        load.stop_event.set()
    logs = container.logs()
    in_flight = [s for t0, t1, s in load.results if t0 < t_term < t1]
    before = [s for t0, t1, s in load.results if t0 < t_term]
    during = Counter(str(s) for t0, _, s in load.results if t_term <= t0 < t_sent)  # either way
    after = Counter(str(s) for t0, _, s in load.results if t0 >= t_sent)
    record_figure("container_stop", {"requests_before_sigterm": len(before), "in_flight_at_sigterm": len(in_flight),
                                     "completed_200": sum(1 for s in before if s == 200),
                                     "sent_while_signalling": dict(during), "sent_after_sigterm": dict(after),
                                     "exit_code": rc,
                                     "exit_after_s": round(t_exit - t_term, 2)})
    assert rc == 0, logs[-3000:]
    assert len(in_flight) >= 1
    assert all(s == 200 for s in before), (Counter(before), logs[-3000:])
    # nothing sent after the stop was half-served: answered in full, refused at the door or not connected.
    # A 200 after `docker kill` returned is right: tini forwards the signal and the daemon's loop takes it
    # a moment later, so a request accepted in between is still served (seen once in a CI run).
    refused = {"503"} | {k for k in (*after, *during) if k.startswith("connection: ")}
    assert set(after) <= refused | {"200"}
    assert set(during) <= refused | {"200"}
    assert "stopping: finishing requests in flight" in logs


def test_a_configured_gpu_not_passed_in_is_a_clear_error(image_built: float, model: Path, key_file: Path,
                                                       tmp_path: Path) -> None:
    if Path("/dev/dri").exists():
        pytest.skip("this machine has /dev/dri: the case of a GPU not passed in needs one without")
    config = yaml.safe_load((REPO / "packaging" / "config.yaml").read_text())
    config["models"]["device"] = "GPU"
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    config_path.chmod(0o644)
    box = Container(f"yolo-edge-test-gpu-{os.getpid()}", {model: f"/var/lib/yolo-edge/models/{MODEL_ID}",
                                                           key_file: "/run/secrets/api_keys",
                                                           config_path: "/etc/yolo-edge/config.yaml"}, API_KEY)
    try:
        rc = box.wait_exit()
        logs = box.logs()
    finally:
        box.remove()
    assert rc == 2, logs
    assert "models.device 'GPU' is not visible to OpenVINO (visible: CPU)" in logs, logs
    assert "--device /dev/dri" in logs and "--group-add" in logs, logs
