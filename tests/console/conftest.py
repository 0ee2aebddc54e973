"""A real daemon serving the real yolov8n, yolo11n-seg and yolov8n-pose INT8 exports (and yolov8n again
under hostile class names), a classify, an OBB, a semantic and a depth model that ``yolo-edge-convert`` makes here
from Ultralytics yamls (seeded random weights, so with real conversion reports), and one camera reading a video
file (coco128 photos) at 2 fps that raises events for persons and keeps their frames; and a real headless
Chromium driven by Playwright, the daemon per session, the browser per module.

Chromium is Debian's package (scripts/install_system_deps.sh); the tests never run ``playwright
install``. The browser is closed, and the daemon stopped, when the module ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.bundles import ADMIN_KEY
from tests.support.cameras import coco128_images, write_video
from tests.support.daemon import Daemon, link_models, start_daemon

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FAKE_WEBCAM = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a test pattern, allowed
CAMERA = "door"
IMAGE_HOST = "127.0.0.2"  # another origin than the console's 127.0.0.1, as a camera's snapshot URL would be
SHARED_MODELS = ["hostile", "yolo11n-seg", "yolov8n", "yolov8n-pose"]
# Built by yolo-edge-convert (about 40 s on 2 cores): (model id, yaml, precision, size). The classify one is
# INT8, so its report has accuracy and speed; OBB stays FP32 (its INT8 agreement check costs a minute).
# The classify model has 5 classes (not ImageNet's 1000), so its random confidences are far from 0.001
# and its top-k bars have lengths to measure.
TASK_MODELS = [("classify", "yolo11n-cls.yaml", "int8", 96), ("obb", "yolo11n-obb.yaml", "fp32", 160),
               ("semantic", "yolo26n-sem.yaml", "fp32", 160), ("depth", "yolo26n-depth.yaml", "fp32", 160)]
CLASSIFY_CLASSES = 5
HOSTILE = {0: "<img src=x onerror=alert(1)>", 5: "bus</script><script>alert(2)</script>"}


def hostile_model(tmp: Path, source: Path) -> Path:
    """``source`` (a detect export) with class names that are HTML: the same weights, a new metadata.yaml."""
    folder = tmp / "hostile-export"
    folder.mkdir()
    for f in source.iterdir():
        if f.suffix in (".xml", ".bin"):
            (folder / f.name).symlink_to(f.resolve())
    meta = yaml.safe_load((source / "metadata.yaml").read_text())
    meta["names"] = {**{int(k): v for k, v in meta["names"].items()}, **HOSTILE}
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return folder


def task_models(tmp: Path) -> dict[str, Path]:
    """TASK_MODELS as bundles with report.json; none without the conversion tool's packages (torch,
    ultralytics, nncf): the tests that need them then skip."""
    try:
        import nncf  # noqa: F401

        from tests.support.conversion import convert, images_folder, yaml_checkpoint
    except ImportError:
        return {}
    images = images_folder(tmp / "images", 8)
    out = {}
    for model_id, cfg, precision, size in TASK_MODELS:
        if "-cls" in cfg:
            cfg = str(few_classes(tmp, cfg, CLASSIFY_CLASSES))
        code = convert(yaml_checkpoint(tmp, cfg, spread=True), "--precision", precision, "--out", tmp / "bundles",
                       "--id", model_id, "--data", images, "--imgsz", str(size), "--max-drop", "100",
                       "--bench-seconds", "1", "--no-accuracy-control")
        assert code == 0, f"yolo-edge-convert {cfg} failed ({code})"
        out[model_id] = tmp / "bundles" / model_id
    return out


def few_classes(tmp: Path, cfg: str, classes: int) -> Path:
    """Ultralytics' model yaml ``cfg`` with ``nc: classes``, under the same name (it names the scale)."""
    from ultralytics.nn.tasks import yaml_model_load

    spec = {k: v for k, v in yaml_model_load(cfg).items() if k != "yaml_file"}  # finds yolo11-cls.yaml, scale n
    spec["nc"] = classes
    out = tmp / "cfg" / cfg
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def served(daemon: Daemon) -> list[str]:
    """The model ids the console daemon serves, sorted."""
    return sorted(p.name for p in (daemon.config_path.parent / "models").iterdir())


@pytest.fixture(scope="session")
def console_daemon(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("console-daemon")
    models = shared_data / "models"
    video = write_video(tmp / "door.mp4", coco128_images({0}, limit=3), size=(320, 240), fps=5, repeat=5)
    camera = {"id": CAMERA, "source": str(video), "model": "yolov8n", "fps": 2,
              "events": {"classes": ["person"], "min_confidence": 0.3, "cooldown_s": 2},
              "snapshots": {"dir": str(tmp / "snapshots"), "max_count": 20}}
    (tmp / "admin_keys").write_text(ADMIN_KEY + "\n")  # model management on (the Models page)
    extra = {"cameras": [camera], "auth": {"admin_keys_file": str(tmp / "admin_keys")},
             "url_fetch": {"allow": [IMAGE_HOST]}}  # the "image URL" field: a server on another loopback address
    daemon = start_daemon(tmp, extra=extra,
                          models_dir=link_models(tmp, {
        "yolov8n": models / "yolov8n_int8_openvino_model",
        "yolo11n-seg": models / "yolo11n-seg_int8_openvino_model",
        "yolov8n-pose": models / "yolov8n-pose_int8_openvino_model",
        "hostile": hostile_model(tmp, models / "yolov8n_int8_openvino_model"),
        **task_models(tmp / "tasks"),
    }))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/install_system_deps.sh installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' (playwright)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *FAKE_WEBCAM])
        yield chromium
        chromium.close()


class Console:
    """One browser tab on the console, with every console message and page error it logged."""

    def __init__(self, page: Any, daemon: Daemon) -> None:
        self.page, self.daemon = page, daemon
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        self.accept_confirm = False  # a confirm() (Delete) is dismissed unless a test says otherwise
        page.on("dialog", self._dialog)
        page.goto(daemon.base_url + "/")

    def _dialog(self, dialog: Any) -> None:
        self.messages.append(f"dialog {dialog.type}: {dialog.message}")
        if dialog.type == "confirm" and self.accept_confirm:
            dialog.accept()
        else:
            dialog.dismiss()

    def sign_in(self, key: str) -> None:
        self.page.fill("#key", key)
        self.page.press("#key", "Enter")  # Enter submits

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def console(browser: Any, console_daemon: Daemon) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # a fresh sessionStorage
    try:
        yield Console(context.new_page(), console_daemon)
    finally:
        context.close()
