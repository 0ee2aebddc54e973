"""Frigate's ``zmq`` detector protocol, driven by a client written from Frigate's ``zmq_ipc.py`` and its
input transform (``tests/support/frigate_client.py``) against real daemons, over TCP on loopback and over
IPC in a temporary folder. Every answer is checked against the HUB answer for the same pixels and model;
every bad request gets the error reply Frigate's client reads as "no detections" on a socket that stays in
step, and a good request on the same socket works right after."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edge.config.settings import config_from_dict
from edge.http.app import create_app
from edge.http.app_keys import STATE
from tests.dialects.conftest import exports, hub, zmq_endpoint
from tests.support.daemon import Daemon, daemon_config, free_port, link_models, start_daemon
from tests.support.frigate_client import FrigateZmq
from tests.support.in_process import model_dir, needs_model
from tests.support.shared_data import require_shared_data

pytestmark = [pytest.mark.shared_data]

DEFAULT = "yolo11n"  # the keyed daemon has no dialects.detect_model: the first box model by MODEL_ID
TIMEOUT_MS = 10_000  # Frigate's default is 200 ms; a shared 2-core machine needs more


def region(image: bytes, size: int, tiles: int = 1) -> np.ndarray:
    """What Frigate holds for its detector: the region resized to the model input, (1, size, size, 3) RGB u8."""
    rgb = np.tile(np.asarray(Image.open(io.BytesIO(image)).convert("RGB")), (tiles, tiles, 1))
    return np.asarray(Image.fromarray(rgb).resize((size, size)))[None]


def png(rgb: np.ndarray) -> bytes:
    """The same pixels, losslessly, for the HUB route."""
    with io.BytesIO() as out:
        Image.fromarray(np.squeeze(rgb)).save(out, format="PNG")
        return out.getvalue()


def same_as_hub(rows: np.ndarray, reference: list[dict[str, Any]], h: int, w: int) -> None:
    """Same classes in the same order, scores within 1e-5 (HUB rounds to 5 decimals), boxes within 1 px
    once de-normalized, zero rows after the last."""
    n = len(reference)
    assert rows.shape == (20, 6) and rows.dtype == np.float32
    assert (rows[:, 1] > 0).sum() == n, (rows[:, :2], [(r["class"], r["confidence"]) for r in reference])
    assert not rows[n:].any()
    for row, r in zip(rows[:n], reference):
        assert int(row[0]) == r["class"]
        assert abs(float(row[1]) - r["confidence"]) <= 1e-5
        b = r["box"]
        ours = row[2:].astype(np.float64) * (h, w, h, w)
        assert np.abs(ours - (b["y1"], b["x1"], b["y2"], b["x2"])).max() <= 1.0, (ours, b)


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    found = [p.read_bytes() for p in sorted((require_shared_data() / "coco8" / "images" / "val").glob("*.jpg"))]
    if not found:
        pytest.skip("coco8 val images are absent from the shared data")
    return found


@pytest.fixture
def frigate(keyed: Daemon) -> Iterator[FrigateZmq]:
    client = FrigateZmq(zmq_endpoint(keyed), request_timeout_ms=TIMEOUT_MS)
    yield client
    client.close()


# ---------------------------------------------------------------- answers, over TCP

@pytest.mark.parametrize("input_tensor, input_dtype, size", [
    ("nhwc", "int", 640), ("nchw", "int", 640), ("nchw", "float", 320), ("nchw", "float_denorm", 320),
    ("hwnc", "int", 320), ("hwcn", "float", 320),
])
def test_matches_hub(keyed: Daemon, frigate: FrigateZmq, photos: list[bytes], input_tensor: str,
                     input_dtype: str, size: int) -> None:
    """Each of Frigate's tensor layouts and dtypes, at the model's size and at Frigate's usual 320 (float32
    at 320 only: at 640 it is 4.9 MB, over this daemon's 3 MB server.max_body_mb)."""
    assert frigate.model_ready and f"serves {DEFAULT} " in frigate.handshake["message"]  # type: ignore[index]
    frigate.input_tensor, frigate.input_dtype = input_tensor, input_dtype
    found = 0
    for photo in photos:
        rgb = region(photo, size)
        rows = frigate.detect_raw(rgb)
        assert frigate.reply_header() == {"shape": [20, 6], "dtype": "float32", "model": DEFAULT}
        same_as_hub(rows, hub(keyed, DEFAULT, png(rgb), 0.4, 20), size, size)
        found += int((rows[:, 1] > 0).sum())
    assert found > 0


