"""A short run of ``bench/soak.py`` (the long one lives in bench/): saturation with good and bad
requests mixed, then twice saturation. Zero unexpected statuses, zero lost answers, RSS growth under
10 % after the warm-up; the overload figures go to build/figures."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from types import ModuleType

import pytest

from tests.support.figures import FIGURES_DIR
from tests.support.in_process import DATA, MODEL_SRC, needs_model

pytestmark = [needs_model, pytest.mark.shared_data]


def load_soak() -> ModuleType:
    path = FIGURES_DIR.parents[1] / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("bench_soak", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_short_soak() -> None:
    soak = load_soak()
    args = soak.argparse.Namespace(model=str(MODEL_SRC), images=str(DATA / "coco8" / "images" / "val"),
                                   duration=12.0, overload_duration=5.0, max_pending=4, bad_share=0.3, seed=3)
    report = asyncio.run(soak.run(args))
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / "soak_short.json").write_text(json.dumps(report))
    s, o = report["soak"], report["overload"]
    assert s["unexpected"] == {} and s["lost"] == {}, s
    assert s["answers"] == s["requests"] and s["statuses"].get("200", 0) > 0
    assert o["unexpected"] == {} and o["lost"] == {} and o["answers"] == o["requests"], o
    assert report["daemon_alive_after"]
    assert s["rss_growth_pct"] < 10.0, s
