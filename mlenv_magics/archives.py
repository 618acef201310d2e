"""Safe extraction of zip and tar (plain, gz, bz2, xz) archives.

Every entry is validated before anything is written: absolute names, ``..``, links that lead
outside the target, entries under a link, devices and duplicates are refused with ArchiveError
naming the entry. Extraction writes only regular files, folders and links that stay inside.
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import ArchiveError

_COMPRESSED_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
COPY_SIZE = 1 << 20


def archive_kind(path: Path) -> str | None:
    """``"zip"``, ``"tar"`` or None, from the file's content (not its name)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(_COMPRESSED_TAR_MAGIC) or len(head) == 512:
        try:
            return "tar" if tarfile.is_tarfile(path) else None
        except (OSError, EOFError, tarfile.TarError):
            return None
    return None


@dataclass(frozen=True)
class _Member:
    name: str  # normalized relative posix path
    kind: str  # "file", "dir", "symlink", "hardlink"
    size: int
    mode: int
    mtime: float | None
    link: str | None  # symlink: as stored; hardlink: normalized archive path
    info: zipfile.ZipInfo | tarfile.TarInfo | None = field(default=None, compare=False, repr=False)


def _corrupt(archive: Path, detail: object) -> ArchiveError:
    return ArchiveError(
        f"Corrupt archive {archive.name}: {detail}.",
        fix="Rerun with --force to fetch it again.",
    )


def _refuse(archive: Path, entry: str, why: str) -> ArchiveError:
    return ArchiveError(
        f"Refusing to extract {archive.name}: entry {entry!r} {why}. Nothing was extracted.",
        fix="The archive is unsafe; report it to the data source's owner.",
    )


def _normalize(archive: Path, raw_name: str) -> str | None:
    """The entry's relative posix path, None for the archive root itself, or ArchiveError."""
    name = raw_name.replace("\\", "/")
    if "\x00" in name:
        raise _refuse(archive, raw_name, "contains a NUL character")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(archive, raw_name, "has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, raw_name, "climbs out of the folder with '..'")
    return "/".join(parts) or None


def _link_stays_inside(member_name: str, link_target: str) -> bool:
    if link_target.startswith("/") or "\x00" in link_target:
        return False
    depth = len(PurePosixPath(member_name).parent.parts)
    for part in link_target.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return False
    return True


def _validate(archive: Path, members: list[_Member]) -> None:
    seen: dict[str, str] = {}
    links = {m.name for m in members if m.kind == "symlink"}
    for member in members:
        if member.name in seen and (member.kind != "dir" or seen[member.name] != "dir"):
            raise _refuse(archive, member.name, "appears twice")
        seen[member.name] = member.kind
        parents = PurePosixPath(member.name).parents
        if any(str(parent) in links for parent in parents if str(parent) != "."):
            raise _refuse(archive, member.name, "lies under a symbolic link")
        if member.kind == "symlink":
            if not member.link or not _link_stays_inside(member.name, member.link):
                raise _refuse(archive, member.name, f"links outside the folder ({member.link})")
        elif member.kind == "hardlink":
            if member.link is None:
                raise _refuse(archive, member.name, "is a hard link outside the folder")
            if seen.get(member.link) != "file":
                raise _refuse(archive, member.name, "is a hard link to something not extracted")


# --------------------------------------------------------------------------- readers


def _zip_members(archive: Path, handle: zipfile.ZipFile) -> list[_Member]:
    members = []
    for info in handle.infolist():
        name = _normalize(archive, info.filename)
        if name is None:
            continue
        unix_mode = info.external_attr >> 16
        mtime = None
        try:
            import calendar

            mtime = float(calendar.timegm((*info.date_time, 0, 0, 0)))
        except (ValueError, OverflowError):
            pass
        if info.is_dir():
            members.append(_Member(name, "dir", 0, 0o755, mtime, None))
        elif stat.S_ISLNK(unix_mode):
            target = handle.read(info).decode("utf-8", "replace")
            members.append(_Member(name, "symlink", 0, 0o777, mtime, target))
        else:
            mode = unix_mode & 0o777
            members.append(_Member(name, "file", info.file_size, mode, mtime, None, info))
    return members


def _tar_members(archive: Path, handle: tarfile.TarFile) -> list[_Member]:
    members = []
    for info in handle.getmembers():
        name = _normalize(archive, info.name)
        if name is None:
            continue
        if info.isdir():
            members.append(_Member(name, "dir", 0, 0o755, info.mtime, None))
        elif info.issym():
            members.append(_Member(name, "symlink", 0, 0o777, info.mtime, info.linkname))
        elif info.islnk():
            try:
                target = _normalize(archive, info.linkname)
            except ArchiveError:
                raise _refuse(
                    archive, info.name, f"is a hard link outside the folder ({info.linkname})"
                ) from None
            members.append(_Member(name, "hardlink", 0, info.mode, info.mtime, target))
        elif info.isfile():
            members.append(_Member(name, "file", info.size, info.mode, info.mtime, None, info))
        else:
            raise _refuse(archive, info.name, "is a device, FIFO or other special file")
    return members


@contextmanager
def _open_archive(archive: Path) -> Iterator[tuple[str, zipfile.ZipFile | tarfile.TarFile]]:
    kind = archive_kind(archive)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as handle:
                yield kind, handle
        elif kind == "tar":
            with tarfile.open(archive) as handle:
                yield kind, handle
        else:
            raise _corrupt(archive, "not a zip or tar archive")
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        tarfile.TarError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        NotImplementedError,  # an unsupported zip compression method
    ) as exc:
        raise _corrupt(archive, exc) from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a real filesystem error (disk full, permissions), not a bad archive
        raise _corrupt(archive, exc) from None


