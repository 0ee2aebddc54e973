"""ByteTrack: stable ids for the boxes of consecutive frames, without torch.

A faithful port of Ultralytics' ``ultralytics/trackers/byte_tracker.py`` (``BYTETracker``, ``STrack``),
``basetrack.py`` and ``utils/stracks.py`` (AGPL-3.0, Ultralytics; this project is AGPL-3.0 too), for
axis-aligned boxes. Same stages, thresholds, float types and assignment solver, so the ids equal those
of ``model.track(..., tracker="bytetrack.yaml", persist=True)`` fed the same detections
(tests/parity/test_tracking_parity.py holds that). Ids start at 1 per tracker.

Each frame: high-score detections (>= ``track_high_thresh``) are matched to tracked and lost tracks on
IoU (fused with score), leftovers of the tracked ones to low-score detections (> ``track_low_thresh``)
on IoU alone, unconfirmed tracks (seen once) to what is left; unmatched detections >=
``new_track_thresh`` start tracks; a track lost for more than ``track_buffer`` frames is removed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.analytics.kalman_filter import KalmanFilterXYAH
from edge.analytics.matching import fuse_score, iou_cost, linear_assignment

NEW, TRACKED, LOST, REMOVED = 0, 1, 2, 3
REMOVED_BUFFER = 1000


@dataclass(frozen=True)
class ByteTrackParams:
    """Ultralytics' ``cfg/trackers/bytetrack.yaml`` defaults."""

    track_high_thresh: float = 0.25
    track_low_thresh: float = 0.1
    new_track_thresh: float = 0.25
    track_buffer: int = 30
    match_thresh: float = 0.8
    fuse_score: bool = True


class STrack:
    """One track (or, before activation, one detection). ``xywh_idx``: (cx, cy, w, h, index in the frame's
    detections), float64."""

    shared_kalman = KalmanFilterXYAH()

    def __init__(self, xywh_idx: np.ndarray, score: np.float32, cls: np.float32) -> None:
        x = xywh_idx[:4]
        ltwh = np.copy(x)
        ltwh[0] = x[0] - x[2] / 2
        ltwh[1] = x[1] - x[3] / 2
        self._tlwh = np.asarray(ltwh, dtype=np.float32)
        self.kalman: KalmanFilterXYAH | None = None
        self.mean: np.ndarray | None = None
        self.covariance: np.ndarray | None = None
        self.is_activated = False
        self.state = NEW
        self.score = score
        self.cls = cls
        self.idx = xywh_idx[-1]
        self.track_id = 0
        self.tracklet_len = 0
        self.start_frame = 0
        self.frame_id = 0
        self.next_id: Callable[[], int] = lambda: 0

    @staticmethod
    def multi_predict(tracks: list[STrack]) -> None:
        if not tracks:
            return
        mean = np.asarray([t.mean for t in tracks])
        cov = np.asarray([t.covariance for t in tracks])
        for i, t in enumerate(tracks):
            if t.state != TRACKED:
                mean[i][7] = 0
        mean, cov = STrack.shared_kalman.multi_predict(mean, cov)
        for t, m, c in zip(tracks, mean, cov):
            t.mean, t.covariance = m, c

    def activate(self, kalman: KalmanFilterXYAH, frame_id: int) -> None:
        self.kalman = kalman
        self.track_id = self.next_id()
        self.mean, self.covariance = kalman.initiate(tlwh_to_xyah(self._tlwh))
        self.tracklet_len = 0
        self.state = TRACKED
        if frame_id == 1:
            self.is_activated = True
        self.frame_id = frame_id
        self.start_frame = frame_id

    def re_activate(self, det: STrack, frame_id: int) -> None:
        assert self.kalman is not None and self.mean is not None and self.covariance is not None
        self.mean, self.covariance = self.kalman.update(self.mean, self.covariance, tlwh_to_xyah(det.tlwh))
        self.tracklet_len = 0
        self.state = TRACKED
        self.is_activated = True
        self.frame_id = frame_id
        self.score, self.cls, self.idx = det.score, det.cls, det.idx

    def update(self, det: STrack, frame_id: int) -> None:
        assert self.kalman is not None and self.mean is not None and self.covariance is not None
        self.frame_id = frame_id
        self.tracklet_len += 1
        self.mean, self.covariance = self.kalman.update(self.mean, self.covariance, tlwh_to_xyah(det.tlwh))
        self.state = TRACKED
        self.is_activated = True
        self.score, self.cls, self.idx = det.score, det.cls, det.idx

    @property
    def tlwh(self) -> np.ndarray:
        if self.mean is None:
            return self._tlwh.copy()
        ret = self.mean[:4].copy()
        ret[2] *= ret[3]
        ret[:2] -= ret[2:] / 2
        return ret

    @property
    def xyxy(self) -> np.ndarray:
        ret = self.tlwh
        ret[2:] += ret[:2]
        return ret

    @property
    def result(self) -> list[float]:
        return [*self.xyxy.tolist(), self.track_id, self.score, self.cls, self.idx]


