"""config.yaml: good files load, bad ones fail with the file, key, value and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config.settings import load_config
from edge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads_with_safe_defaults() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.server.port == 8080 and config.auth.enabled is True
    assert config.url_fetch.allow == [], "url fetching must be off by default"
    assert config.models.device == "CPU"
    assert config.models.dir == REPO / "models"  # relative to the config file


@pytest.mark.parametrize("text,expected", [
    ("server: {port: 9000}", lambda c: c.server.port == 9000),
    ("models: {device: GPU}", lambda c: c.models.device == "GPU"),
    ("models: {device: 'GPU.1'}", lambda c: c.models.device == "GPU.1"),
    ("auth: {enabled: false}", lambda c: c.auth.enabled is False),
    ("url_fetch: {allow: [192.168.1.0/24, cam.local]}", lambda c: c.url_fetch.allow == ["192.168.1.0/24", "cam.local"]),
    ("server: {max_body_mb: 5}", lambda c: c.server.max_body_mb == 5.0),
    ("server: {allowed_hosts: [edge.lan], max_connections: 64, idle_timeout_s: 5}",
     lambda c: c.server.allowed_hosts == ["edge.lan"] and c.server.max_connections == 64),
    ("server: {tls: {cert_file: a.crt, key_file: a.key}}", lambda c: c.server.tls.cert_file.name == "a.crt"),
    ("", lambda c: c.server.port == 8080 and c.models.max_shapes == 8),
    ("models: {shapes: minimal, max_shapes: 0}", lambda c: c.models.max_shapes == 0),
])
def test_good_config(tmp_path: Path, text: str, expected) -> None:
    assert expected(load_config(write(tmp_path, text)))


@pytest.mark.parametrize("text,fragments", [
    ("server: {port: abc}", ["server.port", "'abc'", "not an integer"]),
    ("server: {port: 70000}", ["server.port", "70000", "1-65535"]),
    ("server: {prot: 80}", ["server.prot", "unknown key", "port"]),
    ("serve: {port: 80}", ["unknown section 'serve'"]),
    ("models: {device: TPU}", ["models.device", "'TPU'", "CPU, GPU, NPU, AUTO"]),
    ("auth: {enabled: yes please}", ["auth.enabled", "true or false"]),
    ("server: {max_body_mb: -1}", ["server.max_body_mb", "-1", "above 0"]),
    ("url_fetch: {allow: cam.local}", ["url_fetch.allow", "not a list"]),
    ("server: [1, 2]", ["server", "expected a mapping"]),
    ("server: {port: 80", ["not valid YAML"]),
    ("- just a list", ["expected a mapping of sections"]),
    ("server: {tls: {cert_file: a.crt}}", ["server.tls", "both cert_file and key_file"]),
    ("models: {max_shapes: 65}", ["models.max_shapes", "65", "from 0 to 64"]),
    ("server: {max_connections: 2}", ["server.max_connections", "from 8"]),
    ("cameras: [{id: a, model: m, source: s, webhook: {url: 'ftp://u:pw@h/x'}}]",
     ["webhook.url", "'ftp://***@h/x'"]),  # a refused URL is shown redacted
    ("cameras: [{id: a, model: m, source: 'rtsp://u:pw@cam/s', fps: 100}]", ["cameras[0].fps", "at most 60"]),
])
def test_bad_config(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message or "YAML" in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
