"""The counts file: written and read back into ``CameraCounts``; a broken file stops the start with a
clear message instead of silently resetting the counts; ids no longer configured are reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.analytics.counts import CameraCounts
from edge.analytics.counts_file import read_counts, write_counts
from edge.config.analytics import LineConfig, ZoneConfig
from edge.errors import ConfigError
from edge.inference.prediction import Prediction

NAMES = {0: "person", 2: "car"}


def frame(*tracks: tuple[int, int, float, float]) -> Prediction:
    """Tracks (id, class, cx, cy) as 20x40 boxes in a 640x480 frame."""
    boxes = np.array([[cx - 10, cy - 20, cx + 10, cy + 20] for _, _, cx, cy in tracks], np.float32).reshape(-1, 4)
    return Prediction((480, 640), boxes=boxes, scores=np.full(len(tracks), 0.9, np.float32),
                      classes=np.array([c for _, c, _, _ in tracks], np.int64),
                      track_ids=np.array([t for t, _, _, _ in tracks], np.int64))


def counted() -> CameraCounts:
    counts = CameraCounts([LineConfig("mid", [[0.5, 0], [0.5, 1]])], [ZoneConfig("right", [[0.6, 0], [1, 0], [1, 1]])])
    for i, x in enumerate((300.0, 330.0, 500.0, 630.0)):
        counts.update(frame((1, 0, x, 100.0), (2, 2, 640 - x, 300.0)), NAMES, [], float(i))
    return counts


def test_round_trip(tmp_path: Path) -> None:
    counts = counted()
    snap = counts.snapshot()
    assert snap["lines"]["mid"] == {"person": {"in": 1, "out": 0}, "car": {"in": 0, "out": 1}}
    assert snap["zones"]["right"]["entered"] == {"person": 1}
    path = tmp_path / "state" / "counts.json"
    write_counts(path, "door", snap, 1.0)
    fresh = CameraCounts([LineConfig("mid", [[0.5, 0], [0.5, 1]])], [ZoneConfig("right", [[0.6, 0], [1, 0], [1, 1]])])
    saved = read_counts(path, "door")
    assert saved is not None and fresh.restore(saved) == []
    assert fresh.snapshot()["lines"] == snap["lines"]
    assert fresh.snapshot()["zones"]["right"]["entered"] == {"person": 1}
    assert fresh.snapshot()["zones"]["right"]["occupancy"] == {}  # live figures start afresh


def test_ids_no_longer_configured_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "counts.json"
    write_counts(path, "door", counted().snapshot(), 1.0)
    other = CameraCounts([LineConfig("gate", [[0, 0], [1, 1]])], [])
    saved = read_counts(path, "door")
    assert saved is not None and sorted(other.restore(saved)) == ["mid", "right"]


@pytest.mark.parametrize("text, message", [
    (None, None),
    ("{not json", "cameras[door].counts_file: cannot read"),
    ('{"lines": {}}', "is not a yolo-edge counts file"),
    ('{"version": 9, "counts": {}}', "is not a yolo-edge counts file"),
])
def test_read(tmp_path: Path, text: str | None, message: str | None) -> None:
    path = tmp_path / "counts.json"
    if text is not None:
        path.write_text(text)
    if message is None:
        assert read_counts(path, "door") is None  # no file yet: nothing to restore
        return
    with pytest.raises(ConfigError) as info:
        read_counts(path, "door")
    assert message in str(info.value)


def test_a_track_counts_once_per_line_and_is_forgotten_when_removed() -> None:
    counts = CameraCounts([LineConfig("mid", [[320, 0], [320, 480]])], [])
    path = [(300.0, 1), (340.0, 1), (300.0, 1), (340.0, 1)]  # back and forth over the line: counted once
    for i, (x, tid) in enumerate(path):
        counts.update(frame((tid, 0, x, 100.0)), NAMES, [], float(i))
    assert counts.snapshot()["lines"]["mid"] == {"person": {"in": 1, "out": 0}}
    counts.update(frame(), NAMES, [1], 5.0)  # the tracker dropped track 1: forgotten
    counts.update(frame((1, 0, 300.0, 100.0)), NAMES, [], 6.0)
    counts.update(frame((1, 0, 340.0, 100.0)), NAMES, [], 7.0)
    assert counts.snapshot()["lines"]["mid"] == {"person": {"in": 2, "out": 0}}
