"""Decode with a budget, through HTTP on an in-process daemon (real socket, real model): progressive-JPEG
scan bombs (OpenCV's own progressive JPEG, its last scan repeated 1,000 times) are refused from their
header, and while large images take the one heavy decode lane a good predict is still answered, before
them. Ordering and statuses are asserted; the times are printed (figures), never asserted."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from edge.http.app import create_app
from edge.http.app_keys import STATE
from tests.support.daemon import API_KEY
from tests.support.figures import FIGURES_DIR
from tests.support.hostile import scan_bomb
from tests.support.in_process import MODEL_ID, form, good_jpeg, make_config, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]
PREDICT = f"/v1/predict/{MODEL_ID}"


async def test_scan_bombs_refused_and_good_predict_answered_beside_heavy_decodes(aiohttp_client: Any,
                                                                                tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(make_config(tmp_path)))
    lanes = client.app[STATE].serving.predictor.lanes
    bomb = scan_bomb(1000, 7000)  # ~360 KB; decoding it would hold a worker for about a minute
    heavy = scan_bomb(60, 4000)  # 70 scans of 16 MP: allowed, but heavy (about 2 s each)
    finished: list[str] = []

    async def send(name: str, image: bytes) -> tuple[int, str, float]:
        t = time.perf_counter()
        resp = await client.post(PREDICT, data=form(image), headers={"x-api-key": API_KEY})
        body = await resp.json()
        finished.append(name)
        return resp.status, body["message"], time.perf_counter() - t

    idle = await send("idle", good_jpeg())
    assert idle[0] == 200
    heavies = [asyncio.create_task(send(f"heavy{i}", heavy)) for i in range(3)]
    bombs = [asyncio.create_task(send(f"bomb{i}", bomb)) for i in range(2)]
    for _ in range(1000):  # one heavy decoding, two waiting for the lane
        if lanes.oldest_age() > 0 and lanes.waiting == 2:
            break
        await asyncio.sleep(0.005)
    good = await send("good", good_jpeg())
    bomb_answers = await asyncio.gather(*bombs)
    heavy_answers = await asyncio.gather(*heavies)

    assert good[0] == 200, good
    for status, message, _ in bomb_answers:
        assert (status, message) == (400, "the JPEG has more than 100 scans; refused before decoding "
                                          "(a progressive JPEG has about 10)")
    assert [a[0] for a in heavy_answers] == [200, 200, 200]
    # Without the lane two heavy decodes would hold both workers and the third would queue before it.
    assert sum(finished.index("good") < finished.index(f"heavy{i}") for i in range(3)) >= 2, finished
    figures = {"good_idle_s": round(idle[2], 3), "good_beside_heavy_s": round(good[2], 3),
               "bombs_refused_after_s": [round(a[2], 3) for a in bomb_answers],
               "heavy_s": [round(a[2], 3) for a in heavy_answers], "order": finished}
    print("decode budget:", figures)
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "decode_budget.json").write_text(json.dumps(figures))
