"""``DecodeLanes``: light images never wait; heavy ones take the one heavy lane in turn, a bounded
number may wait, the next is refused at once (503); the oldest decode's age is what the watchdog reads."""

from __future__ import annotations

import asyncio

import pytest

from edge.errors import Overloaded
from edge.inference.decode_lanes import DecodeLanes
from edge.inference.image_decode import ImageHeader, read_header
from tests.support.hostile import progressive_jpeg, scan_bomb

LIGHT = ImageHeader("jpeg", 1920, 1080, 1)
BIG = ImageHeader("png", 7000, 7000, 1)
MANY_SCANS = ImageHeader("jpeg", 640, 480, 40)


@pytest.mark.parametrize("header,heavy", [
    (LIGHT, False),
    (ImageHeader("jpeg", 3840, 2160, 10), False),  # 4K UHD, a standard progressive JPEG
    (ImageHeader("webp", 3841, 2160, 1), True),
    (BIG, True),
    (MANY_SCANS, True),
])
def test_heavy_is_size_or_scans(header: ImageHeader, heavy: bool) -> None:
    assert header.heavy is heavy


def test_header_counts_the_scans_of_real_files() -> None:
    assert read_header(progressive_jpeg(256), 10**8).scans == 10  # OpenCV's progressive JPEG
    assert read_header(scan_bomb(50, 256), 10**8).scans == 60


async def test_heavy_lane_runs_one_queues_two_refuses_the_next() -> None:
    lanes = DecodeLanes(heavy_at_once=1, heavy_waiting=2)
    release = asyncio.Event()
    order: list[str] = []

    async def decode(name: str, header: ImageHeader) -> str:
        async with lanes.lane(header):
            order.append(name)
            if header.heavy:
                await release.wait()
        return name

    heavy = [asyncio.create_task(decode(f"heavy{i}", h)) for i, h in enumerate((BIG, MANY_SCANS, BIG))]
    await asyncio.sleep(0.01)
    assert order == ["heavy0"] and lanes.waiting == 2
    with pytest.raises(Overloaded, match="busy decoding large images"):
        await decode("heavy3", BIG)
    assert await decode("light", LIGHT) == "light"  # does not wait behind the heavy lane
    assert order == ["heavy0", "light"]
    assert lanes.oldest_age() > 0
    release.set()
    assert await asyncio.gather(*heavy) == ["heavy0", "heavy1", "heavy2"]
    assert order == ["heavy0", "light", "heavy1", "heavy2"] and lanes.oldest_age() == 0.0
