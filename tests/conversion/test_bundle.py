"""What `yolo-edge-convert` leaves on disk: a bundle root writes is readable by an unprivileged user
(folders 0755, files 0644, whatever the umask), and a conversion stopped by SIGTERM or SIGINT leaves
neither a staging folder nor its temporary work folder behind."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conversion.bundle import Staging
from tests.support.conversion import interrupt_when, sigint_as_default, weights

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def _umask_077() -> None:
    os.umask(0o077)


def _modes(folder: Path) -> set[tuple[str, int]]:
    return {("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode)) for p in [folder, *folder.rglob("*")]}


def test_committed_staging_is_world_readable_under_umask_077(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        staging = Staging(tmp_path / "m")
        (staging.path / "sub").mkdir()
        (staging.path / "m.xml").write_text("<net/>")
        (staging.path / "sub" / "report.json").write_text("{}")
        assert stat.S_IMODE(staging.path.stat().st_mode) == 0o700  # mkdtemp's, until commit
        bundle = staging.commit(force=False)
    finally:
        os.umask(old)
    assert _modes(bundle) == {("dir", 0o755), ("file", 0o644)}


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder every user can traverse (pytest's tmp_path is 0700 for root)."""
    path = Path(tempfile.mkdtemp(prefix="yolo-edge-bundle-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _convert_cmd(out: Path, model_id: str) -> list[str]:
    return [sys.executable, "-m", "conversion.cli", str(weights("yolov8n-dq.pt")), "--precision", "fp32",
            "--out", str(out), "--id", model_id, "--imgsz", "160", "--bench-seconds", "0", "--quiet"]


def _env(tmpdir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmpdir), "YOLO_OFFLINE": "1"}


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.ultralytics
@pytest.mark.skipif(os.geteuid() != 0, reason="converts as root and reads as the user nobody")
def test_bundle_written_by_root_is_read_by_nobody(public_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("ultralytics", reason="converting needs the convert extra")
    out = public_dir / "models"
    done = subprocess.run(_convert_cmd(out, "v8"), capture_output=True, text=True, env=_env(tmp_path),
                          preexec_fn=_umask_077, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    bundle = out / "v8"
    assert _modes(bundle) == {("dir", 0o755), ("file", 0o644)}
    files = sorted(str(p) for p in bundle.rglob("*") if p.is_file())
    assert any(f.endswith(".xml") for f in files) and any(f.endswith("metadata.yaml") for f in files)
    as_nobody = subprocess.run(["cat", *files], capture_output=True,
                               preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)))
    assert as_nobody.returncode == 0, as_nobody.stderr.decode()
    assert len(as_nobody.stdout) == sum(Path(f).stat().st_size for f in files)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.ultralytics
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_conversion_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    pytest.importorskip("ultralytics", reason="converting needs the convert extra")
    out, tmpdir = tmp_path / "models", tmp_path / "tmp"
    out.mkdir()
    tmpdir.mkdir()
    proc = subprocess.Popen(_convert_cmd(out, "v8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(tmpdir), preexec_fn=sigint_as_default)
    # the staging folder appears once the checkpoint has loaded, before the export starts
    interrupt_when(proc, lambda: bool(list(out.glob(".v8.partial-*"))) and any(tmpdir.iterdir()), sig,
                   "the conversion")
    assert list(out.iterdir()) == [], "no bundle, no staging folder"
    assert list(tmpdir.iterdir()) == [], "no temporary work folder"
