"""The console's Cameras, Service and Models-report pages in real headless Chromium against a real daemon.

Each page is checked against an independent source: the camera's latest detections and events against
the daemon's own API answers and the JPEGs it saved, the Service figures against ``/metrics`` parsed by
prometheus_client's parser and the versions against the openvino package, the conversion report against
the report.json that yolo-edge-convert wrote. Charts are checked by their pixels."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import pytest
import requests

from edge import __version__
from tests.console.conftest import CAMERA, Console
from tests.support.daemon import Daemon
from tests.support.shared_data import REPO

pytestmark = [pytest.mark.browser, pytest.mark.shared_data]

BUS = REPO / "assets" / "bus.jpg"
OWN = {"/metrics", "/readyz", "/healthz", "/", "/console/{name}"}  # the Service page's own polling

# The colour at the centre of each bar a chart recorded (device pixels), and the bars.
BAR_COLOURS = """(id) => {
  const canvas = document.getElementById(id), bars = JSON.parse(canvas.dataset.bars || "[]");
  const ctx = canvas.getContext("2d");
  return bars.map(([x, y, w, h]) => ({rect: [x, y, w, h],
    rgb: Array.from(ctx.getImageData(x + Math.floor(w / 2), y + Math.floor(h / 2), 1, 1).data.slice(0, 3))}));
}"""
SERIES = [(0x0B, 0x6B, 0xCB), (0xF0, 0x8C, 0x00), (0x2F, 0x9E, 0x44), (0xC2, 0x25, 0x5C)]  # chart.js SERIES


def signed_in(console: Console, tab: str) -> Any:
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector("#model option", state="attached")
    page.click(f"[data-tab={tab}]")
    return page


def get(daemon: Daemon, path: str) -> Any:
    r = requests.get(daemon.base_url + path, headers={"x-api-key": daemon.api_key}, timeout=30)
    r.raise_for_status()
    return r.json()


def wait_until(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s")


def test_cameras_page(console: Console) -> None:
    page = signed_in(console, "cameras-tab")
    figure = f"#cameras figure[data-camera='{CAMERA}']"
    img = page.locator(f"{figure} img.live")
    img.wait_for(state="attached")
    width = wait_until(lambda: page.evaluate("(img) => img.naturalWidth", img.element_handle()), 60,
                       f"no frame of the stream shown; console: {console.messages}")
    assert width == 320  # the <img> decoded the MJPEG stream
    src = img.get_attribute("src") or ""
    assert src.startswith(f"/v1/cameras/{CAMERA}/stream.mjpg?token=") and console.daemon.api_key not in src

    # state, as /v1/cameras says it
    page.wait_for_selector(f"{figure} dl.state[data-connected=true]", timeout=30_000)
    state = dict(zip(page.eval_on_selector_all(f"{figure} dl.state dt", "e => e.map(x => x.textContent)"),
                     page.eval_on_selector_all(f"{figure} dl.state dd", "e => e.map(x => x.textContent)")))
    assert state["Connected"] == "yes" and state["Last error"] == "none"
    assert float(state["fps in"]) > 0 and re.fullmatch(r"\d+ read, \d+ inferred, \d+ dropped", state["Frames"])

    # latest detections: the API's answer for the same frame (the camera infers 2 frames a second)
    def same_frame() -> Any:
        shown_time = page.get_attribute(f"{figure} table.latest", "data-frame-time")
        rows = page.eval_on_selector_all(f"{figure} table.latest tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")
        answer = get(console.daemon, f"/v1/cameras/{CAMERA}/latest?decimals=1")
        return (rows, answer) if shown_time and float(shown_time) == answer["frame_time"] else None
    rows, answer = wait_until(same_frame, 60, "the page never showed the frame the API answers")
    def px(v: float) -> str:  # JavaScript's Math.round, not Python's round half to even
        return str(math.floor(v + 0.5))
    expected = [[d["name"], f"{d['confidence']:.2f}",
                 f"{px(d['box']['x1'])},{px(d['box']['y1'])} {px(d['box']['x2'])},{px(d['box']['y2'])}"]
                for d in answer["data"]]
    assert rows == expected and len(rows) >= 1

    # recent events: the API's newest, each with its saved frame loaded through a token
    page.wait_for_selector(f"{figure} ul.events li[data-event] img", timeout=60_000)
    shown = page.eval_on_selector_all(f"{figure} ul.events li[data-event]", "ls => ls.map(l => l.dataset.event)")
    listed = [e["id"] for e in get(console.daemon, f"/v1/cameras/{CAMERA}/events?limit=50")["data"]]
    assert shown == listed[listed.index(shown[0]):][:len(shown)]  # the newest first, none skipped
    thumbs = page.locator(f"{figure} ul.events img")
    wait_until(lambda: page.evaluate("(img) => img.complete && img.naturalWidth", thumbs.first.element_handle()), 30,
               "the event frame did not load")
    for i in range(thumbs.count()):
        src = thumbs.nth(i).get_attribute("src") or ""
        assert re.fullmatch(rf"/v1/cameras/{CAMERA}/events/{CAMERA}-[\d-]+\.jpg\?token=[\w.-]+", src), src
    assert page.evaluate("(img) => img.naturalWidth", thumbs.first.element_handle()) == 320
    assert console.csp_violations() == []
    page.click("[data-tab=try]")  # leaving the page closes the stream
    assert img.get_attribute("src") is None


def metric_families(daemon: Daemon) -> dict[str, Any]:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(daemon.base_url + "/metrics", timeout=10).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_service_page(console: Console) -> None:
    import openvino as ov

    for _ in range(3):  # predictions the page must count
        with BUS.open("rb") as f:
            requests.post(f"{console.daemon.base_url}/v1/predict/yolov8n", files={"image": f},
                          headers={"x-api-key": console.daemon.api_key}, timeout=60).raise_for_status()
    page = signed_in(console, "service")
    page.wait_for_selector("#health[data-state=ready]")
    page.wait_for_selector("#stages tbody tr[data-model=yolov8n]")
    page.wait_for_function("() => JSON.parse(document.getElementById('rate-chart').dataset.points || '[]').length >= 2",
                           timeout=20_000)  # two refreshes: a rate
    stages = page.eval_on_selector_all("#stages tbody tr", "rs => rs.map(r => [r.dataset.model, r.dataset.stage, "
                                       "r.dataset.count, r.cells[3].textContent])")
    total_shown = float(page.get_attribute("#rate-chart", "data-total") or "nan")
    families = metric_families(console.daemon)  # after the page's read; nothing but its own polling in between

    reference: dict[tuple[str, str], dict[str, float]] = {}
    for s in families["yolo_edge_stage_duration_seconds"].samples:
        key = (s.labels["model"], s.labels["stage"])
        reference.setdefault(key, {})[s.name.rsplit("_", 1)[1]] = s.value
    expected = [[m, st, str(int(v["count"])), f"{1000 * v['sum'] / v['count']:.2f}"]
                for (m, st), v in reference.items() if v["count"] > 0]
    assert sorted(stages) == sorted(expected) and any(r[0] == "yolov8n" and int(r[2]) >= 3 for r in stages)
    requests_total = sum(s.value for s in families["yolo_edge_requests"].samples
                         if s.name == "yolo_edge_requests_total" and s.labels["endpoint"] not in OWN)
    assert total_shown == requests_total > 0

    about = dict(page.eval_on_selector_all("#about tr", "rs => rs.map(r => [r.dataset.about, r.cells[1].textContent])"))
    device_name = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    assert about["yolo-edge"] == __version__ and about["OpenVINO"] == ov.get_version()
    assert about["Device"] == f"CPU ({device_name})"
    assert re.fullmatch(r"\d+ (s|min \d+ s|h \d+ min|d \d+ h)", about["Uptime"]), about["Uptime"]
    assert about["Cameras"] == f"{CAMERA}: connected"

    # the stage chart: one bar per model and stage with a mean > 0, each in its model's colour, in order
    bars = page.evaluate(BAR_COLOURS, "stage-chart")
    models = sorted({r[0] for r in stages})
    drawn = [(st, m) for st in ("decode", "preprocess", "inference", "postprocess") for m in models
             if any(r[:2] == [m, st] and float(r[3]) > 0 for r in stages)]
    assert len(bars) == len(drawn) >= 3
    for bar, (stage, model) in zip(bars, drawn):
        if bar["rect"][3] >= 3:  # a bar tall enough to have a centre
            assert tuple(bar["rgb"]) == SERIES[models.index(model) % len(SERIES)], (stage, model, bar)
    ready = json.loads(page.text_content("#ready") or "")
    assert ready["service"]["version"] == __version__
    assert console.csp_violations() == []


def test_models_page_shows_the_conversion_report(console: Console) -> None:
    folders = {p.name: p.resolve() for p in (console.daemon.config_path.parent / "models").iterdir()}
    if "classify" not in folders:
        pytest.skip("the classify bundle needs the conversion tool (torch, ultralytics, nncf)")
    report = json.loads((folders["classify"] / "report.json").read_text())  # as yolo-edge-convert wrote it
    page = signed_in(console, "models")
    page.wait_for_selector("#models-table tbody tr[data-model=classify] button.report")
    page.wait_for_selector("#models-table tbody tr[data-model=obb] button.report")
    for model_id, folder in folders.items():  # a Report button exactly where the bundle has a report.json
        has = page.locator(f"#models-table tbody tr[data-model='{model_id}'] button.report").count()
        assert has == (folder / "report.json").is_file(), model_id
    page.click("#models-table tbody tr[data-model=classify] button.report")
    page.wait_for_selector("#report:not([hidden])")
    cells = page.eval_on_selector_all("#report-tables table", "ts => ts.map(t => [...t.rows].map(r => [...r.cells].map(c => c.textContent)))")
    acc, speed = report["accuracy"], report["speed"]
    metrics = list(acc["fp32"])
    assert cells[1][0] == ["Accuracy", "FP32", "INT8", "drop (points)"]
    assert cells[1][1:1 + len(metrics)] == [[m, f"{100 * acc['fp32'][m]:.2f}", f"{100 * acc['result'][m]:.2f}",
                                             f"{100 * (acc['fp32'][m] - acc['result'][m]):.2f}"] for m in metrics]
    assert cells[2][1:] == [[name, f"{speed[k]['latency_ms']:.2f}", f"{speed[k]['latency_p90_ms']:.2f}",
                             f"{speed[k]['throughput_fps']:.2f}"] for k, name in (("fp32", "FP32"), ("result", "INT8"))]
    assert report["source"]["path"] in cells[0][0][1] and report["environment"]["openvino"] in cells[0][2][1]
    # the charts: FP32 and INT8 bars per metric, and of throughput; heights in proportion to the values
    accuracy = [(v, i) for m in metrics for i, v in enumerate((acc["fp32"][m], acc["result"][m])) if v > 0]
    for canvas, drawn in (("report-accuracy", accuracy),
                          ("report-speed", [(speed["fp32"]["throughput_fps"], 0), (speed["result"]["throughput_fps"], 1)])):
        bars = page.evaluate(BAR_COLOURS, canvas)
        values = [v for v, _ in drawn]
        assert len(bars) == len(values), (canvas, bars)
        assert [tuple(b["rgb"]) for b in bars] == [SERIES[i] for _, i in drawn]
        heights = [b["rect"][3] for b in bars]
        for h, v in zip(heights, values):
            assert abs(h / max(heights) - v / max(values)) < 0.03, (canvas, heights, values)

    page.click("#models-table tbody tr[data-model=obb] button.report")  # FP32: no accuracy, speed only
    page.wait_for_selector("#report-title:has-text('obb')")
    assert page.is_hidden("#report-accuracy") and page.is_visible("#report-speed")
    assert len(page.evaluate(BAR_COLOURS, "report-speed")) == 1
    assert console.csp_violations() == []
