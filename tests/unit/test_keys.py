"""API keys: plain and sha256 lines, the systemd credential, and refusing to start without a key."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config.settings import AuthConfig
from edge.errors import ConfigError
from edge.service.keys import load_keyring


def test_plain_and_hashed_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# comment\nplain-key\n\nsha256:" + hashlib.sha256(b"hashed-key").hexdigest() + "\n")
    ring = load_keyring(AuthConfig(api_keys_file=keys), environ={})
    assert ring.check("plain-key") and ring.check("hashed-key")
    assert not ring.check("other") and not ring.check(None) and not ring.check("")
    assert len(ring) == 2


def test_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "api_keys").write_text("from-systemd\n")
    ring = load_keyring(AuthConfig(api_keys_file=None), environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert ring.check("from-systemd")


@pytest.mark.parametrize("content,fragment", [
    ("", "no API key was found"),
    ("# only a comment\n", "no API key was found"),
    ("sha256:abcd\n", "64 hex digits"),
])
def test_bad_key_files(tmp_path: Path, content: str, fragment: str) -> None:
    keys = tmp_path / "keys"
    keys.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_keyring(AuthConfig(api_keys_file=keys), environ={})


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_keyring(AuthConfig(api_keys_file=tmp_path / "absent"), environ={})


def test_auth_disabled_accepts_anything() -> None:
    assert load_keyring(AuthConfig(enabled=False), environ={}).check(None)


def test_daemon_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"models: {{dir: {tmp_path / 'models'}}}\nauth: {{enabled: true}}\n")
    result = subprocess.run([sys.executable, "-m", "edge.cli", "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "no API key was found" in result.stderr


def test_daemon_refuses_a_broken_model_folder(tmp_path: Path) -> None:
    broken = tmp_path / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "model.xml").write_text("<net/>")
    (tmp_path / "keys").write_text("k\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"models: {{dir: {tmp_path / 'models'}}}\nauth: {{api_keys_file: {tmp_path / 'keys'}}}\n")
    result = subprocess.run([sys.executable, "-m", "edge.cli", "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "broken" in result.stderr and "model.bin" in result.stderr


@pytest.mark.parametrize("file_text, credential, enabled, admits, refuses", [
    ("admin-1\n", None, True, ["admin-1"], ["predict-1", "", None]),
    (None, "admin-2\n", True, ["admin-2"], ["admin-1"]),
    ("admin-1\n", "admin-2\n", True, ["admin-1", "admin-2"], ["x"]),
    ("admin-1\n", None, False, ["admin-1"], ["anything"]),  # auth.enabled: false never opens model management
    (None, None, True, None, None),  # nothing configured: management off
])
def test_admin_keys_are_a_ring_of_their_own(tmp_path: Path, file_text: str | None, credential: str | None,
                                            enabled: bool, admits: list[str] | None, refuses: list[str] | None) -> None:
    from edge.service.keys import load_admin_keyring

    (tmp_path / "api_keys").write_text("predict-1\n")
    admin_file = None
    if file_text is not None:
        admin_file = tmp_path / "admin"
        admin_file.write_text(file_text)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api_keys").write_text("predict-1\n")
    if credential is not None:
        (creds / "admin_keys").write_text(credential)
    auth = AuthConfig(enabled=enabled, api_keys_file=tmp_path / "api_keys", admin_keys_file=admin_file)
    ring = load_admin_keyring(auth, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    if admits is None:
        assert ring is None
        return
    assert ring is not None and all(ring.check(k) for k in admits) and not any(ring.check(k) for k in refuses or [])


@pytest.mark.parametrize("content, fragment", [
    ("# nothing\n", "auth.admin_keys_file: .* holds no key"),
    (None, "auth.admin_keys_file: .* does not exist"),
])
def test_bad_admin_key_files(tmp_path: Path, content: str | None, fragment: str) -> None:
    from edge.service.keys import load_admin_keyring

    path = tmp_path / "admin"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_admin_keyring(AuthConfig(admin_keys_file=path), environ={})
