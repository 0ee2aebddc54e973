"""The snapshot folder read back: the newest events first with their files, and an event's JPEG found
by the stamp in its id, never by a path a request could steer."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cameras.snapshot_store import SnapshotStore

T0 = 1795723431.123456  # 2026-11-26 20:03:51.123456 UTC


def store_with(tmp_path: Path, count: int) -> SnapshotStore:
    store = SnapshotStore(tmp_path / "cam", max_count=3, max_age_days=36500)
    for i in range(count):
        store.save(T0 + i, "person", b"\xff\xd8jpeg%d" % i, {"id": f"cam-{i}", "snapshot": None}, "0 0.5 0.5 0.1 0.1\n")
    return store


def test_recent_is_newest_first_within_retention(tmp_path: Path) -> None:
    store = store_with(tmp_path, 5)  # max_count 3: the two oldest were deleted
    recent = store.recent(10)
    assert [e["id"] for e in recent] == ["cam-4", "cam-3", "cam-2"]
    assert store.recent(1)[0]["id"] == "cam-4"
    assert Path(recent[0]["snapshot"]["jpg"]).read_bytes() == b"\xff\xd8jpeg4"
    assert set(recent[0]["snapshot"]) == {"jpg", "json", "txt"}
    (store.folder / Path(recent[1]["snapshot"]["json"]).name).write_text("{not json")  # a damaged event is skipped
    assert [e["id"] for e in store.recent(10)] == ["cam-4", "cam-2"]
    assert SnapshotStore(tmp_path / "none", 3, 1).recent(5) == []


@pytest.mark.parametrize("stamp,found", [
    ("20261126-200355-123456", True),
    ("20261126-200351-123456", False),  # deleted by retention
    ("20261126-200355-12345", False),
    ("../cam/20261126-200355-123456", False),
    ("2026112*", False),
    ("", False),
])
def test_image_of(tmp_path: Path, stamp: str, found: bool) -> None:
    store = store_with(tmp_path, 5)
    path = store.image_of(stamp)
    assert (path is not None) == found
    if path is not None:
        assert path.read_bytes() == b"\xff\xd8jpeg4" and path.parent == store.folder
