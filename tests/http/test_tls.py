"""HTTPS: a self-signed certificate made here with the openssl CLI, the daemon serving the HUB route
over it (checked by ``requests`` against that certificate), plain HTTP refused on the TLS port, a
renewed certificate served to new connections after SIGHUP, the systemd credentials as the source,
and a broken pair failing the start with a clear message."""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.cameras import wait_for
from tests.support.daemon import API_KEY, Daemon, free_port, link_models, start_daemon, write_config
from tests.support.in_process import MODEL_ID, MODEL_SRC, good_jpeg, needs_model

pytestmark = [needs_model, pytest.mark.shared_data,
              pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")]


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (common name ``name``) and its key."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


def served_cert(port: int) -> bytes:
    """The DER certificate a new TLS connection to ``port`` gets."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_hub_predict_over_https_and_a_renewed_certificate_on_sighup(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls", "edge-one")
    trust = ssl.create_default_context(cafile=str(cert))
    daemon = start_daemon(tmp_path, link_models(tmp_path, {MODEL_ID: MODEL_SRC}),
                          extra={"server": {"tls": {"cert_file": str(cert), "key_file": str(key)}}}, tls=trust)
    try:
        assert daemon.base_url.startswith("https://")
        resp = requests.post(f"{daemon.base_url}/v1/predict/{MODEL_ID}", files={"image": ("a.jpg", good_jpeg())},
                             headers={"x-api-key": API_KEY}, verify=str(cert), timeout=60)
        assert resp.status_code == 200 and resp.json()["success"], resp.text
        with pytest.raises(requests.ConnectionError):  # plain HTTP on the TLS port gets no answer
            requests.get(f"http://127.0.0.1:{daemon.port}/healthz", timeout=10)
        assert served_cert(daemon.port) == der(cert)

        renewed, renewed_key = self_signed(tmp_path / "renewed", "edge-two")
        shutil.copyfile(renewed, cert)
        shutil.copyfile(renewed_key, key)
        daemon.process.send_signal(signal.SIGHUP)
        wait_for(lambda: served_cert(daemon.port) == der(renewed), 120, "the renewed certificate was not served")
        resp = requests.get(f"{daemon.base_url}/v1/models", headers={"x-api-key": API_KEY}, verify=str(renewed),
                            timeout=30)
        assert resp.status_code == 200
    finally:
        daemon.stop()
    assert "TLS certificate loaded from" in daemon.log()


def test_systemd_credentials_are_the_certificate_when_config_names_none(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    cert, key = self_signed(creds, "edge-cred")
    cert.rename(creds / "tls_cert")
    key.rename(creds / "tls_key")
    trust = ssl.create_default_context(cafile=str(creds / "tls_cert"))
    daemon = start_daemon(tmp_path, link_models(tmp_path, {MODEL_ID: MODEL_SRC}),
                          env={"CREDENTIALS_DIRECTORY": str(creds)}, tls=trust)
    try:
        assert served_cert(daemon.port) == der(creds / "tls_cert")
    finally:
        daemon.stop()


def test_a_key_that_does_not_match_fails_the_start(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path / "a", "edge-a")
    _, other_key = self_signed(tmp_path / "b", "edge-b")
    port = free_port()
    config = write_config(tmp_path, link_models(tmp_path, {MODEL_ID: MODEL_SRC}), port,
                          {"server": {"tls": {"cert_file": str(cert), "key_file": str(other_key)}}})
    with pytest.raises(RuntimeError, match="server.tls: .* are not a PEM certificate and its key"):
        Daemon(config, port, tmp_path / "daemon.log", timeout=60)
