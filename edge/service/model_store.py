"""The models folder on disk, changed so that a crash at any moment leaves it whole.

An upload is written into a hidden staging folder inside ``models.dir`` (same filesystem, skipped by the
repository scan), then put in place with one ``rename``: for a new MODEL_ID a plain rename, for a
replacement an atomic exchange of the two folders (Linux ``renameat2(RENAME_EXCHANGE)``), after which
the staging folder holds the old model and is deleted. A delete renames the folder into a hidden
trash name, then deletes it. A process killed half-way leaves only hidden ``.yolo-edge-*`` entries,
which ``clean_leftovers`` removes at the next start; the served folders are always complete.

Where the exchange is not supported, two renames are used and the staging folder records the
MODEL_ID, so ``clean_leftovers`` can put a previous model back if the process died between them.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edge.errors import StorageError

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".yolo-edge-upload-"
TRASH_PREFIX = ".yolo-edge-trash-"
UPLOAD_INFO = ".yolo-edge-upload.json"  # written into an uploaded model's folder: sha256, size, time
TARGET_FILE = "target"  # in a staging folder: the MODEL_ID it is for
PREVIOUS = "previous"  # in a staging folder, fallback only: the model being replaced, between two renames
REPORT_MAX = 1 << 20  # report.json larger than this is not returned

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def storage_error(exc: OSError, what: str) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(f"{what}: no space left on the device holding models.dir")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"{what}: models.dir is not writable by the daemon's user ({exc.strerror})")
    return StorageError(f"{what}: {exc.strerror or exc}")


def new_staging(models_dir: Path, model_id: str) -> Path:
    """A fresh hidden folder in ``models_dir`` for one upload of ``model_id``."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{model_id}-", dir=models_dir))
        (staging / TARGET_FILE).write_text(model_id)
    except OSError as exc:
        raise storage_error(exc, "cannot stage the upload") from None
    return staging


def discard(path: Path) -> None:
    """Delete ``path``: a symlink is unlinked (never followed), a folder removed with its content."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
    except OSError as exc:
        logger.warning("could not remove %s: %s", path, exc)


def clean_leftovers(models_dir: Path) -> list[str]:
    """At start: put back a model a crash left between two renames, then remove every staging and trash
    entry. Returns the names removed."""
    if not models_dir.is_dir():
        return []
    removed = []
    for entry in sorted(models_dir.iterdir()):
        if not entry.name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
            continue
        previous = entry / PREVIOUS
        if entry.is_dir() and not entry.is_symlink() and (previous.exists() or previous.is_symlink()):
            model_id = (entry / TARGET_FILE).read_text().strip() if (entry / TARGET_FILE).is_file() else ""
            target = models_dir / model_id
            if model_id and not (target.exists() or target.is_symlink()):
                try:
                    os.rename(previous, target)
                except OSError as exc:
                    logger.error("start: could not restore model %s from %s: %s", model_id, entry, exc)
                    continue
                logger.warning("start: restored model %s, which an interrupted replacement had moved aside", model_id)
        discard(entry)
        removed.append(entry.name)
    if removed:
        logger.warning("start: removed what interrupted model changes left in %s: %s", models_dir, ", ".join(removed))
        _sync_dir(models_dir)
    return removed


def install(folder: Path, models_dir: Path, model_id: str, staging: Path) -> Path:
    """Put the unpacked model ``folder`` (inside ``staging``) in place as ``models_dir/model_id``, in one
    step; a model already there ends up inside ``staging`` (to be discarded with it)."""
    target = models_dir / model_id
    try:
        if target.exists() or target.is_symlink():
            if not _exchange(folder, target):
                os.rename(target, staging / PREVIOUS)  # fallback: a crash here is undone by clean_leftovers
                try:
                    os.rename(folder, target)
                except OSError:
                    os.rename(staging / PREVIOUS, target)
                    raise
        else:
            os.rename(folder, target)
    except OSError as exc:
        raise storage_error(exc, f"cannot put model {model_id} in place") from None
    _sync_dir(models_dir)
    return target


def remove(models_dir: Path, model_id: str) -> None:
    """Take ``models_dir/model_id`` out in one rename, then delete it (a symlink is unlinked, never followed)."""
    target = models_dir / model_id
    if not (target.exists() or target.is_symlink()):
        return
    trash = models_dir / f"{TRASH_PREFIX}{model_id}-{os.urandom(4).hex()}"
    try:
        os.rename(target, trash)
    except OSError as exc:
        raise storage_error(exc, f"cannot remove model {model_id}") from None
    _sync_dir(models_dir)
    discard(trash)


def write_upload_info(folder: Path, info: dict[str, Any]) -> None:
    try:
        (folder / UPLOAD_INFO).write_text(json.dumps(info, indent=1))
    except OSError as exc:
        raise storage_error(exc, "cannot write the upload record") from None


def folder_info(folder: Path) -> dict[str, Any]:
    """What is on disk for one model: its files and their total size, the upload record, report.json."""
    out: dict[str, Any] = {"files": {}, "bytes": 0, "upload": None, "report": None}
    if not folder.is_dir():
        return out
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != UPLOAD_INFO:
            size = path.stat().st_size
            out["files"][str(path.relative_to(folder))] = size
            out["bytes"] += size
    out["upload"] = _read_json(folder / UPLOAD_INFO)
    out["report"] = _read_json(folder / "report.json")
    return out


def _read_json(path: Path) -> Any:
    try:
        if path.is_file() and path.stat().st_size <= REPORT_MAX:
            return json.loads(path.read_text())
    except (OSError, ValueError):
        logger.warning("%s is not readable JSON; left out of the model's description", path)
    return None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux >= 3.15); False where the call or the filesystem lacks it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (it survives a power cut, not only a killed process)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