# --------------------------------------------------------------------------- extraction


def extract(
    archive: Path,
    target: Path,
    *,
    free_space: Callable[[Path], int] | None = None,
) -> list[str]:
    """Extract into ``target`` (normally an empty staging folder); refuse absolute paths,
    ``..`` and links leading outside (ArchiveError, nothing written outside). Checks free space
    first (DiskSpaceError; ``free_space`` defaults to ``shutil.disk_usage``). A corrupt archive
    raises ArchiveError. Returns the extracted relative paths (files and links)."""
    from .diskspace import check_free_space, disk_free_bytes

    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with _open_archive(archive) as (_kind, handle):
        if isinstance(handle, zipfile.ZipFile):
            members = _zip_members(archive, handle)
        else:
            members = _tar_members(archive, handle)
        _validate(archive, members)
        needed = sum(member.size for member in members if member.kind == "file")
        check_free_space(target, needed, free_space or disk_free_bytes)
        written: list[str] = []
        for member in members:
            destination = root.joinpath(*member.name.split("/"))
            if member.kind == "dir":
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if _is_outside(root, destination.parent):
                raise _refuse(archive, member.name, "would be written outside the folder")
            if member.kind == "symlink":
                assert member.link is not None
                os.symlink(member.link, destination)
            elif member.kind == "hardlink":
                assert member.link is not None
                shutil.copyfile(root.joinpath(*member.link.split("/")), destination)
                _finish(destination, member)
            else:
                with _member_stream(handle, member) as source:
                    _write_new_file(destination, source)
                _finish(destination, member)
            written.append(member.name)
    return written


def _is_outside(root: Path, folder: Path) -> bool:
    resolved = folder.resolve()
    return resolved != root and root not in resolved.parents


@contextmanager
def _member_stream(
    handle: zipfile.ZipFile | tarfile.TarFile, member: _Member
) -> Iterator[IO[bytes]]:
    if isinstance(handle, zipfile.ZipFile):
        assert isinstance(member.info, zipfile.ZipInfo)
        with handle.open(member.info) as stream:
            yield stream
        return
    assert isinstance(member.info, tarfile.TarInfo)
    tar_stream = handle.extractfile(member.info)
    if tar_stream is None:
        raise tarfile.ReadError(f"cannot read {member.name}")
    with tar_stream:
        yield tar_stream


def _write_new_file(destination: Path, source: IO[bytes]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(destination, flags, 0o644)
    with os.fdopen(descriptor, "wb") as out:
        shutil.copyfileobj(source, out, COPY_SIZE)


def _finish(destination: Path, member: _Member) -> None:
    mode = 0o755 if member.mode & 0o111 else 0o644
    os.chmod(destination, mode)
    if member.mtime is not None:
        with suppress(OSError, OverflowError, ValueError):
            os.utime(destination, (member.mtime, member.mtime))
