"""systemd/install.sh and uninstall.sh into a temporary root: the tree, the key shown once, what is kept."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config.settings import load_config

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "systemd" / "install.sh"
UNINSTALL = REPO / "systemd" / "uninstall.sh"
KEY_LINE = re.compile(r"^\s{4}([A-Za-z0-9_-]{43})\s*$", re.M)


def run(script: Path, *args: str) -> str:
    # --no-deps: the tree and the scripts are under test, not a second download of OpenVINO.
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "VIRTUAL_ENV")}
    done = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def install(root: Path, *args: str) -> str:
    return run(INSTALL, "--root", str(root), "--no-deps", "--python", sys.executable, *args)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("root")
    model = tmp_path_factory.mktemp("src") / "tiny_model"
    model.mkdir()
    (model / "metadata.yaml").write_text("task: detect\n")
    (model / "tiny.xml").write_text("<net/>\n")
    return root, install(root, "--model", str(model))


@pytest.mark.parametrize(
    ("path", "kind", "mode"),
    [
        ("opt/yolo-edge/venv/bin/python", "file", None),
        ("opt/yolo-edge/venv/bin/yolo-edge", "file", None),
        ("opt/yolo-edge/uninstall.sh", "file", 0o755),
        ("etc/systemd/system/yolo-edge.service", "file", 0o644),
        ("etc/sysusers.d/yolo-edge.conf", "file", 0o644),
        ("etc/yolo-edge/config.yaml", "file", 0o644),
        ("etc/yolo-edge/config.yaml.dist", "file", 0o644),
        ("etc/yolo-edge/api_keys", "file", 0o600),
        ("var/lib/yolo-edge/models", "dir", 0o750),
        ("var/lib/yolo-edge/models/tiny_model/metadata.yaml", "file", None),
        ("var/lib/yolo-edge/snapshots", "dir", 0o750),
        ("var/cache/yolo-edge/openvino", "dir", 0o750),
    ],
)
def test_tree(installed: tuple[Path, str], path: str, kind: str, mode: int | None) -> None:
    p = installed[0] / path
    assert p.is_dir() if kind == "dir" else p.is_file(), p
    if mode is not None:
        assert stat.S_IMODE(p.stat().st_mode) == mode, oct(p.stat().st_mode)


def test_unit_and_sysusers_are_the_shipped_files(installed: tuple[Path, str]) -> None:
    root, _ = installed
    for shipped, dest in [("yolo-edge.service", "etc/systemd/system/yolo-edge.service"),
                          ("yolo-edge.sysusers", "etc/sysusers.d/yolo-edge.conf")]:
        assert (root / dest).read_bytes() == (REPO / "systemd" / shipped).read_bytes()


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl not installed (apt-get install systemd)")
def test_enabled_offline(installed: tuple[Path, str]) -> None:
    link = installed[0] / "etc/systemd/system/multi-user.target.wants/yolo-edge.service"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/yolo-edge.service"


def test_runtime_venv_has_no_torch_and_points_at_its_final_place(installed: tuple[Path, str]) -> None:
    root, _ = installed
    venv = root / "opt/yolo-edge/venv"
    py = venv / "bin/python"
    probe = "import importlib.util as u; print(u.find_spec('torch'), u.find_spec('ultralytics'), u.find_spec('edge'))"
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["None", "None"] and out[2] != "None"
    # scripts name /opt/yolo-edge/venv, where the tree will live, not the staging root
    assert (venv / "bin/yolo-edge").read_text().splitlines()[0] == "#!/opt/yolo-edge/venv/bin/python"
    assert str(root) not in (venv / "bin/activate").read_text()


def test_default_config_is_valid_and_points_at_the_service_dirs(installed: tuple[Path, str]) -> None:
    cfg = load_config(installed[0] / "etc/yolo-edge/config.yaml")
    assert cfg.models.dir == Path("/var/lib/yolo-edge/models")
    assert cfg.models.cache_dir == Path("/var/cache/yolo-edge/openvino")
    assert cfg.auth.enabled and cfg.auth.api_keys_file is None  # keys come from the systemd credential
    unit = (REPO / "systemd/yolo-edge.service").read_text()
    assert "--config /etc/yolo-edge/config.yaml" in unit
    assert "LoadCredential=api_keys:/etc/yolo-edge/api_keys" in unit


def test_key_printed_once_and_only_its_hash_stored(installed: tuple[Path, str]) -> None:
    root, out = installed
    keys = KEY_LINE.findall(out)
    assert len(keys) == 1, out
    key = keys[0]
    stored = (root / "etc/yolo-edge/api_keys").read_text()
    assert f"sha256:{hashlib.sha256(key.encode()).hexdigest()}" in stored.split()
    assert key not in stored
    # and it parses as a key file for the daemon
    from edge.service.keys import parse_key_lines
    assert parse_key_lines(stored, "api_keys") == [hashlib.sha256(key.encode()).digest()]


def test_rerun_keeps_config_and_key_and_prints_no_key(installed: tuple[Path, str]) -> None:
    root, _ = installed
    config = root / "etc/yolo-edge/config.yaml"
    config.write_text(config.read_text().replace("port: 8080", "port: 9090"))
    keys_before = (root / "etc/yolo-edge/api_keys").read_text()
    out = install(root)
    assert KEY_LINE.findall(out) == []
    assert "kept existing API keys" in out
    assert "port: 9090" in config.read_text()
    assert (root / "etc/yolo-edge/api_keys").read_text() == keys_before


def _model_folder(root: Path) -> None:
    (root / "var/lib/yolo-edge/models/mine").mkdir(parents=True)
    (root / "var/lib/yolo-edge/models/mine/mine.xml").write_text("<net/>")


def _staging_only(root: Path) -> None:
    (root / "var/lib/yolo-edge/models/.mine.partial-x").mkdir(parents=True)  # never served: still empty
    (root / "var/lib/yolo-edge/models/.mine.partial-x/mine.xml").write_text("<net/>")


def _folder_without_xml(root: Path) -> None:
    (root / "var/lib/yolo-edge/models/mine").mkdir(parents=True)


@pytest.mark.parametrize(("before", "args", "refused"), [
    (None, (), True),                       # fresh: the service could not start
    (_staging_only, (), True),
    (_folder_without_xml, (), True),
    (None, ("--no-model",), False),         # asked for: enabled, waits for a model
    (_model_folder, (), False),             # a re-run or an upgrade keeps serving what is there
])
def test_without_model_refuses_an_empty_repository(tmp_path: Path, before, args: tuple[str, ...],
                                                   refused: bool) -> None:
    """No default model is made on the device (its venv has no torch): install.sh refuses before
    touching anything rather than enable a service that cannot start, and says what to pass."""
    root = tmp_path / "root"
    if before:
        before(root)
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "VIRTUAL_ENV")}
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), "--no-deps", "--python", sys.executable, *args],
                          capture_output=True, text=True, env=env, timeout=600)
    if refused:
        assert done.returncode == 2, done.stdout + done.stderr
        assert "--model models/yolov8n" in done.stderr and "--no-model" in done.stderr, done.stderr
        assert not (root / "opt").exists() and not (root / "etc").exists(), "nothing installed"
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert (root / "opt/yolo-edge/venv/bin/yolo-edge").is_file()


def test_uninstall_keeps_data_and_purge_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--no-model")
    (root / "var/lib/yolo-edge/models/m").mkdir()
    (root / "var/lib/yolo-edge/snapshots/s.jpg").write_bytes(b"x")

    run(UNINSTALL, "--root", str(root))
    for gone in ["opt/yolo-edge", "etc/systemd/system/yolo-edge.service", "etc/sysusers.d/yolo-edge.conf",
                 "etc/systemd/system/multi-user.target.wants/yolo-edge.service", "var/cache/yolo-edge"]:
        assert not (root / gone).exists() and not (root / gone).is_symlink(), gone
    for kept in ["etc/yolo-edge/config.yaml", "etc/yolo-edge/api_keys", "var/lib/yolo-edge/models/m",
                 "var/lib/yolo-edge/snapshots/s.jpg"]:
        assert (root / kept).exists(), kept

    run(UNINSTALL, "--root", str(root), "--purge")
    assert not (root / "etc/yolo-edge").exists()
    assert not (root / "var/lib/yolo-edge").exists()
