"""Event frames on disk, kept within a count and an age.

One folder per camera; one event = files sharing a stem named by its UTC time, so names sort by
age: ``20261126-200351-123456_person.jpg`` (the frame), ``.json`` (the result in the HUB format,
with the event) and ``.txt`` (YOLO labels). Files are written to a temporary name and renamed, so a
reader never sees half a JPEG. Retention deletes whole events, oldest first.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import orjson

from edge.errors import CameraError

logger = logging.getLogger(__name__)

STAMP = "%Y%m%d-%H%M%S-%f"
STAMP_RE = re.compile(r"\d{8}-\d{6}-\d{6}")  # what STAMP writes: an event id's tail, safe in a glob


def stem_for(when: float, tag: str) -> str:
    """``when``: epoch seconds; ``tag``: e.g. the event classes."""
    stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime(STAMP)
    safe = "".join(c if c.isalnum() or c in "-+" else "_" for c in tag)[:80]
    return f"{stamp}_{safe}" if safe else stamp


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) u8 BGR -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CameraError("could not encode the frame as JPEG")
    return buf.tobytes()


def write_snapshot(folder: Path, stem: str, jpeg: bytes, body: dict[str, Any], labels: str | None
                   ) -> dict[str, str]:
    """Write ``stem``.jpg/.json/.txt into ``folder``; returns the paths written by extension."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / f"{stem}.json", "jpg": folder / f"{stem}.jpg"}
    _atomic_write(paths["json"], orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2))
    if labels is not None:
        paths["txt"] = folder / f"{stem}.txt"
        _atomic_write(paths["txt"], labels.encode())
    _atomic_write(paths["jpg"], jpeg)  # last: a .jpg means the event is complete
    return {k: str(v) for k, v in paths.items()}


class SnapshotStore:
    """The snapshot folder of one camera."""

    def __init__(self, folder: Path, max_count: int, max_age_days: float) -> None:
        self.folder = folder
        self.max_count = max_count
        self.max_age_s = max_age_days * 86400

    def save(self, when: float, tag: str, jpeg: bytes, body: dict[str, Any], labels: str | None
             ) -> dict[str, str]:
        """Blocking: write one event, then apply retention."""
        try:
            paths = write_snapshot(self.folder, stem_for(when, tag), jpeg, body, labels)
        except OSError as exc:
            raise CameraError(f"cannot write a snapshot to {self.folder}: {exc.strerror or exc}") from None
        self.prune()
        return paths

    def events(self) -> list[str]:
        """Stems of the complete events, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.jpg") if not p.name.startswith("."))

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Blocking: the bodies (``.json``) of the newest ``limit`` complete events, newest first, with
        ``snapshot``: the paths of their files (the body was written before they were known); an
        unreadable one is skipped (retention may delete it between the listing and the read)."""
        out: list[dict[str, Any]] = []
        for stem in reversed(self.events()):
            if len(out) >= limit:
                break
            paths = {ext: self.folder / f"{stem}.{ext}" for ext in ("jpg", "json", "txt")}
            try:
                body = orjson.loads(paths["json"].read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            out.append({**body, "snapshot": {ext: str(p) for ext, p in paths.items() if p.exists()}})
        return out

    def image_of(self, stamp: str) -> Path | None:
        """The JPEG of the event at ``stamp`` (``20261126-200351-123456``), or None."""
        if not STAMP_RE.fullmatch(stamp):
            return None
        found = sorted(self.folder.glob(f"{stamp}*.jpg")) if self.folder.is_dir() else []
        return found[0] if found else None

    def prune(self, now: float | None = None) -> list[str]:
        """Delete events older than the age limit, then the oldest past the count; returns their stems."""
        now = time.time() if now is None else now
        stems = self.events()
        doomed = [s for s in stems if now - self._time_of(s) > self.max_age_s]
        keep = [s for s in stems if s not in set(doomed)]
        if len(keep) > self.max_count:
            doomed += keep[:len(keep) - self.max_count]
        for stem in doomed:
            for ext in ("jpg", "json", "txt"):
                try:
                    (self.folder / f"{stem}.{ext}").unlink(missing_ok=True)
                except OSError as exc:
                    logger.warning("snapshots: cannot delete %s.%s: %s", stem, ext, exc)
        if doomed:
            logger.debug("snapshots %s: deleted %d old event(s)", self.folder, len(doomed))
        return doomed

    def _time_of(self, stem: str) -> float:
        try:
            return dt.datetime.strptime(stem[:22], STAMP).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:  # not ours; go by the file time
            try:
                return (self.folder / f"{stem}.jpg").stat().st_mtime
            except OSError:
                return time.time()