def test_crowded_region_fills_20_rows(keyed: Daemon, frigate: FrigateZmq) -> None:
    crowd = require_shared_data() / "coco128" / "images" / "train2017" / "000000000438.jpg"
    if not crowd.is_file():
        pytest.skip(f"{crowd} is absent")
    rgb = region(crowd.read_bytes(), 640, tiles=2)
    assert len(hub(keyed, DEFAULT, png(rgb), 0.4)) > 20, "the region is not crowded enough to test the cap"
    rows = frigate.detect_raw(rgb)
    assert (rows[:, 1] >= 0.4).all()
    same_as_hub(rows, hub(keyed, DEFAULT, png(rgb), 0.4, 20), 640, 640)


def test_several_detectors_at_once(keyed: Daemon, photos: list[bytes]) -> None:
    """Several Frigate detectors on the same endpoint (ROUTER): their requests overlap and each gets the
    answer for its own region."""
    from concurrent.futures import ThreadPoolExecutor

    rgbs = [region(photo, 640) for photo in photos]
    clients = [FrigateZmq(zmq_endpoint(keyed), request_timeout_ms=TIMEOUT_MS * 3) for _ in rgbs]
    try:
        alone = [c.detect_raw(rgb) for c, rgb in zip(clients, rgbs)]
        with ThreadPoolExecutor(len(clients)) as pool:
            together = list(pool.map(lambda i: [clients[i].detect_raw(rgbs[i]) for _ in range(4)], range(len(rgbs))))
    finally:
        for c in clients:
            c.close()
    assert sum(a.any() for a in alone) >= 2 and not np.array_equal(alone[0], alone[1]), "distinct answers needed"
    for mine, answers in zip(alone, together):
        assert all(np.array_equal(a, mine) for a in answers)


# ---------------------------------------------------------------- bad requests, over TCP

