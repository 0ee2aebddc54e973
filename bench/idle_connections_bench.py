"""Idle and half-open connections against a ``yolo-edge serve`` subprocess started under an open-file
limit of 1024: how long a good predict takes with them open, next to the same predict before them in
the same run, and how much the daemon logged.

    python bench/idle_connections_bench.py [--idle 2000] [--nofile 1024]

To measure another build, run this file from that checkout (the daemon runs from the script's repo).
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.daemon import API_KEY, ServerProcess, free_port, link_models, write_config  # noqa: E402
from tests.support.in_process import MODEL_SRC, good_jpeg  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--nofile", type=int, default=1024)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.idle + 200)), hard))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        config = write_config(tmp, link_models(tmp, {"m": MODEL_SRC}), port)
        daemon = ServerProcess("daemon", ["prlimit", f"--nofile={args.nofile}:{args.nofile}", sys.executable, "-m",
                                          "edge.cli", "serve", "--config", str(config)], port, tmp / "daemon.log")
        url, files = f"{daemon.base_url}/v1/predict/m", {"image": ("a.jpg", good_jpeg())}
        try:
            t = time.perf_counter()
            requests.post(url, files=files, headers={"x-api-key": API_KEY}, timeout=120).raise_for_status()
            alone = time.perf_counter() - t
            idle = []
            for i in range(args.idle):
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    break
                if i % 2:
                    sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                idle.append(sock)
            t = time.perf_counter()
            try:
                status = requests.post(url, files=files, headers={"x-api-key": API_KEY}, timeout=120).status_code
            except requests.RequestException as exc:
                status = repr(exc)[:80]
            beside = time.perf_counter() - t
            time.sleep(2)
            for sock in idle:
                sock.close()
        finally:
            daemon.stop()
        log = daemon.log()
    print(json.dumps({"idle": len(idle), "nofile": args.nofile, "good_alone_s": round(alone, 3),
                      "good_beside_idle_s": round(beside, 3), "good_status": status,
                      "ratio": round(beside / alone, 2), "log_lines": len(log.splitlines()), "log_bytes": len(log),
                      "accept_errors": log.count("out of system resource")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
