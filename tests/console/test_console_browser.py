"""The web console in real headless Chromium against a real daemon: sign in (a wrong key shows the
daemon's 401 message), predict on bus.jpg through the file input with each task's model, and check
that the JSON shown is what the HUB API answers for the same request, that the canvas has drawn over
every box (and masks, keypoints), that the time per stage is shown, that the curl command names the model URL and the fields, that a
hostile class name stays text, that every page fits a phone's width, and that the browser logged no
CSP violation. The Cameras, Service and report pages: test_console_pages.py; classify and OBB drawings:
test_console_tasks.py."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.console.conftest import HOSTILE, IMAGE_HOST, Console, served
from tests.support.shared_data import REPO

pytestmark = [pytest.mark.browser, pytest.mark.shared_data]

BUS = REPO / "assets" / "bus.jpg"
FIELDS = {"size": "640", "confidence": "0.25", "iou": "0.45"}

# Per item: how many pixels of the canvas differ from the bare image inside its box (a 3 px margin),
# inside its polygon's bounding box at its centre, and at each visible keypoint.
CHANGED = """async (items) => {
  const file = document.getElementById("file").files[0];
  const bitmap = await createImageBitmap(file);
  const canvas = document.getElementById("canvas");
  const bare = new OffscreenCanvas(canvas.width, canvas.height).getContext("2d");
  bare.drawImage(bitmap, 0, 0);
  const drawn = canvas.getContext("2d");
  const changed = (x1, y1, x2, y2) => {
    x1 = Math.max(0, Math.floor(x1)); y1 = Math.max(0, Math.floor(y1));
    x2 = Math.min(canvas.width, Math.ceil(x2)); y2 = Math.min(canvas.height, Math.ceil(y2));
    if (x2 <= x1 || y2 <= y1) return 0;
    const a = drawn.getImageData(x1, y1, x2 - x1, y2 - y1).data, b = bare.getImageData(x1, y1, x2 - x1, y2 - y1).data;
    let n = 0;
    for (let i = 0; i < a.length; i += 4) if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 24) n++;
    return n;
  };
  return {width: canvas.width, height: canvas.height, items: items.map((it) => ({
    box: changed(it.box.x1 - 3, it.box.y1 - 3, it.box.x2 + 3, it.box.y2 + 3),
    boxArea: (it.box.x2 - it.box.x1 + 6) * (it.box.y2 - it.box.y1 + 6),
    keypoints: it.keypoints ? it.keypoints.x.map((x, i) =>
      (it.keypoints.visible[i] >= 0.5 ? changed(x - 2, it.keypoints.y[i] - 2, x + 3, it.keypoints.y[i] + 3) : -1)) : [],
  }))};
}"""


def api_answer(console: Console, model: str, size: int = 640) -> dict[str, Any]:
    """The HUB API's answer on bus.jpg with the console's default fields (``size``: the model's own)."""
    with BUS.open("rb") as f:
        r = requests.post(f"{console.daemon.base_url}/v1/predict/{model}", headers={"x-api-key": console.daemon.api_key},
                          data={**FIELDS, "size": str(size)}, files={"image": ("bus.jpg", f, "image/jpeg")}, timeout=60)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def predict_in_browser(console: Console, model: str) -> dict[str, Any]:
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector(f"#model option[value='{model}']", state="attached")
    page.select_option("#model", model)
    page.set_input_files("#file", str(BUS))
    page.click("#predict")
    page.wait_for_selector("#predict-status[data-state=done]", timeout=60_000)
    return json.loads(page.text_content("#json") or "")  # type: ignore[no-any-return]


@pytest.mark.parametrize("key,shown", [
    ("wrong-key", "the API key is not valid for this device"),
    (" ", "missing API key"),  # blank after trimming: the daemon's own words
])
def test_wrong_key_shows_the_401_message(console: Console, key: str, shown: str) -> None:
    console.sign_in(key)
    console.page.wait_for_selector("#signin-error:not(:empty)")
    message = console.page.text_content("#signin-error") or ""
    assert "refused" in message and "401" in console.page.text_content("#signin-error") and shown in message
    assert console.page.is_hidden("#try") and console.page.evaluate("sessionStorage.length") == 0


def test_sign_in_keeps_the_key_for_the_session(console: Console) -> None:
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector("#model option", state="attached")
    options = page.eval_on_selector_all("#model option", "os => os.map(o => o.value)")
    assert sorted(options) == served(console.daemon)
    assert page.input_value("#model") == options[0]  # the first one preselected
    page.reload()  # the same tab: no second sign-in
    page.wait_for_selector("#model option", state="attached")
    assert page.is_visible("#try") and page.is_hidden("#signin")
    assert console.daemon.base_url + "/" == page.url and console.daemon.api_key not in page.url
    assert console.csp_violations() == []


@pytest.mark.parametrize("model,task", [("yolov8n", "detect"), ("yolo11n-seg", "segment"),
                                        ("yolov8n-pose", "pose")])
def test_predict_draws_what_the_api_answers(console: Console, model: str, task: str) -> None:
    shown = predict_in_browser(console, model)
    expected = api_answer(console, model)
    assert len(shown["data"]) == len(expected["data"]) >= 3
    assert [d["name"] for d in shown["data"]] == [d["name"] for d in expected["data"]]
    assert shown == expected
    drawn = console.page.evaluate(CHANGED, shown["data"])
    assert (drawn["width"], drawn["height"]) == (810, 1080)  # bus.jpg at its own size
    for item, pixels in zip(shown["data"], drawn["items"]):
        perimeter = 2 * (item["box"]["x2"] - item["box"]["x1"] + item["box"]["y2"] - item["box"]["y1"])
        assert pixels["box"] > perimeter, f"{item['name']}: box outline not drawn ({pixels})"
        if task == "segment" and len(item["segments"]["x"]) > 2:
            assert pixels["box"] > 0.15 * pixels["boxArea"], f"{item['name']}: mask not filled ({pixels})"
        if task == "pose":
            visible = [n for n in pixels["keypoints"] if n >= 0]
            assert visible and all(n > 0 for n in visible), f"keypoints not drawn: {pixels['keypoints']}"
    curl = console.page.text_content("#curl") or ""
    assert f'"{console.daemon.base_url}/v1/predict/{model}"' in curl and '-F "image=@bus.jpg"' in curl
    for name, value in FIELDS.items():
        assert f'-F "{name}={value}"' in curl
    assert console.daemon.api_key not in curl and "$YOLO_EDGE_KEY" in curl
    timings = console.page.text_content("#timings") or ""  # from the Server-Timing header
    for stage in ("decode", "preprocess", "inference", "postprocess", "round trip"):
        assert re.search(rf"{stage} \d+(\.\d)? ms", timings), timings
    assert console.csp_violations() == []
    screenshot = os.environ.get("CONSOLE_SCREENSHOT")  # the README's image: CONSOLE_SCREENSHOT=docs/images/console.jpg
    if screenshot and task == "detect":
        console.page.screenshot(path=str(Path(screenshot)), type="jpeg", quality=70, full_page=True)


def test_hostile_class_names_stay_text(console: Console) -> None:
    page = console.page
    shown = predict_in_browser(console, "hostile")
    assert {d["name"] for d in shown["data"]} >= set(HOSTILE.values())  # persons and the bus, renamed
    page.click("[data-tab=models]")
    page.wait_for_selector("#models-table tbody tr")
    row = page.inner_text("#models-table tbody tr:has(td:text-is('hostile'))")
    assert HOSTILE[0] in row
    assert page.locator("img").count() == 0  # no element was made from a name (the canvas draws text)
    assert not [m for m in console.messages if m.startswith("dialog")], console.messages  # no alert() ran
    assert console.csp_violations() == []


def test_webcam_capture_is_predicted(console: Console) -> None:
    """Chromium's fake webcam (a test pattern): open it, capture a frame, predict on it."""
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector("#model option", state="attached")
    page.click("#webcam")
    page.wait_for_selector("#webcam-capture", state="visible")
    deadline = time.monotonic() + 20
    width = 0
    while time.monotonic() < deadline and not width:
        width = page.evaluate("() => document.getElementById('webcam-view').videoWidth")
        time.sleep(0.1)
    assert width > 0, console.messages
    page.click("#webcam-capture")
    page.wait_for_selector("#file-name:text-is('webcam.jpg')")  # the JPEG is encoded asynchronously (toBlob)
    assert page.is_hidden("#webcam-view")
    page.click("#predict")
    page.wait_for_selector("#predict-status[data-state=done]", timeout=60_000)
    assert json.loads(page.text_content("#json") or "")["success"] is True
    assert page.evaluate("() => document.getElementById('canvas').width") == width
    assert '-F "image=@webcam.jpg"' in (page.text_content("#curl") or "")
    assert console.csp_violations() == []


def test_usable_on_a_phone(console: Console) -> None:
    """A phone-sized viewport: nothing wider than the screen, the result below the controls."""
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    shown = predict_in_browser(console, "yolov8n")
    assert shown["success"] is True
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    canvas = page.locator("#canvas").bounding_box()
    answer = page.locator(".result .side").bounding_box()
    assert canvas and answer and 300 < canvas["width"] <= 390  # the image takes the screen's width
    assert answer["y"] >= canvas["y"] + canvas["height"] - 1  # the JSON below it, not squeezed beside
    for tab, shown_when in (("models", "#models-table tbody tr"), ("cameras-tab", "#cameras dl.state dt"),
                            ("service", "#routes tbody tr")):  # the other pages fit the screen too
        page.click(f"[data-tab={tab}]")
        page.wait_for_selector(shown_when)
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390, tab


def test_predict_without_an_image_says_so(console: Console) -> None:
    console.sign_in(console.daemon.api_key)
    console.page.wait_for_selector("#model option", state="attached")
    console.page.click("#predict")
    console.page.wait_for_selector("#predict-status[data-state=error]")
    assert "Choose an image" in (console.page.text_content("#predict-status") or "")


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """bus.jpg served over HTTP from IMAGE_HOST (another origin than the console's): the base URL."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(BUS.parent))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer((IMAGE_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{IMAGE_HOST}:{server.server_address[1]}"
    server.shutdown()


def test_an_image_url_is_fetched_by_the_device_and_not_shown(console: Console, image_server: str) -> None:
    """The device fetches the URL; the page, which loads images only from the device (CSP), draws the
    boxes on a blank frame and says why, with no CSP violation and no element pointing at the URL."""
    url = f"{image_server}/bus.jpg"
    page = console.page
    console.sign_in(console.daemon.api_key)
    page.wait_for_selector("#model option[value='yolov8n']", state="attached")
    page.select_option("#model", "yolov8n")
    page.fill("#url", url)
    page.click("#predict")
    page.wait_for_selector("#predict-status[data-state=done]", timeout=60_000)
    shown = json.loads(page.text_content("#json") or "")
    r = requests.post(f"{console.daemon.base_url}/v1/predict/yolov8n", headers={"x-api-key": console.daemon.api_key},
                      data={**FIELDS, "url": url}, timeout=60)
    assert shown == r.json() and len(shown["data"]) >= 3
    assert "blank frame" in (page.text_content("#predict-status") or "")
    assert f'-F "url={url}"' in (page.text_content("#curl") or "")
    # the boxes are drawn: the blank frame (#222) changed along each box's top edge
    blank_changed = page.evaluate("""(items) => {
      const ctx = document.getElementById("canvas").getContext("2d");
      return items.map(({box}) => {
        const d = ctx.getImageData(Math.round((box.x1 + box.x2) / 2), Math.max(0, Math.round(box.y1) - 1), 1, 3).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] !== 0x22 || d[i + 1] !== 0x22 || d[i + 2] !== 0x22) n++;
        return n;
      });
    }""", shown["data"])
    assert all(n > 0 for n in blank_changed), blank_changed
    assert page.locator(f"[src*='{IMAGE_HOST}']").count() == 0
    assert console.csp_violations() == []
