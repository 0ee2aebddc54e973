"""Soak and overload on loopback: a ``yolo-edge serve`` subprocess driven at saturation with good and bad
requests mixed, then at twice saturation.

    python bench/soak.py [--duration 240] [--overload-duration 30] [--max-pending 8] [--json out.json]

1. soak: ``max_pending`` clients (the device exactly full) for ``--duration`` seconds; a share of the
   requests are bad (empty, truncated, GIF, bomb header, NaN field, missing image, wrong key, unknown
   model). Every answer must carry the status its kind expects (503 is allowed wherever admission
   comes first); nothing may be lost (a connection error or a timeout is lost). RSS (``VmRSS`` of the
   daemon) is taken after the warm-up and at the end: growth must stay under 10 %.
2. overload: ``2 x max_pending`` clients sending only good requests for ``--overload-duration``:
   answers per second, 200s per second and the share of 503s (answered at once, with Retry-After).

Prints a JSON report; exit status 1 when the soak's criteria fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.daemon import API_KEY, link_models, start_daemon  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("YOLO_EDGE_TEST_DATA", REPO.parent / "shared" / "data"))
DEFAULT_MODEL = DEFAULT_DATA / "models" / "yolov8n_int8_openvino_model"
DEFAULT_IMAGES = DEFAULT_DATA / "coco128" / "images" / "train2017"
MODEL_ID = "soak"
ADMITTED = 503  # allowed for every kind that passes the key and model checks


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Kind:
    """One sort of request: what to send and which statuses are right."""

    name: str
    image: bytes | None
    fields: tuple[tuple[str, str], ...] = ()
    key: str = API_KEY
    model: str = MODEL_ID
    expect: frozenset[int] = frozenset({200, ADMITTED})


def kinds(jpegs: list[bytes]) -> tuple[list[Kind], list[Kind]]:
    good = [Kind(f"good{i}", j) for i, j in enumerate(jpegs)]
    bad = [
        Kind("empty", b"", expect=frozenset({400, ADMITTED})),
        Kind("truncated", jpegs[0][: len(jpegs[0]) // 2], expect=frozenset({400, ADMITTED})),
        Kind("gif", b"GIF89a" + b"\0" * 32, expect=frozenset({415, ADMITTED})),
        Kind("bomb", png_claiming(60000, 60000), expect=frozenset({413, ADMITTED})),
        Kind("nan", jpegs[0], (("confidence", "nan"),), expect=frozenset({400, ADMITTED})),
        Kind("no-image", None, (("size", "640"),), expect=frozenset({400, ADMITTED})),
        Kind("wrong-key", jpegs[0], key="wrong", expect=frozenset({401})),
        Kind("unknown-model", jpegs[0], model="nope", expect=frozenset({404})),
    ]
    return good, bad


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.sent, "answers": sum(self.statuses.values()),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "unexpected": dict(self.unexpected), "lost": dict(self.lost)}


async def send(session: aiohttp.ClientSession, base: str, kind: Kind, tally: Tally) -> None:
    form = aiohttp.FormData()
    if kind.image is not None:
        form.add_field("image", kind.image, filename="image.jpg", content_type="image/jpeg")
    for name, value in kind.fields:
        form.add_field(name, value)
    tally.sent += 1
    tally.by_kind[kind.name] += 1
    try:
        async with session.post(f"{base}/v1/predict/{kind.model}", data=form, headers={"x-api-key": kind.key}) as r:
            body = await r.read()
            tally.statuses[r.status] += 1
            ok = r.status in kind.expect and body[:1] == b"{"
            if r.status == 503 and "Retry-After" not in r.headers:
                ok = False
            if not ok:
                tally.unexpected[f"{kind.name}:{r.status}"] += 1
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        tally.lost[f"{kind.name}:{type(exc).__name__}"] += 1


async def drive(base: str, kinds_: list[Kind], bad: list[Kind], bad_share: float, concurrency: int,
                duration: float, seed: int) -> tuple[Tally, float]:
    tally = Tally()
    rng = random.Random(seed)
    deadline = time.monotonic() + duration
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        async def client() -> None:
            while time.monotonic() < deadline:
                pool = bad if bad and rng.random() < bad_share else kinds_
                await send(session, base, rng.choice(pool), tally)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return tally, elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    jpegs = [p.read_bytes() for p in sorted(Path(args.images).glob("*.jpg"))[:8]]
    if not jpegs:
        raise SystemExit(f"no JPEGs in {args.images}")
    good, bad = kinds(jpegs)
    with tempfile.TemporaryDirectory(prefix="yolo-edge-soak-") as tmp:
        work = Path(tmp)
        daemon = await asyncio.to_thread(start_daemon, work, link_models(work, {MODEL_ID: Path(args.model)}),
                                         {"server": {"max_pending": args.max_pending}}, timeout=180)
        try:
            warm = max(5.0, args.duration * 0.1)
            await drive(daemon.base_url, good, bad, args.bad_share, args.max_pending, warm, args.seed)
            rss_start = daemon.rss_mb()["rss_mb"]
            soak, soak_s = await drive(daemon.base_url, good, bad, args.bad_share, args.max_pending, args.duration,
                                       args.seed + 1)
            rss_end = daemon.rss_mb()["rss_mb"]
            over, over_s = await drive(daemon.base_url, good, [], 0.0, 2 * args.max_pending, args.overload_duration,
                                       args.seed + 2)
            alive = daemon.process.poll() is None
        finally:
            daemon.stop()
    answers = sum(over.statuses.values())
    report = {
        "max_pending": args.max_pending,
        "soak": {"seconds": round(soak_s, 1), "concurrency": args.max_pending, "bad_share": args.bad_share,
                 **soak.as_dict(), "answers_per_s": round(sum(soak.statuses.values()) / soak_s, 2),
                 "rss_mib_start": rss_start, "rss_mib_end": rss_end,
                 "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 2)},
        "overload": {"seconds": round(over_s, 1), "concurrency": 2 * args.max_pending, **over.as_dict(),
                     "answers_per_s": round(answers / over_s, 2),
                     "ok_per_s": round(over.statuses[200] / over_s, 2),
                     "share_503": round(over.statuses[503] / answers, 4) if answers else None},
        "daemon_alive_after": alive,
    }
    s = report["soak"]
    report["passed"] = (alive and not s["unexpected"] and not s["lost"] and not report["overload"]["unexpected"]
                        and not report["overload"]["lost"] and s["rss_growth_pct"] < 10.0)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--images", default=str(DEFAULT_IMAGES))
    parser.add_argument("--duration", type=float, default=240.0, help="soak seconds (after a warm-up)")
    parser.add_argument("--overload-duration", type=float, default=30.0)
    parser.add_argument("--max-pending", type=int, default=8)
    parser.add_argument("--bad-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
