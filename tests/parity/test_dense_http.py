"""Semantic segmentation and depth (YOLO26 -sem / -depth) through the daemon's HTTP API equal Ultralytics
on the same OpenVINO IR, on both routes.

HUB: ``data`` is Ultralytics' ``summary()`` (semantic: per-class ``pixel_ratio``; depth: ``[]``) and the map
travels beside it. Platform: the ``ultralytics-platform`` SDK calls the daemon and its own decoder
(``ultralytics_platform.cli.prediction_result``) turns the answer back into a ``Results``, whose
``semantic_mask`` / ``depth`` are compared with Ultralytics' pixel by pixel. Models are built from the
yamls with seeded, spread weights (no pretrained YOLO26 file is available offline).
"""

from __future__ import annotations

import base64
import json
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import requests

from tests.support import parity
from tests.support.daemon import Daemon, link_models, start_daemon
from tests.support.figures import FIGURES_DIR
from tests.support.shared_data import ultralytics_asset

pytestmark = [pytest.mark.ultralytics, pytest.mark.slow]

ultralytics = pytest.importorskip("ultralytics", reason="the reference needs ultralytics (the test extra)")
ultralytics_platform = pytest.importorskip("ultralytics_platform")

IMGSZ = 160  # parity does not depend on the size; small keeps the exports and the daemon quick
TASKS = {"sem": ("yolo26n-sem.yaml", "semantic"), "depth": ("yolo26n-depth.yaml", "depth")}


@pytest.fixture(scope="module")
def folders() -> dict[str, Path]:
    return {model_id: parity.export_openvino(cfg, IMGSZ, seed=0) for model_id, (cfg, _) in TASKS.items()}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, Path]) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("dense-daemon")
    d = start_daemon(tmp, link_models(tmp, folders))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def images() -> list[Path]:
    found = [ultralytics_asset("bus.jpg"), ultralytics_asset("zidane.jpg")]
    try:
        found += sorted((parity.require_data() / "coco8" / "images").rglob("*.jpg"))[:2]
    except pytest.skip.Exception:
        pass
    return found


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[Any]:
    with ultralytics_platform.Platform(api_key=daemon.api_key, base_url=daemon.base_url, max_retries=0) as c:
        yield c


def reference(folder: Path, task: str, image: Path) -> Any:
    return ultralytics.YOLO(str(folder), task=task).predict(str(image), imgsz=IMGSZ, device="cpu", verbose=False)[0]


def hub(daemon: Daemon, model_id: str, image: Path, **fields: object) -> dict[str, Any]:
    with open(image, "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/{model_id}", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, data={"size": IMGSZ, **fields}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def platform_results(client: Any, model_id: str, task: str, image: Path, names: dict[int, str], **fields: Any) -> Any:
    """The daemon's Platform answer, decoded by the SDK's own code into an Ultralytics ``Results``."""
    from ultralytics_platform.cli import prediction_result

    body = {"file": (image.name, image.read_bytes(), "image/jpeg"), "imgsz": IMGSZ, **fields}
    answer = client.models.predict("me", "edge", model_id, body=body)
    assert answer["metadata"]["task"] == task
    (item,) = answer["images"]
    args = types.SimpleNamespace(classes=None, max_det=300)
    return item, prediction_result(cv2.imread(str(image)), str(image), item, names, task, args)


def as_numpy(data: Any) -> np.ndarray:
    return data.cpu().numpy() if hasattr(data, "cpu") else np.asarray(data)


def decode_png(field: dict[str, Any]) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(field["data"]), np.uint8), cv2.IMREAD_UNCHANGED)


