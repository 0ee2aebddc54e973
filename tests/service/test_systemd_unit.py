"""systemd/yolo-edge.service: `systemd-analyze verify` clean, `security --offline=yes` exposure <= 1.5,
and the sandbox choices checked against OpenVINO itself (what is denied still infers; what is left off
really breaks it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "yolo-edge.service"
EXEC = "/opt/yolo-edge/venv/bin/yolo-edge"
MAX_EXPOSURE = 1.5
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed (apt-get install systemd)")


def data_dir() -> Path:
    return Path(os.environ.get("YOLO_EDGE_TEST_DATA", REPO.parent / "shared" / "data"))


def directives() -> list[tuple[str, str]]:
    out = []
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.append((key, value))
    return out


@needs_analyze
def test_verify_is_clean(tmp_path: Path) -> None:
    # verify checks that ExecStart exists; stand the installed binary in, change nothing else.
    stub = tmp_path / "yolo-edge"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = tmp_path / "yolo-edge.service"
    unit.write_text(UNIT.read_text().replace(EXEC, str(stub)))
    done = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    output = (done.stdout + done.stderr).strip()
    print(f"systemd-analyze verify: rc={done.returncode} output={output!r}")
    assert done.returncode == 0 and output == "", output


@needs_analyze
def test_security_exposure_within_bound() -> None:
    done = subprocess.run([ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for yolo-edge\.service: (\d+\.\d)", done.stdout)
    assert match, done.stdout + done.stderr
    exposure = float(match.group(1))
    left = [line for line in done.stdout.splitlines() if line.startswith("✗")]
    print(f"exposure {exposure}; options not satisfied:\n" + "\n".join(left))
    assert exposure <= MAX_EXPOSURE, done.stdout


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("WatchdogSec", "30s"),
        ("Restart", "on-failure"),
        ("StartLimitBurst", "5"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("ConfigurationDirectory", "yolo-edge"),
        ("StateDirectory", "yolo-edge yolo-edge/models yolo-edge/snapshots"),
        ("CacheDirectory", "yolo-edge yolo-edge/openvino"),
        ("RuntimeDirectory", "yolo-edge"),
        ("LoadCredential", "api_keys:/etc/yolo-edge/api_keys"),
        ("DevicePolicy", "closed"),
        ("DeviceAllow", "char-drm rw"),
        ("DeviceAllow", "char-accel rw"),
        ("CapabilityBoundingSet", ""),
        ("User", "yolo-edge"),
        ("MemoryMax", "2G"),  # bounds what hostile uploads can take (the reason is in the unit)
        ("LimitNOFILE", "4096"),  # room for server.max_connections (1024) and the daemon's own files
    ],
)
def test_unit_declares(key: str, value: str) -> None:
    assert (key, value) in directives()


@pytest.mark.parametrize("key", ["MemoryDenyWriteExecute", "PrivateDevices", "PrivateNetwork", "SupplementaryGroups"])
def test_unit_leaves_off(key: str) -> None:
    """Each is explained in docs/systemd.md; SupplementaryGroups would fail start on hosts without 'render'."""
    assert key not in dict(directives())


def test_stop_timeout_leaves_room_for_the_drain() -> None:
    from edge.config.settings import load_config

    drain = load_config(REPO / "systemd" / "config.yaml").server.drain_timeout_s
    stop = dict(directives())["TimeoutStopSec"]
    assert stop.endswith("s") and float(stop[:-1]) >= drain + 10


_PROBE = r"""
import ctypes, glob, subprocess, sys
import numpy as np
mode, model, hint = sys.argv[1:4]
if mode == "resources":   # SystemCallFilter=~@resources with SystemCallErrorNumber=EPERM
    listing = subprocess.run(["systemd-analyze", "syscall-filter", "@resources"], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    names = [n.strip() for n in listing[1:] if n.strip() and not n.strip().startswith(("#", "@"))]
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    ctx = ctypes.c_void_p(lib.seccomp_init(ctypes.c_uint32(0x7FFF0000)))   # SCMP_ACT_ALLOW
    for name in names:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr >= 0:
            assert lib.seccomp_rule_add(ctx, ctypes.c_uint32(0x00050000 | 1), nr, 0) == 0   # ERRNO(EPERM)
    assert lib.seccomp_load(ctx) == 0
    import os
    try:
        os.sched_setaffinity(0, os.sched_getaffinity(0))
        sys.exit("filter not active")
    except PermissionError:
        pass
elif mode == "mdwe":      # MemoryDenyWriteExecute=yes (prctl PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:
        sys.exit(77)  # kernel < 6.3
import openvino as ov
core = ov.Core()
compiled = core.compile_model(glob.glob(model + "/*.xml")[0], "CPU", {"PERFORMANCE_HINT": hint})
x = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
out = compiled({0: x})[compiled.output(0)]
np.save(sys.argv[4], out)
"""


def _probe(mode: str, model: Path, hint: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROBE, mode, str(model), hint, str(out)],
                          capture_output=True, text=True, timeout=300)


@needs_analyze
@pytest.mark.parametrize("hint", ["LATENCY", "THROUGHPUT"])
def test_openvino_cpu_under_the_unit_syscall_filter(tmp_path: Path, hint: str) -> None:
    """With @resources denied (EPERM), OpenVINO CPU compiles and infers, bit-identical to unfiltered."""
    import numpy as np

    model = data_dir() / "models" / "yolov8n_int8_openvino_model"
    if not model.is_dir():
        pytest.skip(f"no real model at {model} (set YOLO_EDGE_TEST_DATA)")
    if not any(Path(p).exists() for p in ("/lib/x86_64-linux-gnu/libseccomp.so.2", "/usr/lib/x86_64-linux-gnu/libseccomp.so.2",
                                          "/lib/aarch64-linux-gnu/libseccomp.so.2", "/usr/lib/libseccomp.so.2")):
        pytest.skip("libseccomp2 not installed")
    free, filtered = _probe("none", model, hint, tmp_path / "a.npy"), _probe("resources", model, hint, tmp_path / "b.npy")
    assert free.returncode == 0, free.stderr
    assert filtered.returncode == 0, filtered.stderr
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_memory_deny_write_execute_breaks_openvino_cpu(tmp_path: Path) -> None:
    """Why MemoryDenyWriteExecute= is off: the CPU plugin JIT-compiles its kernels (oneDNN/xbyak)."""
    model = data_dir() / "models" / "yolov8n_int8_openvino_model"
    if not model.is_dir():
        pytest.skip(f"no real model at {model} (set YOLO_EDGE_TEST_DATA)")
    done = _probe("mdwe", model, "LATENCY", tmp_path / "c.npy")
    if done.returncode == 77:
        pytest.skip("kernel has no PR_SET_MDWE (< 6.3)")
    assert done.returncode != 0 and "protect" in done.stderr, done.stderr
