"""The serving benchmark runs end to end in its quick mode and reports every figure it promises.

No timing is asserted: the harness prints figures, the test only checks that they are there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.shared_data import REPO, require_shared_data, ultralytics_asset

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

RUN_KEYS = {"concurrency", "throughput_rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "wrk_cpu_ms_per_request",
            "requests", "errors"}
ENGINE_KEYS = {"throughput_fps", "nireq", "streams", "cpu_ms_per_inference", "latency_p50_ms", "latency_p99_ms", "runs",
               "latency_fps"}
RATIO_KEYS = {"daemon_best_concurrency", "daemon_over_engine", "daemon_over_baseline",
              "daemon_c1_p50_minus_engine_latency_ms", "targets"}


def test_quick_run_writes_table_and_json(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: apt-get install wrk)")
    data = require_shared_data()
    model = data / "models" / "yolov8n_int8_openvino_model"
    coco = data / "coco128" / "images" / "train2017"
    if not model.is_dir() or not coco.is_dir():
        pytest.skip(f"{model} or {coco} is absent")
    ultralytics_asset("bus.jpg")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "serving_bench.py"), "--quick", "--model", str(model),
                           "--coco", str(coco), "--concurrency", "1,2", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    for label in ("engine throughput", "engine batch-1 latency", "daemon c=1", "daemon c=2", "baseline c=1",
                  "baseline c=2", "daemon/engine", "start to ready"):
        assert label in proc.stdout, proc.stdout
    result = json.loads(out.read_text())
    assert ENGINE_KEYS <= set(result["engine"])
    assert {"startup_cold_s", "startup_warm_s", "rss_mb", "rss_peak_mb", "runs"} <= set(result["daemon"])
    assert {"startup_s", "rss_mb", "runs"} <= set(result["baseline"])
    for server in ("daemon", "baseline"):
        runs = result[server]["runs"]
        assert [r["concurrency"] for r in runs] == [1, 2]
        assert all(RUN_KEYS <= set(r) for r in runs)
    assert all(r["errors"] == 0 for r in result["daemon"]["runs"])
    assert RATIO_KEYS <= set(result["ratios"])
