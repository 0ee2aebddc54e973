"""Reader threads on real sources: a video file written from coco128, an MJPEG-over-HTTP camera
that drops and comes back, and sources that are not there."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge.cameras.mjpeg_reader import MjpegReader
from edge.cameras.source import CameraSource, open_reader, source_kind
from edge.errors import CameraError
from tests.support.cameras import MjpegCamera, coco128_images, jpeg_frames, wait_for, write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return write_video(path, coco128_images(limit=4), fps=20, repeat=5)  # 20 frames, 1 s


@pytest.mark.parametrize("source, kind", [
    ("0", "v4l2"), ("/dev/video2", "v4l2"), ("rtsp://cam/stream", "stream"), ("rtsps://cam/s", "stream"),
    ("http://cam/video.mjpg", "http"), ("HTTPS://cam/x", "http"), ("/var/clips/door.mp4", "file"), ("clip.avi", "file"),
])
def test_source_kind(source: str, kind: str) -> None:
    assert source_kind(source) == kind


def test_video_file_loops_and_keeps_only_the_newest(video: Path) -> None:
    src = CameraSource("file", str(video))
    src.start()
    try:
        first = wait_for(src.take, 10, "no frame from the video file")
        assert first.image.shape == (480, 640, 3) and first.image.dtype == np.uint8
        # The file is 20 frames; reading past that means it looped. Nobody takes frames meanwhile,
        # so all but the newest are dropped, never queued.
        wait_for(lambda: src.frames_in > 30, 20, "the video file did not loop")
        newest = src.take()
        assert newest is not None and newest.seq >= 30
        assert src.take() is None or src.latest().seq > newest.seq  # type: ignore[union-attr]
        status = src.status()
        assert status["connected"] and status["frame_size"] == [640, 480]
        assert status["frames_dropped"] >= 25
        assert status["reconnects"] == 0 and status["last_error"] is None
    finally:
        src.stop()


def test_missing_file_is_an_error_state(tmp_path: Path) -> None:
    src = CameraSource("gone", str(tmp_path / "nope.mp4"), reconnect_max_s=0.5)
    src.start()
    try:
        wait_for(lambda: src.reconnects >= 2, 10, "the missing source was not retried")
        status = src.status()
        assert not status["connected"] and "no such video file" in status["last_error"]
        assert src.take() is None
    finally:
        src.stop()


@pytest.mark.parametrize("content_length", [True, False])
def test_mjpeg_reader_decodes_parts(content_length: bool) -> None:
    frames = jpeg_frames(coco128_images(limit=2), size=(320, 240))
    with MjpegCamera(frames, fps=30, content_length=content_length) as cam:
        reader = MjpegReader(cam.url, timeout_s=5)
        try:
            images = [reader.read() for _ in range(5)]
        finally:
            reader.close()
    assert all(im.shape == (240, 320, 3) for im in images)
    assert not np.array_equal(images[0], images[1])  # two different pictures alternate


def test_http_that_is_not_mjpeg_or_not_there() -> None:
    from tests.support.cameras import free_port
    with pytest.raises(CameraError, match="cannot connect"):
        open_reader(f"http://127.0.0.1:{free_port()}/x.mjpg", 2)


def test_mjpeg_source_recovers_after_the_camera_returns() -> None:
    frames = jpeg_frames(coco128_images(limit=3), size=(320, 240))
    with MjpegCamera(frames, fps=20) as cam:
        src = CameraSource("mjpeg", cam.url, stall_timeout_s=2, reconnect_max_s=1)
        src.start()
        try:
            wait_for(lambda: src.status()["connected"], 10, "never connected")
            cam.drop()
            wait_for(lambda: not src.status()["connected"], 10, "the drop was not noticed")
            assert src.status()["last_error"]
            before = src.frames_in
            time.sleep(1.5)  # down for a while: reconnects fail (connection refused) and back off
            assert src.frames_in == before
            cam.restore()
            wait_for(lambda: src.status()["connected"] and src.frames_in > before + 5, 15, "did not recover")
            assert src.reconnects >= 1 and cam.connections >= 2
        finally:
            src.stop()


def test_a_stalled_stream_is_reopened() -> None:
    """The camera keeps the connection open but sends nothing: the read times out and the source
    reconnects, then carries on when frames flow again."""
    frames = jpeg_frames(coco128_images(limit=2), size=(160, 120))
    with MjpegCamera(frames, fps=20) as cam:
        src = CameraSource("stall", cam.url, stall_timeout_s=0.5, reconnect_max_s=0.5)
        src.start()
        try:
            wait_for(lambda: src.frames_in > 3, 10, "never got frames")
            cam.frozen.set()
            wait_for(lambda: "stalled" in (src.last_error or ""), 10, "the stall was not detected")
            wait_for(lambda: cam.connections >= 2, 10, "the stalled stream was not reopened")
            wait_for(lambda: not src.status()["connected"], 10, "a stalled source still looks connected")
            before = src.frames_in
            cam.frozen.clear()
            wait_for(lambda: src.frames_in > before + 3, 10, "frames did not resume")
        finally:
            src.stop()
