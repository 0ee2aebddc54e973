"""The models folder survives a crash at any point of a model change: each state a killed process can
leave is built here and cleaned as the next start does; then a real daemon is SIGKILLed in the middle of
an upload (while receiving, and after unpacking while compiling) and restarted."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from edge.service.model_store import (
    PREVIOUS,
    STAGING_PREFIX,
    TRASH_PREFIX,
    clean_leftovers,
    install,
    new_staging,
)
from tests.support.bundles import ADMIN_KEY, pack_folder
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.shared_data import shared_data_dir


def model(folder: Path, tag: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "metadata.yaml").write_text(f"tag: {tag}\n")
    return folder


def tags(models_dir: Path) -> dict[str, str]:
    return {p.name: (p / "metadata.yaml").read_text() for p in sorted(models_dir.iterdir())}


@pytest.mark.parametrize("exchange", [True, False], ids=["rename-exchange", "two-renames"])
def test_install_replaces_in_one_step_and_keeps_the_old_for_discard(tmp_path: Path, exchange: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not exchange:
        monkeypatch.setattr("edge.service.model_store._exchange", lambda a, b: False)
    model(tmp_path / "m", "old")
    staging = new_staging(tmp_path, "m")
    new = model(staging / "unpacked", "new")
    assert install(new, tmp_path, "m", staging) == tmp_path / "m"
    assert (tmp_path / "m" / "metadata.yaml").read_text() == "tag: new\n"
    old = staging / ("unpacked" if exchange else PREVIOUS)
    assert (old / "metadata.yaml").read_text() == "tag: old\n"  # discarded with the staging folder
    clean_leftovers(tmp_path)
    assert tags(tmp_path) == {"m": "tag: new\n"}


@pytest.mark.parametrize("state", ["receiving", "unpacked", "after exchange", "between two renames", "trash"])
def test_what_a_crash_leaves_is_cleaned_at_start(tmp_path: Path, state: str) -> None:
    model(tmp_path / "keep", "keep")
    model(tmp_path / "m", "old")
    staging = new_staging(tmp_path, "m")
    if state == "receiving":
        (staging / "bundle").write_bytes(b"\x1f\x8b partial")
    elif state == "unpacked":
        model(staging / "unpacked", "new")
    elif state == "after exchange":  # the new model is in place; the old one waits in staging
        os.rename(tmp_path / "m", staging / "old")
        model(tmp_path / "m", "new")
    elif state == "between two renames":  # the old model moved aside, the new one not yet in place
        os.rename(tmp_path / "m", staging / PREVIOUS)
    else:
        os.rename(tmp_path / "m", tmp_path / f"{TRASH_PREFIX}m-1234")
    removed = clean_leftovers(tmp_path)
    assert removed and all(n.startswith((STAGING_PREFIX, TRASH_PREFIX)) for n in removed)
    expected = {"keep": "tag: keep\n", "m": "tag: new\n" if state == "after exchange" else "tag: old\n"}
    if state == "trash":
        expected.pop("m")  # a delete that was under way: finished
    assert tags(tmp_path) == expected


def test_clean_leftovers_never_follows_a_symlink(tmp_path: Path) -> None:
    outside = model(tmp_path / "outside", "precious")
    root = tmp_path / "models"
    root.mkdir()
    (root / f"{TRASH_PREFIX}x-1").symlink_to(outside, target_is_directory=True)
    clean_leftovers(root)
    assert (outside / "metadata.yaml").is_file() and list(root.iterdir()) == []


@pytest.mark.shared_data
@pytest.mark.parametrize("phase", ["receiving", "compiling"])
def test_sigkill_during_upload_then_restart_serves_the_old_model(tmp_path: Path, phase: str) -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("no shared data")
    v8, v11 = data / "models" / "yolov8n_int8_openvino_model", data / "models" / "yolo11n_int8_openvino_model"
    (tmp_path / "admin_keys").write_text(ADMIN_KEY + "\n")
    models = link_models(tmp_path, {"m": v8})
    extra = {"auth": {"admin_keys_file": str(tmp_path / "admin_keys")}}
    d = start_daemon(tmp_path, models, extra=extra)
    before = sorted(p.name for p in models.iterdir())
    body = pack_folder(v11)  # replaces m: a half-done replacement must leave the old m
    sock = socket.create_connection(("127.0.0.1", d.port))
    try:
        head = (f"PUT /v1/models/m HTTP/1.1\r\nHost: box\r\nx-api-key: {ADMIN_KEY}\r\nContent-Type: application/gzip"
                f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        sock.sendall(head + (body[: len(body) // 2] if phase == "receiving" else body))
        wanted = "bundle" if phase == "receiving" else "unpacked/metadata.yaml"
        deadline = time.monotonic() + 60
        while not any((p / wanted).is_file() for p in models.glob(f"{STAGING_PREFIX}*")):
            assert time.monotonic() < deadline, d.tail()
            time.sleep(0.005)
        d.process.send_signal(signal.SIGKILL)
        d.process.wait(30)
    finally:
        sock.close()
    assert [p.name for p in models.glob(f"{STAGING_PREFIX}*")], "the kill left a staging folder to clean"
    restarted = Daemon(d.config_path, d.port, tmp_path / "restarted.log")
    try:
        assert sorted(p.name for p in models.iterdir()) == before  # leftovers removed at start
        assert "removed what interrupted model changes left" in restarted.log()
        ready = requests.get(f"{restarted.base_url}/readyz", headers={"x-api-key": restarted.api_key}, timeout=10).json()
        assert ready["models"] == ["m"]
        info = requests.get(f"{restarted.base_url}/v1/models/m", headers={"x-api-key": ADMIN_KEY}, timeout=10).json()
        assert info["data"]["sha256"] is None and (models / "m").resolve() == v8.resolve()  # the old m, untouched
    finally:
        restarted.stop()
