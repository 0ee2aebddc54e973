"""The web console's files (``edge/http/console_routes.py``): served at ``/`` and ``/console/*`` by a
real daemon with their content types, a strict CSP and ETag revalidation, and without a key (the page
holds no data); nothing in them loads from another origin; and they ship in a non-editable install."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from edge import errors
from edge.http.console_routes import CONSOLE_DIR, CSP, load_console
from tests.support.daemon import REPO, Daemon

CONSOLE_FILES = sorted(p.name for p in CONSOLE_DIR.iterdir() if p.suffix in (".html", ".js", ".css"))


@pytest.mark.shared_data
@pytest.mark.parametrize("path,content_type", [
    ("/", "text/html"),
    *[(f"/console/{name}", {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]])
      for name in CONSOLE_FILES],
])
def test_served_without_a_key_with_csp(detect_daemon: Daemon, path: str, content_type: str) -> None:
    url = detect_daemon.base_url + path
    r = requests.get(url, timeout=10)  # no key
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == content_type
    assert r.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP and "script-src 'self'" in CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-cache"
    name = "index.html" if path == "/" else path.rsplit("/", 1)[1]
    assert r.content == (CONSOLE_DIR / name).read_bytes()
    again = requests.get(url, headers={"If-None-Match": r.headers["ETag"]}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    changed = requests.get(url, headers={"If-None-Match": '"something-else"'}, timeout=10)
    assert changed.status_code == 200 and changed.content == r.content


@pytest.mark.shared_data
@pytest.mark.parametrize("path,status", [
    ("/console/nope.js", 404),
    ("/console/..%2Fconsole_routes.py", 404),
    ("/console/", 404),
    ("/v1/models", 401),  # the API still needs the key
])
def test_what_is_not_served(detect_daemon: Daemon, path: str, status: int) -> None:
    r = requests.get(detect_daemon.base_url + path, timeout=10)
    assert r.status_code == status
    assert r.json()["success"] is False


def test_no_external_url_and_no_inline_script() -> None:
    """The box is often offline, and the CSP forbids other origins anyway: every reference is local."""
    assert CONSOLE_FILES, f"no console files in {CONSOLE_DIR}"
    for name in CONSOLE_FILES:
        text = (CONSOLE_DIR / name).read_text()
        for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", text):
            pytest.fail(f"{name} references an external URL: {url}")
        assert not re.search(r"\bimport\s*\(?\s*[\"']https?:", text), name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, name
    html = (CONSOLE_DIR / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [], "inline <script> in index.html"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "inline event handler in index.html"


def test_missing_console_is_said_at_start(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError, match="web console is missing"):
        load_console(tmp_path)
    assert set(load_console()) == set(CONSOLE_FILES)


def test_files_ship_in_a_wheel(tmp_path: Path) -> None:
    """systemd/install.sh installs non-editable: the static files must be package data."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    for package in ("edge", "conversion"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "installed")
    installed = tmp_path / "installed" / "edge" / "http" / "console"
    assert set(load_console(installed)) == set(CONSOLE_FILES)
