"""Fleet benchmark: two daemons behind nginx (``packaging/nginx/yolo-edge-fleet.conf``) against one daemon
asked directly, and one daemon behind the same nginx (the balancer's own cost), in one run.

    python bench/fleet_bench.py [--model DIR] [--duration 10] [--rounds 2] [--concurrency 8] [--json out.json]

Every daemon and nginx run on this one machine, on loopback; ``wrk`` posts bus.jpg (``assets/``) to
``/v1/predict/{id}``. The three set-ups take turns, round after round, so a change in the machine's other
load hits all alike; figures are the median over rounds. CPU ms per request is the servers' utime + stime
(all daemons; nginx's workers apart) over a run divided by the requests answered.

Read it right: the boxes of a real fleet are separate machines, each with its own cores. Here two daemons
share the same cores, so "two behind nginx" cannot be faster than one daemon: what this measures is what
the balancer costs (latency added per request, nginx CPU per request), not the speed-up of a second box.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.daemon import CLK_TCK, Daemon, ServerProcess, free_port, link_models, write_config  # noqa: E402
from tests.support.nginx import Nginx  # noqa: E402
from tests.support.predict_load import multipart  # noqa: E402
from tests.support.shared_data import shared_data_dir  # noqa: E402

MODEL_ID = "m"
BOUNDARY_FILE = "body_000.bin"


def start_box(work: Path, model: Path) -> Daemon:
    """Auth off (wrk sends no key); otherwise the defaults the nginx config is tied to."""
    work.mkdir(parents=True)
    port = free_port()
    config = write_config(work, link_models(work, {MODEL_ID: model}), port, {"auth": {"enabled": False}})
    return Daemon(config, port, work / "daemon.log")


def nginx_cpu_seconds(proxy: Nginx) -> float:
    """utime + stime of nginx's worker processes (children of the master)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == proxy.process.pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def run_wrk(url: str, concurrency: int, duration: float, bodies: Path, boundary: str) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(duration, 1):.0f}s", "--timeout", "30s",
            "-s", str(REPO / "bench" / "multipart.lua"), url, "--", str(bodies), "1", boundary]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    for line in out.splitlines():
        if line.startswith("JSON "):
            return dict(json.loads(line[5:]))
    raise RuntimeError(f"wrk printed no summary:\n{out}")


def measure(url: str, daemons: list[Daemon], proxy: Nginx | None, concurrency: int, duration: float,
            bodies: Path, boundary: str) -> dict[str, float]:
    cpu0 = sum(d.cpu_seconds() for d in daemons)
    ng0 = nginx_cpu_seconds(proxy) if proxy else 0.0
    client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w = run_wrk(url, concurrency, duration, bodies, boundary)
    client1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ok = max(w["requests"] - w["errors_status"], 1)
    return {"rps": w["requests"] / (w["duration_us"] / 1e6), "p50_ms": w["p50_us"] / 1000,
            "p99_ms": w["p99_us"] / 1000,
            "daemon_cpu_ms": (sum(d.cpu_seconds() for d in daemons) - cpu0) * 1000 / ok,
            "nginx_cpu_ms": ((nginx_cpu_seconds(proxy) - ng0) * 1000 / ok) if proxy else 0.0,
            "wrk_cpu_ms": ((client1.ru_utime + client1.ru_stime) - (client0.ru_utime + client0.ru_stime)) * 1000 / ok,
            "errors": sum(v for k, v in w.items() if k.startswith("errors_"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = shared_data_dir()
    default_model = data / "models" / "yolov8n_int8_openvino_model" if data else None
    parser.add_argument("--model", type=Path, default=default_model, help="an OpenVINO export folder")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8, help="wrk connections (at most 16: max_conns per box)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None or args.model is None or not (args.model / "metadata.yaml").is_file():
        print("needs wrk and nginx (bash scripts/install_system_deps.sh) and a model (--model DIR)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        work = Path(tmp)
        body, content_type = multipart((REPO / "assets" / "bus.jpg").read_bytes())
        (work / "bodies").mkdir()
        (work / "bodies" / BOUNDARY_FILE).write_bytes(body)
        boundary = content_type.split("boundary=")[1]
        boxes = [start_box(work / f"box{i}", args.model) for i in range(2)]
        servers: list[ServerProcess] = list(boxes)
        try:
            both = Nginx(work / "nginx2", [f"127.0.0.1:{b.port}" for b in boxes])
            servers.append(both)
            one = Nginx(work / "nginx1", [f"127.0.0.1:{boxes[0].port}"])
            servers.append(one)
            setups: dict[str, tuple[str, list[Daemon], Nginx | None]] = {
                "one daemon, direct": (boxes[0].base_url, [boxes[0]], None),
                "one daemon behind nginx": (one.base_url, [boxes[0]], one),
                "two daemons behind nginx": (both.base_url, boxes, both),
            }
            for url, _, _ in setups.values():  # warm every path (compiled shapes, keep-alive pools)
                run_wrk(f"{url}/v1/predict/{MODEL_ID}", args.concurrency, 2, work / "bodies", boundary)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
            for _ in range(args.rounds):
                for name, (url, daemons, proxy) in setups.items():
                    runs[name].append(measure(f"{url}/v1/predict/{MODEL_ID}", daemons, proxy, args.concurrency,
                                              args.duration, work / "bodies", boundary))
        finally:
            for server in reversed(servers):
                server.stop()

    figures = {name: {k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]} for name, rs in runs.items()}
    base = figures["one daemon, direct"]
    print(f"fleet bench: {args.model.name}, bus.jpg, wrk c={args.concurrency}, {args.duration:g} s x "
          f"{args.rounds} rounds, {os.cpu_count()} cores shared by every process here")
    print(f"{'':28}{'req/s':>8}{'x direct':>10}{'p50 ms':>9}{'p99 ms':>9}{'daemon CPU':>12}{'nginx CPU':>11}"
          f"{'errors':>8}")
    for name, f in figures.items():
        print(f"{name:28}{f['rps']:8.1f}{f['rps'] / base['rps']:10.2f}{f['p50_ms']:9.1f}{f['p99_ms']:9.1f}"
              f"{f['daemon_cpu_ms']:9.1f} ms{f['nginx_cpu_ms']:8.2f} ms{f['errors']:8.0f}")
    print("(CPU: ms per request answered. Two daemons here share the same cores: this is the balancer's cost, "
          "not a second box's speed-up.)")
    if args.json:
        args.json.write_text(json.dumps({"concurrency": args.concurrency, "duration_s": args.duration,
                                         "rounds": args.rounds, "figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
