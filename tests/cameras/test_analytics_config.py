"""A camera's track:, lines:, zones: and counts_file: good and bad side by side, each bad one with its
message (edge/config/analytics.py); fractions resolve against the frame size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config.analytics import in_pixels
from edge.config.settings import config_from_dict
from edge.errors import ConfigError

CAM = {"id": "door", "source": "rtsp://10.0.0.5/stream1", "model": "yolov8n"}
LINE = {"id": "entrance", "points": [[0.5, 0], [0.5, 1]]}
ZONE = {"id": "porch", "points": [[400, 300], [640, 300], [640, 480], [400, 480]]}


def cam(**kw: Any) -> dict[str, Any]:
    return {"cameras": [{**CAM, **kw}]}


@pytest.mark.parametrize("raw, error", [
    (cam(track={}), None),
    (cam(track={"tracker": "bytetrack", "track_buffer": 60, "match_thresh": 0.9, "fuse_score": False}), None),
    (cam(track={}, lines=[LINE], zones=[ZONE], counts_file="counts/door.json"), None),
    (cam(track={}, lines=[{"id": "px", "points": [[0, 240], [640, 240]]}]), None),  # 0 in a pixel line is fine
    (cam(track={"tracker": "botsort"}), "cameras[0].track.tracker: 'botsort' is not bytetrack"),
    (cam(track={"track_buffer": 0}), "cameras[0].track.track_buffer: 0 is not frames, 1-10000"),
    (cam(track={"track_high_thresh": 0.2, "track_low_thresh": 0.3}), "track_low_thresh 0.3 is above track_high_thresh"),
    (cam(track={"gmc_method": "sparseOptFlow"}), "cameras[0].track.gmc_method: unknown key"),
    (cam(lines=[LINE]), "cameras[0]: lines and zones count tracked objects; add track: {tracker: bytetrack}"),
    (cam(track={}, lines=[{"id": "a", "points": [[0.5, 0]]}]),
     "cameras[0].lines[0].points: 1 point; expected exactly 2 points [[x, y], [x, y]]"),
    (cam(track={}, lines=[{"id": "a", "points": [[0, 0], [1, 1], [0, 1]]}]), "3 points; expected exactly 2 points"),
    (cam(track={}, lines=[{"id": "a", "points": [[0.5, 0], [320, 480]]}]),
     "cameras[0].lines[0].points: mixes fractions (0.5) and pixels (480); expected every value as a fraction"),
    (cam(track={}, zones=[{"id": "z", "points": [[0.1, 0.1], [0.9, 0.1]]}]),
     "cameras[0].zones[0].points: 2 points; expected at least 3 points"),
    (cam(track={}, zones=[{"id": "z", "points": [[0, 0], [1, 0], [1, 0]]}]), "repeats a point"),
    (cam(track={}, lines=[{"id": "a", "points": [[0, 0], [1]]}]), "cameras[0].lines[0].points[1]: [1.0] is not a point"),
    (cam(track={}, lines=[{"id": "a", "points": [[-5, 0], [10, 10]]}]), "has a negative coordinate"),
    (cam(track={}, lines=[{"id": "a", "points": [["x", 0], [1, 1]]}]), "cameras[0].lines[0].points[0][0]: 'x' is not a number"),
    (cam(track={}, lines=[{"points": [[0, 0], [1, 1]]}]), "cameras[0].lines[0].id: missing"),
    (cam(track={}, lines=[{"id": "a b", "points": [[0, 0], [1, 1]]}]), "cameras[0].lines[0].id: 'a b' is not an id"),
    (cam(track={}, lines=[LINE], zones=[{**ZONE, "id": "entrance"}]),
     "cameras[0].zones[0].id: 'entrance' is already the id of lines[0]"),
])
def test_analytics_config(raw: dict[str, Any], error: str | None, tmp_path: Path) -> None:
    if error is None:
        cfg = config_from_dict(raw, source=tmp_path / "config.yaml")
        c = cfg.cameras[0]
        assert c.track is not None and c.track.tracker == "bytetrack"
        assert c.detect_confidence == 0.1  # Ultralytics' model.track() default
        if c.counts_file is not None:
            assert c.counts_file == tmp_path / "counts" / "door.json"
        return
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source=tmp_path / "config.yaml")
    assert error in str(info.value)


def test_defaults_are_ultralytics_bytetrack_yaml() -> None:
    yaml = pytest.importorskip("yaml")
    ultralytics = pytest.importorskip("ultralytics")
    theirs = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg" / "trackers" / "bytetrack.yaml").read_text())
    ours = config_from_dict(cam(track={})).cameras[0].track
    assert {k: getattr(ours, k) for k in theirs if k != "tracker_type"} == {k: v for k, v in theirs.items()
                                                                            if k != "tracker_type"}
    assert theirs["tracker_type"] == ours.tracker


@pytest.mark.parametrize("points, size, expected", [
    ([[0.5, 0], [0.5, 1]], (640, 480), [(320, 0), (320, 480)]),
    ([[0, 240], [640, 240]], (640, 480), [(0, 240), (640, 240)]),
    ([[1, 1], [0, 0]], (1280, 720), [(1280, 720), (0, 0)]),  # every value <= 1: fractions
])
def test_points_in_pixels(points: list[list[float]], size: tuple[int, int], expected: list[tuple[float, float]]) -> None:
    assert in_pixels(points, *size) == expected


def test_no_track_keeps_the_predict_confidence() -> None:
    assert config_from_dict(cam()).cameras[0].detect_confidence == 0.25
    assert config_from_dict(cam(track={}, confidence=0.4)).cameras[0].detect_confidence == 0.4