def test_semantic_parity(daemon: Daemon, client: Any, folders: dict[str, Path], images: list[Path]) -> None:
    worst_equal, worst_ratio_gap, pixels = 1.0, 0.0, 0
    for image in images:
        theirs = reference(folders["sem"], "semantic", image)
        mask = as_numpy(theirs.semantic_mask.data)
        assert len(np.unique(mask)) > 1, "spread weights give more than one class (else the test means little)"
        answer = hub(daemon, "sem", image)
        assert set(answer) == {"success", "message", "data", "semantic_mask"}
        summary = theirs.summary()
        assert [d["class"] for d in answer["data"]] == [d["class"] for d in summary], image.name
        gap = max(abs(o["pixel_ratio"] - t["pixel_ratio"]) for o, t in zip(answer["data"], summary))
        hub_mask = decode_png(answer["semantic_mask"])
        assert answer["semantic_mask"]["shape"] == list(mask.shape) == list(hub_mask.shape)
        item, decoded = platform_results(client, "sem", "semantic", image, theirs.names)
        assert item["results"] == answer["data"]
        ours = as_numpy(decoded.semantic_mask.data)
        equal = float((ours == mask).mean())
        assert np.array_equal(ours, hub_mask)
        assert equal >= 0.999 and gap <= 1e-3, (image.name, equal, gap)
        worst_equal, worst_ratio_gap, pixels = min(worst_equal, equal), max(worst_ratio_gap, gap), pixels + mask.size
    write_figures("semantic", {"images": len(images), "pixels": pixels, "worst_equal_fraction": worst_equal,
                               "worst_pixel_ratio_gap": worst_ratio_gap})


def test_semantic_classes_filter(daemon: Daemon, folders: dict[str, Path], images: list[Path]) -> None:
    """``classes`` keeps those classes; the rest become 255, as in Ultralytics, and leave the summary."""
    theirs = ultralytics.YOLO(str(folders["sem"]), task="semantic").predict(
        str(images[0]), imgsz=IMGSZ, classes=[0, 1, 2], device="cpu", verbose=False)[0]
    answer = hub(daemon, "sem", images[0], classes="0,1,2")
    assert np.array_equal(decode_png(answer["semantic_mask"]), as_numpy(theirs.semantic_mask.data))
    assert [d["class"] for d in answer["data"]] == [d["class"] for d in theirs.summary()]


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_depth_parity(daemon: Daemon, client: Any, folders: dict[str, Path], images: list[Path], bits: int) -> None:
    worst_rel = 0.0
    for image in images:
        theirs = reference(folders["depth"], "depth", image)
        depth = as_numpy(theirs.depth.data).astype(np.float64)
        answer = hub(daemon, "depth", image, bits=bits)
        assert answer["data"] == theirs.summary() == []
        field = answer["depth"]
        assert field["bits"] == bits and field["encoding"] == "png" and field["shape"] == list(depth.shape)
        assert decode_png(field).dtype == (np.uint8 if bits == 8 else np.uint16)
        assert field["min"] == pytest.approx(depth.min(), rel=1e-4) and field["max"] == pytest.approx(depth.max(), rel=1e-4)
        item, decoded = platform_results(client, "depth", "depth", image, theirs.names, bits=bits)
        assert item["depth"]["bits"] == bits
        ours = as_numpy(decoded.depth.data).astype(np.float64)
        # the PNG holds depth / max on 2**bits levels: half a level of rounding, plus float noise
        step = depth.max() / (2 ** bits - 1)
        err = np.abs(ours - depth)
        assert err.max() <= 0.5 * step + 1e-4 * depth.max(), (image.name, bits, err.max(), step)
        worst_rel = max(worst_rel, float(err.max() / depth.max()))
    write_figures(f"depth_{bits}bit", {"images": len(images), "worst_error_over_max": worst_rel})


def test_bits_out_of_choices(daemon: Daemon, images: list[Path]) -> None:
    with open(images[0], "rb") as f:
        r = requests.post(f"{daemon.base_url}/v1/predict/depth", headers={"x-api-key": daemon.api_key},
                          files={"image": f}, data={"bits": 10}, timeout=60)
    assert r.status_code == 400 and "bits must be one of 8, 12, 16" in r.text


def write_figures(name: str, figures: dict[str, Any]) -> None:
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"parity_http_{name}.json").write_text(json.dumps(figures))
