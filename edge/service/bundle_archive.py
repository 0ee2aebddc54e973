"""Unpacking an uploaded model bundle (tar, tar.gz or zip) without trusting it.

Nothing is extracted by the archive libraries themselves: each member is checked first and written by
hand, so a member can never land outside the destination or be anything but a plain file or folder.
Refused, naming the member: absolute paths, ``..``, backslashes, links (symbolic and hard), devices,
FIFOs, duplicates, encrypted zip members; more than ``Limits.max_members`` members; a file larger than
``max_file`` or a total larger than ``max_total`` (counted on the bytes actually written, so a lying
header does not help).
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from edge.errors import BadBundle, InvalidModel, PayloadTooLarge, UnsupportedMediaType

CHUNK = 1 << 20
ACCEPTED = "a tar, tar.gz or zip archive"
IGNORED_TOP = ("__MACOSX",)  # what macOS's Finder adds to a zip


@dataclass(frozen=True)
class Limits:
    """Sizes in bytes: the largest file inside, the largest total unpacked; and the most members."""

    max_file: int
    max_total: int
    max_members: int = 1000


def archive_kind(head: bytes) -> str:
    """``zip``, ``gzip`` or ``tar`` from the first 512 bytes; UnsupportedMediaType for anything else."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[257:262] == b"ustar":
        return "tar"
    raise UnsupportedMediaType(f"the body is not {ACCEPTED} (send the model folder packed with "
                               "`tar czf` or zip, or use `yolo-edge push`)")


def member_parts(name: str) -> tuple[str, ...]:
    """The path components of archive member ``name``; BadBundle when it could leave the destination."""
    shown = name[:80]
    if "\x00" in name or "\\" in name:
        raise BadBundle(f"archive member {shown!r}: a NUL or backslash in a path is not allowed")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BadBundle(f"archive member {shown!r}: absolute paths are not allowed")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise BadBundle(f"archive member {shown!r}: '..' in a path is not allowed")
    if any(len(p.encode()) > 255 for p in parts):
        raise BadBundle(f"archive member {shown!r}: a path component is longer than 255 bytes")
    return parts


@dataclass
class _Member:
    name: str
    kind: str  # "file", "dir" or why it is refused
    size: int
    open: object = None  # () -> IO[bytes] for files


def _tar_members(path: Path) -> Iterator[_Member]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:  # headers are read one by one: a million members stop at max_members
                kind = "file" if m.isreg() else "dir" if m.isdir() else \
                    "a symbolic link" if m.issym() else "a hard link" if m.islnk() else \
                    "a device" if (m.ischr() or m.isblk()) else "a FIFO" if m.isfifo() else "an unsupported type"
                yield _Member(m.name, kind, m.size, (lambda m=m: tar.extractfile(m)))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadBundle(f"the tar archive cannot be read: {str(exc)[:120]}") from None


def _zip_members(path: Path) -> Iterator[_Member]:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16 if info.create_system == 3 else 0  # 3: made on Unix
                if info.flag_bits & 0x1:
                    kind = "encrypted"
                elif stat.S_ISLNK(mode):
                    kind = "a symbolic link"
                elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                    kind = "a device"
                elif stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                    kind = "a FIFO"
                else:
                    kind = "dir" if info.is_dir() else "file"
                yield _Member(info.filename, kind, info.file_size, (lambda i=info: archive.open(i)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise BadBundle(f"the zip archive cannot be read: {str(exc)[:120]}") from None


def unpack(archive: Path, dest: Path, limits: Limits) -> Path:
    """Unpack ``archive`` into the empty folder ``dest``; return the model folder: ``dest`` when the
    files are at the top, or the one folder that holds them. Raises BadBundle, PayloadTooLarge,
    UnsupportedMediaType or InvalidModel (no model files where expected)."""
    with archive.open("rb") as f:
        kind = archive_kind(f.read(512))
    members = _zip_members(archive) if kind == "zip" else _tar_members(archive)
    try:
        _unpack_members(members, dest, limits)
    finally:
        members.close()  # closes the archive
    return model_folder(dest)


def _unpack_members(members: Iterator[_Member], dest: Path, limits: Limits) -> None:
    seen: set[tuple[str, ...]] = set()
    total = 0
    for count, member in enumerate(members, 1):
        if count > limits.max_members:
            raise BadBundle(f"the archive has more than {limits.max_members} members; a model bundle has a handful")
        parts = member_parts(member.name)
        if member.kind not in ("file", "dir"):
            raise BadBundle(f"archive member {member.name[:80]!r} is {member.kind}; only plain files and "
                            "folders are allowed")
        if not parts:
            continue
        if parts in seen:
            raise BadBundle(f"archive member {member.name[:80]!r} appears twice")
        seen.add(parts)
        target = dest.joinpath(*parts)
        if member.kind == "dir":
            _mkdir(target, dest, member.name)
            continue
        if member.size > limits.max_file:
            raise _too_large(member.name, member.size, limits.max_file, "file")
        _mkdir(target.parent, dest, member.name)
        total += _write(member, target, limits, total)


def _mkdir(folder: Path, dest: Path, name: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BadBundle(f"archive member {name[:80]!r}: a file and a folder share a path") from None
    if not folder.resolve().is_relative_to(dest.resolve()):  # cannot happen after member_parts; kept cheap
        raise BadBundle(f"archive member {name[:80]!r} leaves the bundle folder")


def _write(member: _Member, target: Path, limits: Limits, total: int) -> int:
    """Copy one member, counting the bytes really written against both limits; returns its size."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    except FileExistsError:
        raise BadBundle(f"archive member {member.name[:80]!r}: a file and a folder share a path") from None
    written = 0
    with os.fdopen(fd, "wb") as out:
        try:
            source: IO[bytes] | None = member.open()  # type: ignore[operator]
            if source is None:
                raise BadBundle(f"archive member {member.name[:80]!r} cannot be read")
            with source:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > limits.max_file:
                        raise _too_large(member.name, written, limits.max_file, "file")
                    if total + written > limits.max_total:
                        raise PayloadTooLarge(f"the archive unpacks to more than {limits.max_total / 2**20:g} MB "
                                              "(models.upload_max_mb)")
                    out.write(chunk)
        except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise BadBundle(f"archive member {member.name[:80]!r} cannot be read: {str(exc)[:120]}") from None
        out.flush()
        os.fsync(out.fileno())  # on disk before it is renamed into place
    return written


def _too_large(name: str, size: int, limit: int, what: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"archive member {name[:80]!r} is {size / 2**20:.1f} MB; a {what} may be at most "
                           f"{limit / 2**20:g} MB (models.upload_max_file_mb)")


def model_folder(dest: Path) -> Path:
    """``dest`` when files lie at its top, else its only folder; InvalidModel otherwise (what is
    missing inside is for ``read_model_folder`` to say)."""
    top = [p for p in dest.iterdir() if p.name not in IGNORED_TOP]
    if any(p.is_file() for p in top):
        return dest
    if len(top) == 1:
        return top[0]
    found = ", ".join(sorted(p.name + "/" for p in top)[:8]) or "nothing"
    raise InvalidModel("the bundle must hold the model files (.xml, .bin, metadata.yaml) at the top of the "
                       f"archive or inside one folder; found: {found}")
