"""Model bundle archives for the model-management tests: good ones packed from real exports, and
hostile ones (absolute paths, ``..``, links, devices, bombs) built member by member."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

ADMIN_KEY = "admin-key-0123456789"


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def pack(files: dict[str, bytes], kind: str = "tar.gz", folder: str = "") -> bytes:
    """``files`` (name -> content) as a ``tar``, ``tar.gz`` or ``zip``, at the top or inside ``folder``."""
    prefix = f"{folder}/" if folder else ""
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(prefix + name, data)
        return buf.getvalue()
    with tarfile.open(fileobj=buf, mode="w:gz" if kind == "tar.gz" else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pack_folder(folder: Path, kind: str = "tar.gz", nested: str = "") -> bytes:
    return pack(files_of(folder), kind, nested)


def tar_with(good: dict[str, bytes], *extra: tarfile.TarInfo, gz: bool = True) -> bytes:
    """A good bundle plus hand-made members (links, devices, odd paths) after it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in good.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = link
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null
    return info


def zip_with_symlink(good: dict[str, bytes], name: str, target: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in good.items():
            z.writestr(n, data)
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, target)
    return buf.getvalue()
