"""A throwaway certificate authority made with the openssl CLI: a CA, a server certificate for
127.0.0.1 / localhost signed by it, a client certificate signed by it, and a second, unrelated CA
(the "wrong CA" a client may be given)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _run(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _key(path: Path) -> None:
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", str(path))


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _key(key)
    _run("req", "-x509", "-new", "-key", str(key), "-days", "2", "-subj", f"/CN={name}", "-out", str(cert),
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def _signed(folder: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    cert, key, csr, extfile = (folder / f"{name}.crt", folder / f"{name}.key", folder / f"{name}.csr",
                               folder / f"{name}.ext")
    _key(key)
    _run("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr))
    extfile.write_text(ext)
    _run("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
         "-days", "2", "-extfile", str(extfile), "-out", str(cert))
    return cert, key


def make_pki(folder: Path) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed (scripts/install_system_deps.sh)")
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca(folder, "test-ca")
    server = _signed(folder, "broker", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                           "extendedKeyUsage=serverAuth\n")
    client = _signed(folder, "edge-client", ca, "extendedKeyUsage=clientAuth\n")
    other, _ = _ca(folder, "other-ca")
    for path in folder.iterdir():
        path.chmod(0o644)  # mosquitto may drop to its own user before reading them
    return Pki(ca[0], server[0], server[1], client[0], client[1], other)
