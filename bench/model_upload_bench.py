"""Model upload to serving: ``PUT /v1/models/{id}`` of yolov8n next to the old way (copy the folder
into models.dir, SIGHUP, wait until /readyz lists it), alternating in one run on one daemon; then the
same model replaced under predict load, with the latency of the requests that overlapped a swap
against those that did not.

    python bench/model_upload_bench.py [--model DIR] [--rounds 5] [--clients 3] [--swaps 4]

Figures are medians; ratios are against the baseline of the same run (reload, and steady latency).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.bundles import ADMIN_KEY, pack_folder  # noqa: E402
from tests.support.daemon import Daemon, link_models, start_daemon  # noqa: E402
from tests.support.shared_data import shared_data_dir  # noqa: E402


def served(d: Daemon) -> list[str]:
    return requests.get(f"{d.base_url}/readyz", timeout=10).json()["models"]


def by_reload(d: Daemon, model: Path, models: Path, model_id: str) -> float:
    t0 = time.perf_counter()
    shutil.copytree(model, models / model_id)
    d.process.send_signal(signal.SIGHUP)
    while model_id not in served(d):
        time.sleep(0.01)
    return time.perf_counter() - t0


def by_put(d: Daemon, body: bytes, model_id: str) -> float:
    t0 = time.perf_counter()
    r = requests.put(f"{d.base_url}/v1/models/{model_id}", data=body, timeout=300,
                     headers={"x-api-key": ADMIN_KEY, "Content-Type": "application/gzip"})
    assert r.status_code == 200, r.text
    return time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def under_load(d: Daemon, body: bytes, image: bytes, clients: int, swaps: int) -> dict[str, float]:
    results: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            t0 = time.perf_counter()
            r = session.post(f"{d.base_url}/v1/predict/load", files={"image": ("i.jpg", image, "image/jpeg")},
                             headers={"x-api-key": d.api_key}, timeout=60)
            results.append((t0, time.perf_counter(), r.status_code))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    windows = []
    for _ in range(swaps):
        w0 = time.perf_counter()
        by_put(d, body, "load")
        windows.append((w0, time.perf_counter()))
        time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(60)
    overlap = [any(a <= e and s <= b for a, b in windows) for s, e, _ in results]
    during = [e - s for (s, e, _), o in zip(results, overlap) if o]
    steady = [e - s for (s, e, _), o in zip(results, overlap) if not o]
    return {"requests": len(results), "failed": sum(c != 200 for _, _, c in results), "during_swaps": len(during),
            "p50_during_ms": pct(during, 0.5), "p99_during_ms": pct(during, 0.99),
            "p50_steady_ms": pct(steady, 0.5), "p99_steady_ms": pct(steady, 0.99),
            "swap_s": statistics.median(b - a for a, b in windows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = shared_data_dir()
    parser.add_argument("--model", type=Path, default=data / "models" / "yolov8n_int8_openvino_model" if data else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--swaps", type=int, default=4)
    args = parser.parse_args()
    image = sorted((data / "coco8" / "images" / "val").glob("*.jpg"))[0].read_bytes() if data else b""
    body = pack_folder(args.model)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "admin_keys").write_text(ADMIN_KEY + "\n")
        models = link_models(tmp, {"load": args.model})
        d = start_daemon(tmp, models, extra={"auth": {"admin_keys_file": str(tmp / "admin_keys")}})
        try:
            reload_s, put_s = [], []
            for i in range(args.rounds):  # alternate so the machine's other load hits both alike
                reload_s.append(by_reload(d, args.model, models, f"reload-{i}"))
                put_s.append(by_put(d, body, f"put-{i}"))
                for model_id in (f"reload-{i}", f"put-{i}"):  # each round starts from the one model
                    requests.delete(f"{d.base_url}/v1/models/{model_id}", headers={"x-api-key": ADMIN_KEY}, timeout=60)
            load = under_load(d, body, image, args.clients, args.swaps)
        finally:
            d.stop()
    r, p = statistics.median(reload_s), statistics.median(put_s)
    print(f"model {args.model.name}, bundle {len(body) / 2**20:.1f} MB (tar.gz), {args.rounds} rounds")
    print(f"  copy + SIGHUP until listed: {r:.3f} s (baseline)")
    print(f"  PUT until answered:         {p:.3f} s  = {p / r:.2f}x the reload")
    print(f"replace under load ({args.clients} clients, {args.swaps} swaps of {load['swap_s']:.2f} s): "
          f"{load['requests']} requests, {load['failed']} failed, {load['during_swaps']} overlapped a swap")
    print(f"  p50 {load['p50_during_ms']:.0f} ms during vs {load['p50_steady_ms']:.0f} ms steady "
          f"({load['p50_during_ms'] / load['p50_steady_ms']:.2f}x); p99 {load['p99_during_ms']:.0f} vs "
          f"{load['p99_steady_ms']:.0f} ms ({load['p99_during_ms'] / load['p99_steady_ms']:.2f}x)")
    return 1 if load["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