def tlwh_to_xyah(tlwh: np.ndarray) -> np.ndarray:
    ret = np.asarray(tlwh).copy()
    ret[:2] += ret[2:] / 2
    ret[2] /= ret[3]
    return ret


def _joint(a: list[STrack], b: list[STrack]) -> list[STrack]:
    ids = {t.track_id for t in a}
    return a + [t for t in b if t.track_id not in ids]


def _sub(a: list[STrack], b: list[STrack]) -> list[STrack]:
    ids = {t.track_id for t in b}
    return [t for t in a if t.track_id not in ids]


def _remove_duplicates(a: list[STrack], b: list[STrack], thresh: float = 0.15) -> tuple[list[STrack], list[STrack]]:
    """Pairs with IoU > 0.85 across ``a`` and ``b``: the shorter-lived one goes (ties: from ``a``)."""
    pdist = iou_cost([t.xyxy for t in a], [t.xyxy for t in b])
    dupa, dupb = set(), set()
    for p, q in zip(*np.where(pdist < thresh)):
        if a[p].frame_id - a[p].start_frame > b[q].frame_id - b[q].start_frame:
            dupb.add(q)
        else:
            dupa.add(p)
    return [t for i, t in enumerate(a) if i not in dupa], [t for i, t in enumerate(b) if i not in dupb]


