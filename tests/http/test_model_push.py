"""``yolo-edge push`` and ``yolo-edge-convert --push`` against real daemons: the bundle reaches every box
that answers, each box gets a line, a box that is down fails alone, and the key never comes from argv."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.bundles import ADMIN_KEY
from tests.support.daemon import REPO, Daemon, free_port, link_models, start_daemon
from tests.support.shared_data import shared_data_dir

pytestmark = [pytest.mark.shared_data]
DATA = shared_data_dir()
BUNDLE = (DATA / "models" / "yolov8n_int8_openvino_model") if DATA else Path("/nonexistent")
needs_bundle = pytest.mark.skipif(not (BUNDLE / "metadata.yaml").is_file(), reason=f"no {BUNDLE}")


@pytest.fixture(scope="module")
def boxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Daemon]]:
    out = []
    for i in range(2):
        tmp = tmp_path_factory.mktemp(f"box{i}")
        (tmp / "admin_keys").write_text(ADMIN_KEY + "\n")
        out.append(start_daemon(tmp, link_models(tmp, {"base": BUNDLE}),
                                extra={"auth": {"admin_keys_file": str(tmp / "admin_keys")}}))
    yield out
    for d in out:
        d.stop()


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    full = {k: v for k, v in os.environ.items() if k != "YOLO_EDGE_ADMIN_KEY"}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**full, "PYTHONPATH": str(REPO), **(env or {})})


def served(d: Daemon) -> list[str]:
    return requests.get(f"{d.base_url}/readyz", headers={"x-api-key": d.api_key}, timeout=10).json()["models"]


@needs_bundle
def test_push_to_every_box_and_one_that_is_down(boxes: list[Daemon], tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    key_file.write_text(f"# admin key\n{ADMIN_KEY}\n")
    down = f"http://127.0.0.1:{free_port()}"
    out = run(["-m", "edge.cli", "push", str(BUNDLE), "--id", "pushed", "--key-file", str(key_file),
               "--to", boxes[0].base_url, "--to", down, "--to", boxes[1].base_url + "/"])
    lines = out.stdout.splitlines()
    assert out.returncode == 1 and len(lines) == 3, out.stdout + out.stderr
    assert lines[0].startswith(f"{boxes[0].base_url}: added pushed (detect, int8, 80 classes, 640x640, CPU), sha256 ")
    assert lines[1].startswith(f"{down}: FAILED (no answer): cannot reach the box")
    assert lines[2].startswith(f"{boxes[1].base_url}/: added pushed")
    assert all(served(d) == ["base", "pushed"] for d in boxes)
    again = run(["-m", "edge.cli", "push", str(BUNDLE), "--id", "pushed", "--to", boxes[0].base_url],
                env={"YOLO_EDGE_ADMIN_KEY": ADMIN_KEY})
    assert again.returncode == 0 and ": replaced pushed " in again.stdout, again.stdout + again.stderr


@needs_bundle
@pytest.mark.parametrize("args, env, code, message", [
    ([], {}, 2, "no admin key: give --key-file PATH (one key per line) or set $YOLO_EDGE_ADMIN_KEY"),
    ([], {"YOLO_EDGE_ADMIN_KEY": "wrong"}, 1, "FAILED (401): the admin key is not valid for this device"),
    ([], {"YOLO_EDGE_ADMIN_KEY": "test-key-0123456789"}, 1, "FAILED (403): this API key may predict but not manage"),
    (["--id", "bad id"], {"YOLO_EDGE_ADMIN_KEY": ADMIN_KEY}, 2, "is not a usable MODEL_ID"),
])
def test_push_errors_are_clear(boxes: list[Daemon], args: list[str], env: dict[str, str], code: int,
                               message: str) -> None:
    out = run(["-m", "edge.cli", "push", str(BUNDLE), "--to", boxes[0].base_url, *args], env)
    assert out.returncode == code and message in out.stdout + out.stderr, out.stdout + out.stderr


@needs_bundle
def test_convert_pushes_the_bundle_it_wrote(boxes: list[Daemon], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The conversion itself is replaced by a copy of a real export: this checks the --push wiring."""
    pytest.importorskip("nncf")
    import shutil

    from conversion import cli, pipeline

    def fake_run(opts: object) -> Path:
        out = tmp_path / "out" / "converted-int8"
        shutil.copytree(BUNDLE, out)
        (out / "report.json").write_text('{"accuracy": {"passed": true}}')
        return out

    monkeypatch.setattr(pipeline, "run", fake_run)
    monkeypatch.setenv("YOLO_EDGE_ADMIN_KEY", ADMIN_KEY)
    down = f"http://127.0.0.1:{free_port()}"
    code = cli.main(["yolov8n.pt", "--precision", "int8", "--data", "x", "--out", str(tmp_path / "out"),
                     "--quiet", "--push", boxes[1].base_url, "--push", down])
    out, err = capsys.readouterr()
    assert code == 7 and out.strip() == str(tmp_path / "out" / "converted-int8")
    assert f"push: {boxes[1].base_url}: added converted-int8 (detect" in err
    assert f"push: {down}: FAILED" in err and "1 of 2 boxes did not take the bundle" in err
    report = requests.get(f"{boxes[1].base_url}/v1/models/converted-int8", headers={"x-api-key": ADMIN_KEY},
                          timeout=10).json()["data"]["report"]
    assert report == {"accuracy": {"passed": True}}
    monkeypatch.delenv("YOLO_EDGE_ADMIN_KEY")
    assert cli.main(["yolov8n.pt", "--precision", "int8", "--data", "x", "--out", str(tmp_path / "o2"),
                     "--push", boxes[1].base_url]) == 2
    assert "--push: no admin key" in capsys.readouterr().err
