"""Decode bombs in flight against a ``yolo-edge serve`` subprocess, and a good predict sent while they
are: how long the good predict waits, next to the same predict on an idle daemon in the same run, what
the bombs get back and when, and the daemon's peak RSS.

    python bench/decode_bomb_bench.py [--kind scan|png] [--bombs 2] [--repeats 1000] [--side 7000]

``scan``: OpenCV's own progressive JPEG of a flat ``side`` x ``side`` image with its last scan repeated
``repeats`` times (``tests.support.hostile.scan_bomb``). ``png``: a 16-bit PNG of ``side`` x ``side``
(``--kind png --bombs 16`` is the memory case). Prints one JSON report. To measure another build, put
its checkout first in ``PYTHONPATH``: the daemon subprocess inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.daemon import API_KEY, link_models, start_daemon  # noqa: E402
from tests.support.hostile import scan_bomb, sixteen_bit_png  # noqa: E402
from tests.support.in_process import MODEL_SRC, good_jpeg  # noqa: E402


async def predict(session: aiohttp.ClientSession, url: str, image: bytes) -> tuple[int, float]:
    data = aiohttp.FormData()
    data.add_field("image", image, filename="x.jpg", content_type="image/jpeg")
    t = time.perf_counter()
    async with session.post(url, data=data, headers={"x-api-key": API_KEY}) as resp:
        await resp.read()
        return resp.status, time.perf_counter() - t


async def run(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    url = f"{base_url}/v1/predict/m"
    good = good_jpeg()
    bomb = scan_bomb(args.repeats, args.side) if args.kind == "scan" else sixteen_bit_png(args.side)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for _ in range(2):
            await predict(session, url, good)
        idle = [(await predict(session, url, good))[1] for _ in range(args.good)]
        t0 = time.perf_counter()
        bombs = [asyncio.create_task(predict(session, url, bomb)) for _ in range(args.bombs)]
        await asyncio.sleep(1.0)  # the bombs are being decoded
        during: list[float] = []
        statuses: list[int] = []
        for _ in range(args.good):
            try:
                status, seconds = await asyncio.wait_for(predict(session, url, good), args.timeout)
            except TimeoutError:
                status, seconds = 0, args.timeout
            statuses.append(status)
            during.append(seconds)
        good_done = time.perf_counter() - t0
        results = await asyncio.gather(*bombs, return_exceptions=True)
    statuses_of_bombs = [r[0] for r in results if isinstance(r, tuple)]
    return {
        "kind": args.kind, "bomb_bytes": len(bomb), "repeats": args.repeats, "side": args.side,
        "good_idle_p50_s": round(statistics.median(idle), 4),
        "good_during_bombs_p50_s": round(statistics.median(during), 4),
        "good_during_bombs_max_s": round(max(during), 4),
        "good_ratio_p50": round(statistics.median(during) / statistics.median(idle), 2),
        "good_statuses": statuses, "good_all_done_after_s": round(good_done, 3),
        "bomb_statuses": {str(c): statuses_of_bombs.count(c) for c in sorted(set(statuses_of_bombs))},
        "bomb_seconds_max": round(max((r[1] for r in results if isinstance(r, tuple)), default=0), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("scan", "png"), default="scan")
    parser.add_argument("--bombs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--good", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(Path(tmp), link_models(Path(tmp), {"m": MODEL_SRC}))
        try:
            report = asyncio.run(run(daemon.base_url, args))
            report.update(daemon.rss_mb())
        finally:
            t = time.perf_counter()
            daemon.stop(timeout=120)
            report["stop_s"] = round(time.perf_counter() - t, 2)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
