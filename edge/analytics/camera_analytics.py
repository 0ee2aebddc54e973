"""Everything one camera adds to its detections: the tracker, the line and zone counts, and the counts
file. The camera loop calls ``step`` once per inferred frame, in order, and ``save`` now and then."""

from __future__ import annotations

import logging
import time
from typing import Any

from edge.analytics.byte_tracker import ByteTracker, ByteTrackParams
from edge.analytics.counts import CameraCounts
from edge.analytics.counts_file import read_counts, write_counts
from edge.analytics.tracked_prediction import track
from edge.config.cameras import CameraConfig
from edge.errors import ConfigError
from edge.inference.prediction import Prediction

logger = logging.getLogger(__name__)

TRACKABLE = ("detect", "segment", "pose")
SAVE_EVERY_S = 5.0  # the counts file is rewritten at most this often while counts change, and at stop


class CameraAnalytics:
    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        track_cfg = config.track
        self.tracker = None
        if track_cfg is not None:
            self.tracker = ByteTracker(ByteTrackParams(
                track_cfg.track_high_thresh, track_cfg.track_low_thresh, track_cfg.new_track_thresh,
                track_cfg.track_buffer, track_cfg.match_thresh, track_cfg.fuse_score))
        self.counts = CameraCounts(config.lines, config.zones)
        self._saved_at = 0.0
        if config.counts_file is not None and self.counts:
            saved = read_counts(config.counts_file, config.id)
            if saved is not None:
                for gone in self.counts.restore(saved):
                    logger.warning("camera %s: %s: %r is no longer a line or zone; its counts are dropped",
                                   config.id, config.counts_file, gone)

    def check(self, task: str) -> None:
        """ConfigError unless the camera's model can be tracked."""
        if self.tracker is not None and task not in TRACKABLE:
            raise ConfigError(f"cameras[{self.config.id}].track: a {task} model has no boxes to track; "
                              f"tracking needs a {', '.join(TRACKABLE)} model")

    def step(self, pred: Prediction, names: dict[int, str], when: float) -> tuple[Prediction, list[dict[str, Any]]]:
        """One inferred frame (``when``: its epoch time): the tracked prediction, and the line and zone
        events it caused."""
        if self.tracker is None:
            return pred, []
        tracked = track(self.tracker, pred)
        if not self.counts:
            return tracked, []
        removed = [t.track_id for t in self.tracker.removed_this_frame]
        return tracked, self.counts.update(tracked, names, removed, when)

    def snapshot(self) -> dict[str, Any]:
        """``CameraCounts.snapshot()`` (see edge/analytics/counts.py for the shape)."""
        return self.counts.snapshot()

    def shapes(self) -> list[tuple[str, list[tuple[float, float]], str]]:
        """(id, points in the last frame's pixels, label) of each line and zone, for the annotated frame."""
        snap = self.counts.snapshot()
        lines, zones = self.counts.shapes_in_pixels()
        out = []
        for lid, pts in lines:
            per = snap["lines"][lid]
            n_in, n_out = sum(v["in"] for v in per.values()), sum(v["out"] for v in per.values())
            out.append((lid, pts, f"{lid} in {n_in} out {n_out}"))
        for zid, pts in zones:
            out.append((zid, pts, f"{zid} {sum(snap['zones'][zid]['occupancy'].values())}"))
        return out

    def to_save(self, now: float, force: bool = False) -> dict[str, Any] | None:
        """On the event loop: the snapshot to write to the counts file when one is configured, the counts
        changed, and the file was written ``SAVE_EVERY_S`` ago or more (``now``: monotonic s) or ``force``."""
        if self.config.counts_file is None or not self.counts.changed:
            return None
        if not force and now - self._saved_at < SAVE_EVERY_S:
            return None
        self.counts.changed = False
        self._saved_at = now
        return self.counts.snapshot()

    def write(self, snapshot: dict[str, Any]) -> None:
        """Blocking (an executor): write ``snapshot`` to the counts file; a failure is logged and retried."""
        path = self.config.counts_file
        assert path is not None
        try:
            write_counts(path, self.config.id, snapshot, time.time())
        except OSError as exc:
            self.counts.changed = True
            logger.warning("camera %s: cannot write the counts file %s: %s", self.config.id, path, exc.strerror)
