"""Tracking and counting against Ultralytics on videos made from real images (tests/support/tracking_video.py).

- ids: our ByteTrack fed the detections of our own OpenVINO pipeline gives, frame by frame, exactly the
  rows Ultralytics' ``BYTETracker`` gives on the same detections; and ``model.track(...,
  tracker="bytetrack.yaml", persist=True)`` on the same IR gives the same ids up to a relabelling;
- counts: ``CameraCounts`` fed the tracks of Ultralytics' ``ObjectCounter`` / ``RegionCounter`` reports
  their per-class in/out counts and zone occupancy on every frame, and our whole pipeline (detect +
  track + count) ends with the counts ``ObjectCounter`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.analytics.byte_tracker import ByteTracker
from edge.analytics.counts import CameraCounts
from edge.analytics.tracked_prediction import track
from edge.config.analytics import LineConfig, ZoneConfig
from edge.inference.options import PredictOptions
from edge.inference.prediction import Prediction
from tests.support import parity
from tests.support.tracking_video import crossing_scene, read_frames, write_avi

pytestmark = [pytest.mark.shared_data, pytest.mark.ultralytics]

IOU = 0.45
LINE = [[320, 0], [320, 480]]  # vertical, mid-frame: the front walker goes in, the back one out
HLINE = [[0, 145], [640, 145]]  # horizontal: the back walker's centre goes down across it (135 -> 155)
ZONE = [[330, 0], [640, 0], [640, 480], [330, 480]]  # the right part of the frame


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    path = write_avi(tmp_path_factory.mktemp("video") / "crossing.avi", crossing_scene())
    return read_frames(path)  # what a file camera decodes, not the frames before JPEG


@pytest.fixture(scope="module")
def folder() -> Path:
    return parity.require(parity.require_data() / "models" / "yolov8n_int8_openvino_model")


@pytest.fixture(scope="module")
def detections(video: list[np.ndarray], folder: Path) -> dict[float, list[Prediction]]:
    """Our OpenVINO pipeline's detections of every frame, at the daemon's default confidence and at 0.1."""
    return {c: detect(folder, video, c) for c in (0.25, 0.1)}


def detect(folder: Path, frames: list[np.ndarray], confidence: float) -> list[Prediction]:
    from edge.inference.postprocess import postprocess

    spec = parity.spec_of(folder)
    options = PredictOptions(size=640, confidence=confidence, iou=IOU)
    return [parity.run_ours_letterboxed(spec, f, 640, lambda out, lb: postprocess("detect", out, lb, spec, options))
            for f in frames]


def reference_tracker() -> Any:
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    return BYTETracker(IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml"))))


def as_boxes(pred: Prediction) -> Any:
    """Our detections as the numpy ``Boxes`` BYTETracker reads (conf, cls, xywh, boolean indexing)."""
    from ultralytics.engine.results import Boxes

    data = np.concatenate([pred.boxes, pred.scores[:, None], pred.classes[:, None].astype(np.float32)], axis=1)
    return Boxes(data.astype(np.float32), pred.orig_shape)


@pytest.mark.parametrize("confidence", [0.25, 0.1])  # 0.1: low-score detections reach the second stage
def test_ids_equal_ultralytics_bytetracker_on_our_detections(video: list[np.ndarray],
                                                              detections: dict[float, list[Prediction]],
                                                              confidence: float) -> None:
    ref, ours = reference_tracker(), ByteTracker()
    ids: set[int] = set()
    for i, (frame, pred) in enumerate(zip(video, detections[confidence])):
        theirs = ref.update(as_boxes(pred), frame)
        mine = ours.update(pred.boxes, pred.scores, pred.classes)
        assert mine.shape == theirs.shape, f"frame {i}: {len(mine)} tracks, Ultralytics {len(theirs)}"
        np.testing.assert_array_equal(mine, theirs, err_msg=f"frame {i}")
        assert sorted(t.track_id for t in ours.removed_this_frame) == \
            sorted(t.track_id for t in ref.removed_stracks_frame), f"frame {i}"
        ids |= set(mine[:, 4].astype(int).tolist())
    assert len(ids) >= 2  # both walkers (and the still objects of the background) were tracked


def test_ids_match_model_track_up_to_relabelling(video: list[np.ndarray], folder: Path,
                                                 detections: dict[float, list[Prediction]]) -> None:
    """Ultralytics' own pipeline (its OpenVINO backend, NMS, tracker) against ours on the same frames:
    every box both report is matched by class and IoU, and the id map between the two is one-to-one."""
    model = parity.ultralytics_model(folder, "detect")
    model.predictor = None  # a fresh tracker
    tracker, preds = ByteTracker(), detections[0.25]
    mapping: dict[int, int] = {}
    matched = total = 0
    for i, (frame, pred) in enumerate(zip(video, preds)):
        theirs = model.track(frame, persist=True, tracker="bytetrack.yaml", conf=0.25, iou=IOU, verbose=False,
                             device="cpu")[0].boxes
        mine = track(tracker, pred)
        if theirs.id is None or mine.track_ids is None:
            assert (theirs.id is None) == (mine.track_ids is None), f"frame {i}"
            continue
        m = parity.match(mine.boxes, mine.classes, theirs.xyxy.numpy(), theirs.cls.numpy().astype(np.int64))
        total += max(len(mine), len(theirs))
        for (a, b), iou in zip(m.pairs, m.ious):
            ours_id, their_id = int(mine.track_ids[a]), int(theirs.id[b])
            assert mapping.setdefault(ours_id, their_id) == their_id, f"frame {i}: our id {ours_id} was " \
                f"Ultralytics' {mapping[ours_id]}, now {their_id}"
            matched += 1
    assert len(set(mapping.values())) == len(mapping), f"two of our ids map to one of theirs: {mapping}"
    assert matched >= 0.95 * total, f"only {matched} of {total} tracked boxes matched"
    parity.figures("tracking").notes.append(f"model.track: {len(mapping)} ids mapped one-to-one, "
                                            f"{matched}/{total} tracked boxes matched")
    parity.report("tracking")


@dataclass
class Reference:
    """Per frame of the video: the tracks of Ultralytics' ``ObjectCounter`` (its own ``model.track``) as a
    Prediction, the ids its tracker removed, and what ``ObjectCounter`` (both lines) and ``RegionCounter``
    reported after it."""

    names: dict[int, str]
    tracks: list[tuple[Prediction, list[int]]] = field(default_factory=list)
    lines: dict[str, list[dict[str, dict[str, int]]]] = field(default_factory=lambda: {"vertical": [], "horizontal": []})
    zone: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def reference(video: list[np.ndarray], folder: Path) -> Reference:
    """One ``model.track`` pass; the horizontal-line counter and the region counter count the same tracks
    (their ``extract_tracks`` takes the first counter's), so all three see identical input."""
    from ultralytics import solutions

    common = {"model": str(folder), "show": False, "verbose": False, "tracker": "bytetrack.yaml", "conf": 0.25,
              "iou": IOU, "device": "cpu"}
    first = solutions.ObjectCounter(region=[tuple(p) for p in LINE], **common)
    second = solutions.ObjectCounter(region=[tuple(p) for p in HLINE], **common)
    zone = solutions.RegionCounter(region={"z": [tuple(p) for p in ZONE]}, **common)
    ref = Reference(first.names)

    def shared_tracks(solution: Any) -> None:
        for name in ("tracks", "track_data", "boxes", "clss", "track_ids", "confs"):
            setattr(solution, name, getattr(first, name))
        solution.forget_tracks(ref.tracks[-1][1])

    second.extract_tracks = lambda im0: shared_tracks(second)
    zone.extract_tracks = lambda im0: shared_tracks(zone)
    for frame in video:
        first.process(frame.copy())
        ref.tracks.append(_their_tracks(first))
        second.process(frame.copy())
        region = zone.process(frame.copy())
        for key, counter in (("vertical", first), ("horizontal", second)):
            ref.lines[key].append({n: {"in": c["IN"], "out": c["OUT"]} for n, c in counter.classwise_count.items()
                                   if c["IN"] or c["OUT"]})
        ref.zone.append(region.region_counts.get("z", 0))
    return ref


def _their_tracks(solution: Any) -> tuple[Prediction, list[int]]:
    """The tracked result an Ultralytics solution just counted, as a Prediction, and the removed ids."""
    data = solution.track_data
    removed = [t.track_id for t in solution.model.predictor.trackers[0].removed_stracks_frame]
    if not (data and data.is_track):
        return Prediction((480, 640)), removed
    return Prediction((480, 640), boxes=data.xyxy.numpy(), scores=data.conf.numpy(),
                      classes=data.cls.numpy().astype(np.int64), track_ids=data.id.numpy().astype(np.int64)), removed


@pytest.mark.parametrize("key, line", [("vertical", LINE), ("horizontal", HLINE)])
def test_line_counts_equal_object_counter(video: list[np.ndarray], folder: Path, reference: Reference,
                                          detections: dict[float, list[Prediction]], key: str,
                                          line: list[list[int]]) -> None:
    fed = CameraCounts([LineConfig("l", line)], [])
    for i, (theirs, removed) in enumerate(reference.tracks):
        fed.update(theirs, reference.names, removed, float(i))
        assert fed.snapshot()["lines"]["l"] == reference.lines[key][i], f"frame {i} (same tracks)"
    ours = CameraCounts([LineConfig("l", line)], [])
    tracker = ByteTracker()
    for i, pred in enumerate(detections[0.25]):
        ours.update(track(tracker, pred), reference.names, [t.track_id for t in tracker.removed_this_frame], float(i))
    got, want = ours.snapshot()["lines"]["l"], reference.lines[key][-1]
    assert got == want, "our pipeline end to end"
    # the scene: one walks right and one left across the vertical line; the back one drifts down
    assert got.get("person") == ({"in": 1, "out": 1} if line == LINE else {"in": 1, "out": 0}), got
    parity.figures("tracking").notes.append(f"{key} line: ours {got}, ObjectCounter {want}")
    parity.report("tracking")


def test_zone_occupancy_equals_region_counter(reference: Reference) -> None:
    fed = CameraCounts([], [ZoneConfig("z", ZONE)])
    for i, (theirs, removed) in enumerate(reference.tracks):
        fed.update(theirs, reference.names, removed, float(i))
        assert sum(fed.snapshot()["zones"]["z"]["occupancy"].values()) == reference.zone[i], f"frame {i}"
    assert max(reference.zone) >= 1  # somebody was in the zone at some point