class ByteTracker:
    """``update`` once per frame, in order; the state is the tracker's own (one per camera)."""

    def __init__(self, params: ByteTrackParams | None = None) -> None:
        self.params = params or ByteTrackParams()
        self.tracked: list[STrack] = []
        self.lost: list[STrack] = []
        self.removed: list[STrack] = []
        self.removed_this_frame: list[STrack] = []
        self.frame_id = 0
        self.kalman = KalmanFilterXYAH()
        self._ids: Iterator[int] = itertools.count(1)

    @property
    def has_unconfirmed(self) -> bool:
        """A track seen in one frame only (not yet reported)."""
        return any(not t.is_activated for t in self.tracked)

    def update(self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """One frame's detections: ``boxes`` (N, 4) xyxy, ``scores`` (N,), ``classes`` (N,). Returns (K, 8)
        float32 rows ``[x1, y1, x2, y2, track_id, score, cls, idx]`` of the confirmed tracks seen in this
        frame, box from the Kalman state, ``idx`` the row of ``boxes`` it matched."""
        p = self.params
        self.frame_id += 1
        activated: list[STrack] = []
        refind: list[STrack] = []
        lost: list[STrack] = []
        removed: list[STrack] = []

        xyxy = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        conf = np.asarray(scores, dtype=np.float32).reshape(-1)
        cls = np.asarray(classes, dtype=np.float32).reshape(-1)
        xywh = np.empty_like(xyxy)  # Ultralytics' Boxes.xywh, in float32
        xywh[:, 0] = (xyxy[:, 0] + xyxy[:, 2]) / 2
        xywh[:, 1] = (xyxy[:, 1] + xyxy[:, 3]) / 2
        xywh[:, 2] = xyxy[:, 2] - xyxy[:, 0]
        xywh[:, 3] = xyxy[:, 3] - xyxy[:, 1]
        valid = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)  # h = 0 would give an inf Kalman mean
        high = valid & (conf >= p.track_high_thresh)
        low = valid & (conf > p.track_low_thresh) & (conf < p.track_high_thresh)
        detections = self._detections(xywh, conf, cls, high)
        detections_second = self._detections(xywh, conf, cls, low)

        unconfirmed = [t for t in self.tracked if not t.is_activated]
        confirmed = [t for t in self.tracked if t.is_activated]
        pool = _joint(confirmed, self.lost)
        STrack.multi_predict(pool)

        # first association: tracked and lost tracks with the high-score detections
        matches, u_track, u_detection = linear_assignment(self._dists(pool, detections), p.match_thresh)
        for it, idet in matches:
            self._apply(pool[it], detections[idet], activated, refind)

        # second: tracked tracks left over with the low-score detections, on IoU alone
        remaining = [pool[i] for i in u_track if pool[i].state == TRACKED]
        if remaining and detections_second:
            cost = iou_cost([t.xyxy for t in remaining], [d.xyxy for d in detections_second])
            matches, u_remaining, _ = linear_assignment(cost, 0.5)
            for it, idet in matches:
                self._apply(remaining[it], detections_second[idet], activated, refind)
        else:
            u_remaining = np.arange(len(remaining))
        for it in u_remaining:
            remaining[it].state = LOST
            lost.append(remaining[it])

        # unconfirmed tracks with the high-score detections still unmatched
        detections = [detections[i] for i in u_detection]
        if unconfirmed:
            matches, u_unconfirmed, u_new = linear_assignment(self._dists(unconfirmed, detections), 0.7)
            for it, idet in matches:
                unconfirmed[it].update(detections[idet], self.frame_id)
                activated.append(unconfirmed[it])
            for it in u_unconfirmed:
                unconfirmed[it].state = REMOVED
                removed.append(unconfirmed[it])
        else:
            u_new = np.arange(len(detections))

        for inew in u_new:
            track = detections[inew]
            if track.score < p.new_track_thresh:
                continue
            track.activate(self.kalman, self.frame_id)
            activated.append(track)

        for track in self.lost:
            if self.frame_id - track.frame_id > p.track_buffer:
                track.state = REMOVED
                removed.append(track)

        self._merge(activated, refind, lost, removed)
        return np.asarray([t.result for t in self.tracked if t.is_activated], dtype=np.float32).reshape(-1, 8)

    def _detections(self, xywh: np.ndarray, conf: np.ndarray, cls: np.ndarray, mask: np.ndarray) -> list[STrack]:
        if not mask.any():
            return []
        rows = np.concatenate([xywh[mask], np.arange(int(mask.sum())).reshape(-1, 1)], axis=-1)  # float64
        out = [STrack(r, s, c) for r, s, c in zip(rows, conf[mask], cls[mask])]
        for t, i in zip(out, np.flatnonzero(mask)):
            t.idx = i  # the row in the whole frame's detections
            t.next_id = self._ids.__next__
        return out

    def _dists(self, tracks: list[STrack], detections: list[STrack]) -> np.ndarray:
        cost = iou_cost([t.xyxy for t in tracks], [d.xyxy for d in detections])
        if self.params.fuse_score:
            cost = fuse_score(cost, np.array([d.score for d in detections]))
        return cost

    def _apply(self, track: STrack, det: STrack, activated: list[STrack], refind: list[STrack]) -> None:
        if track.state == TRACKED:
            track.update(det, self.frame_id)
            activated.append(track)
        else:
            track.re_activate(det, self.frame_id)
            refind.append(track)

    def _merge(self, activated: list[STrack], refind: list[STrack], lost: list[STrack],
               removed: list[STrack]) -> None:
        """Ultralytics' ``merge_track_pools``: the end-of-frame bookkeeping of the three pools."""
        self.tracked = [t for t in self.tracked if t.state == TRACKED]
        self.tracked = _joint(self.tracked, activated)
        self.tracked = _joint(self.tracked, refind)
        self.lost = _sub(self.lost, self.tracked)
        self.lost.extend(lost)
        self.lost = _sub(self.lost, self.removed)
        self.tracked, self.lost = _remove_duplicates(self.tracked, self.lost)
        self.removed_this_frame = removed
        self.removed.extend(removed)
        if len(self.removed) > REMOVED_BUFFER:
            self.removed = self.removed[-REMOVED_BUFFER:]