def header(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def tensor_frames(t: np.ndarray, **override: Any) -> list[Any]:
    return [header(**{"shape": list(t.shape), "dtype": t.dtype.name, "model_type": "yolo-generic", **override}),
            t.tobytes()]


def half(t: np.ndarray) -> np.ndarray:
    """320x320: float tensors of 640x640 are over this daemon's 3 MB server.max_body_mb."""
    return np.ascontiguousarray(t[:, ::2, ::2])


Frames = Callable[[np.ndarray], list[Any]]
# id, the frames sent (built from the good (1, 640, 640, 3) u8 region), a fragment of the error
BAD: list[tuple[str, Frames, str]] = [
    ("garbage-header", lambda t: [b"\x00garbage", t.tobytes()], "the first frame must be a JSON object"),
    ("header-not-object", lambda t: [b"[1, 2]", t.tobytes()], "must be a JSON object"),
    ("empty-frame", lambda t: [b""], "must be a JSON object"),
    ("huge-header", lambda t: [b"{" + b" " * 70_000 + b"}", t.tobytes()], "at most 64 KB"),
    ("no-shape", lambda t: [header(dtype="uint8"), t.tobytes()], "shape must be 4 positive integers"),
    ("shape-3d", lambda t: tensor_frames(t[0]), "shape must be 4 positive integers, e.g. [1, 320, 320, 3]; got [640"),
    ("shape-text", lambda t: tensor_frames(t, shape="1x640x640x3"), "shape must be 4 positive integers"),
    ("dtype-float64", lambda t: tensor_frames(half(t).astype(np.float64) / 255), "dtype must be uint8"),
    ("dtype-int8", lambda t: tensor_frames(t.astype(np.int8)), "got int8"),
    ("four-channels", lambda t: tensor_frames(np.zeros((1, 640, 640, 4), np.uint8)),
     "shape [1, 640, 640, 4] is not an image tensor"),
    ("tiny", lambda t: tensor_frames(t[:, :8, :8]), "H and W >= 16"),
    ("short-tensor", lambda t: [tensor_frames(t)[0], t.tobytes()[: t.size // 2]],
     "the tensor has 614400 bytes; shape [1, 640, 640, 3] of uint8 needs 1228800"),
    ("wrong-dtype-claimed", lambda t: tensor_frames(t, dtype="float32"), "of float32 needs 4915200"),
    ("float-over-255", lambda t: tensor_frames(half(t).astype(np.float32) * 2 + 1), "float32 pixels must be 0-1"),
    ("float-negative", lambda t: tensor_frames(half(t).astype(np.float32) / 255 - 0.5), "got -0.5"),
    ("float-nan", lambda t: tensor_frames(np.where(half(t) > 100, np.nan, half(t)).astype(np.float32)),
     "NaN or infinite"),
    ("header-only", lambda t: tensor_frames(t)[:1], "a detect request is 2 frames, [header, tensor]; got 1"),
    ("three-frames", lambda t: tensor_frames(t) + [b"x"], "got 3"),
]


@pytest.mark.parametrize("frames, fragment", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_request(frigate: FrigateZmq, photos: list[bytes], frames: Frames, fragment: str) -> None:
    rgb = region(photos[0], 640)
    good = frigate.detect_raw(rgb)
    assert good[:, 1].max() >= 0.4
    rows = frigate.exchange(frames(rgb))
    assert not rows.any() and rows.shape == (20, 6), "Frigate must read no detections from an error"
    answer = frigate.reply_header()
    assert set(answer) == {"shape", "dtype", "error"} and answer["shape"] == [20, 6]
    assert fragment in answer["error"] and len(answer["error"]) < 400, answer["error"]
    assert np.array_equal(frigate.detect_raw(rgb), good), "a good request on the same socket right after"


def test_model_transfer_is_refused(frigate: FrigateZmq, photos: list[bytes]) -> None:
    """Frigate sends its model file only when told it is missing, which never happens here; if it does,
    it reads the refusal as "transfer failed" (saved and loaded false)."""
    frigate.exchange([header(model_data=True, model_name="yolo.onnx"), b"\x08\x01onnx bytes"])
    answer = json.loads(frigate.last_frames[0])
    assert len(frigate.last_frames) == 1 and answer["model_saved"] is False and answer["model_loaded"] is False
    assert "does not load model files" in answer["error"]
    assert frigate.detect_raw(region(photos[0], 640))[:, 1].max() >= 0.4


def test_oversized_tensor_disconnects_and_frigate_recovers(keyed: Daemon, photos: list[bytes]) -> None:
    """A frame over server.max_body_mb (3 MB here; a float32 640x640 tensor is 4.9 MB) is dropped by ZMQ
    with the connection; Frigate's client times out, makes a new socket, shakes hands again and goes on."""
    frigate = FrigateZmq(zmq_endpoint(keyed), request_timeout_ms=2000, input_dtype="float")
    try:
        rgb = region(photos[0], 640)
        assert not frigate.detect_raw(rgb).any() and frigate.last_frames == []  # timed out
        assert frigate.model_ready  # the new socket's handshake
        frigate.input_dtype = "int"
        assert frigate.detect_raw(rgb)[:, 1].max() >= 0.4
    finally:
        frigate.close()


# ---------------------------------------------------------------- off by default, listening, start-up failures

def test_off_by_default(keyed: Daemon, keyless: Daemon) -> None:
    """Without dialects.zmq_endpoint the daemon listens on its HTTP port only; with it, on that one more."""
    assert zmq_endpoint(keyless) == ""
    assert keyless.listening() == ({keyless.port}, set())
    zmq_port = int(zmq_endpoint(keyed).rsplit(":", 1)[1])
    assert keyed.listening() == ({keyed.port, zmq_port}, set())


@pytest.mark.parametrize("where, fragment", [
    ("tcp", "Address already in use"), ("ipc-missing-folder", "No such file or directory"),
    ("ipc-over-a-file", "config.yaml exists and is not a socket; not replacing it")])
def test_cannot_listen_stops_the_start(tmp_path: Path, where: str, fragment: str) -> None:
    """A port in use, a missing folder, or a file that is not a socket (libzmq would delete it) stop the
    start with the key and the reason; the file is left as it was."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    endpoint = {"tcp": f"tcp://127.0.0.1:{holder.getsockname()[1]}",
                "ipc-missing-folder": f"ipc://{tmp_path}/missing/frigate.sock",
                "ipc-over-a-file": f"ipc://{tmp_path}/config.yaml"}[where]
    try:
        with pytest.raises(RuntimeError, match="exited with 2 before ready") as info:
            start_daemon(tmp_path, link_models(tmp_path, {"yolov8n": exports()["yolov8n"]}),
                         extra={"dialects": {"zmq_endpoint": endpoint}}, timeout=300)
    finally:
        holder.close()
    assert f"dialects.zmq_endpoint: cannot listen on {endpoint}: " in str(info.value)
    assert fragment in str(info.value)
    assert "zmq_endpoint" in (tmp_path / "config.yaml").read_text()  # still the config, not a socket


# ---------------------------------------------------------------- IPC, BGR, detect_model, SIGTERM

def test_ipc_bgr_a_clean_stop_and_a_restart(tmp_path: Path, photos: list[bytes]) -> None:
    """Over a Unix socket, Frigate set to input_pixel_format bgr (``zmq_pixel_format: bgr``), the model
    named by ``dialects.detect_model``; SIGTERM exits 0 and removes the socket file; the same Frigate
    client goes on with the daemon started again."""
    path = tmp_path / "run" / "frigate.sock"
    path.parent.mkdir()
    models = link_models(tmp_path, exports())
    extra = {"dialects": {"zmq_endpoint": f"ipc://{path}", "zmq_pixel_format": "bgr", "detect_model": "yolov8n"}}
    daemon = start_daemon(tmp_path, models, extra=extra, timeout=300)
    frigate = FrigateZmq(f"ipc://{path}", model_path="/config/model_cache/yolov8n", request_timeout_ms=TIMEOUT_MS)
    try:
        assert daemon.listening() == ({daemon.port}, {str(path)})
        assert frigate.model_ready and "serves yolov8n (detect, 640x640 input)" in frigate.handshake["message"]  # type: ignore[index]
        for photo in photos:
            rgb = region(photo, 320)
            rows = frigate.detect_raw(np.ascontiguousarray(rgb[..., ::-1]))  # Frigate's bgr region
            assert frigate.reply_header()["model"] == "yolov8n"
            same_as_hub(rows, hub(daemon, "yolov8n", png(rgb), 0.4, 20), 320, 320)
        code = daemon.stop()
        assert code == 0 and not path.exists()
        assert "Traceback" not in daemon.log()
        daemon = start_daemon(tmp_path, models, extra=extra, timeout=300)
        rgb = region(photos[0], 320)
        same_as_hub(frigate.detect_raw(np.ascontiguousarray(rgb[..., ::-1])),
                    hub(daemon, "yolov8n", png(rgb), 0.4, 20), 320, 320)
    finally:
        frigate.close()
        daemon.stop()


# ---------------------------------------------------------------- admission and readiness, in process

@needs_model
async def test_admission_and_readiness(tmp_path: Path, aiohttp_client: Any, photos: list[bytes]) -> None:
    """Past server.max_pending, or while not ready, the answer is the error reply at once (Frigate reads no
    detections for that frame and goes on); the next request works."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    config = config_from_dict(daemon_config(tmp_path, model_dir(tmp_path), 8080, {
        "models": {"cache_dir": None}, "server": {"max_pending": 1}, "dialects": {"zmq_endpoint": endpoint}}))
    client = await aiohttp_client(create_app(config))
    state = client.app[STATE]
    frigate = await asyncio.to_thread(FrigateZmq, endpoint, request_timeout_ms=TIMEOUT_MS)
    try:
        rgb = region(photos[0], 640)
        good = await asyncio.to_thread(frigate.detect_raw, rgb)
        assert good[:, 1].max() >= 0.4
        for hold, fragment in (("pending", "the device is busy"), ("ready", "starting, reloading or stopping")):
            if hold == "pending":
                state.pending = 1  # one request admitted elsewhere: the bound is reached
            else:
                state.ready = False
            rows = await asyncio.to_thread(frigate.detect_raw, rgb)
            assert not rows.any() and fragment in frigate.reply_header()["error"]
            state.pending, state.ready = 0, True
            assert np.array_equal(await asyncio.to_thread(frigate.detect_raw, rgb), good)
    finally:
        frigate.close()
    metrics = await (await client.get("/metrics")).text()
    assert 'yolo_edge_zmq_requests_total{outcome="overloaded"} 2.0' in metrics
    assert 'yolo_edge_zmq_requests_total{outcome="ok"} 3.0' in metrics
    assert 'yolo_edge_stage_duration_seconds_count{model="yolov8n",stage="inference"} 3.0' in metrics
