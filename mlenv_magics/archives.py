"""Safe extraction of zip and tar (plain, gz, bz2, xz) archives.

Every entry is validated before anything is written: absolute names, ``..``, drive letters,
links that lead outside the target (resolved through every other link in the archive, as the
kernel would), entries under a link, devices, duplicates and names that are both a file and a
folder are refused with ArchiveError naming the entry. Link targets and tar extended headers
are capped in size before they are read. Extraction writes only regular files, folders and
links that stay inside.
"""

from __future__ import annotations

import errno
import lzma
import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import ArchiveError
from .pathnames import has_drive_prefix

_COMPRESSED_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
COPY_SIZE = 1 << 20
MAX_LINK_TARGET = 4096  # bytes of a symbolic link's target (Linux PATH_MAX)
MAX_LINK_HOPS = 40  # links followed while resolving one target (the kernel's limit)
MAX_TAR_EXTENSION = 1 << 20  # bytes of one tar long-name or pax header
_SHOWN_CHARS = 120  # of a name or link target quoted in a message
# Errors creating an entry that come from the entry itself, not from the disk.
_ENTRY_ERRNOS = frozenset(
    {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL}
    | {getattr(errno, "EILSEQ", errno.EINVAL)}
)


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


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _refuse(archive: Path, entry: str, why: str, *, before_writing: bool = True) -> ArchiveError:
    after = " Nothing was extracted." if before_writing else ""
    return ArchiveError(
        f"Refusing to extract {archive.name}: entry {_shown(entry)!r} {why}.{after}",
        fix="The archive is unsafe; report it to the data source's owner.",
    )


def _normalize(archive: Path, raw_name: str) -> str | None:
    """The entry's relative posix path, None for the archive root itself, or ArchiveError."""
    name = raw_name.replace("\\", "/")
    if "\x00" in name:
        raise _refuse(archive, raw_name, "contains a NUL character")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or any(has_drive_prefix(part) for part in parts):
        raise _refuse(archive, raw_name, "has an absolute path")
    if ".." in parts:
        raise _refuse(archive, raw_name, "climbs out of the folder with '..'")
    return "/".join(parts) or None


def _fold(name: str) -> str:
    """How a case-insensitive, normalizing filesystem (macOS, Windows) compares names."""
    return unicodedata.normalize("NFC", name).casefold()


def _link_parts(target: str) -> list[str]:
    return target.replace("\\", "/").split("/")


def _link_resolves_inside(name: str, links: dict[str, str]) -> bool:
    """Whether the link ``name`` resolves inside the root when every link of the archive
    (``links``: folded name -> target) is followed the way the kernel follows it."""
    folder = list(PurePosixPath(name).parent.parts)
    pending = list(reversed(_link_parts(links[_fold(name)])))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not folder:
                return False
            folder.pop()
            continue
        folder.append(part)
        target = links.get(_fold("/".join(folder)))
        if target is None:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/"):
            return False
        folder.pop()  # a link: its target replaces it, relative to the link's folder
        pending.extend(reversed(_link_parts(target)))
    return True


def _link_problem(member: _Member, links: dict[str, str]) -> str | None:
    target = member.link or ""
    if not target:
        return "is a symbolic link with an empty target"
    if len(target.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET:
        return f"is a symbolic link with a target longer than {MAX_LINK_TARGET} bytes"
    if "\x00" in target or any(has_drive_prefix(part) for part in _link_parts(target)):
        return f"links outside the folder ({_shown(target)})"
    if target.startswith("/") or not _link_resolves_inside(member.name, links):
        return f"links outside the folder ({_shown(target)})"
    return None


def _validate(archive: Path, members: list[_Member]) -> None:
    seen: dict[str, str] = {}
    links = {_fold(m.name): m.link or "" for m in members if m.kind == "symlink"}
    link_names = {_fold(m.name): m.name for m in members if m.kind == "symlink"}
    folders = {str(parent) for m in members for parent in PurePosixPath(m.name).parents} - {"."}
    folders |= {m.name for m in members if m.kind == "dir"}
    for member in members:
        if member.name in seen and (member.kind != "dir" or seen[member.name] != "dir"):
            raise _refuse(archive, member.name, "appears twice")
        seen[member.name] = member.kind
        if member.kind in ("file", "hardlink") and member.name in folders:
            raise _refuse(archive, member.name, "is both a file and a folder")
        if link_names.get(_fold(member.name), member.name) != member.name:
            raise _refuse(archive, member.name, "differs only in case from a symbolic link")
        parents = PurePosixPath(member.name).parents
        if any(_fold(str(parent)) in links for parent in parents if str(parent) != "."):
            raise _refuse(archive, member.name, "lies under a symbolic link")
        if member.kind == "symlink":
            problem = _link_problem(member, links)
            if problem is not None:
                raise _refuse(archive, member.name, problem)
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
            members.append(
                _Member(name, "symlink", 0, 0o777, mtime, _zip_link(archive, handle, info))
            )
        else:
            mode = unix_mode & 0o777
            members.append(_Member(name, "file", info.file_size, mode, mtime, None, info))
    return members


def _zip_link(archive: Path, handle: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """A zip symlink's target, read only when it is small: the entry's data is the target."""
    if info.file_size > MAX_LINK_TARGET:
        raise _refuse(
            archive,
            info.filename,
            f"is a symbolic link with a target longer than {MAX_LINK_TARGET} bytes",
        )
    with handle.open(info) as stream:
        return stream.read(MAX_LINK_TARGET + 1).decode("utf-8", "replace")


class _CappedTarInfo(tarfile.TarInfo):
    """Refuses a long-name or pax header bigger than MAX_TAR_EXTENSION before it is read
    (tarfile reads such headers whole into memory)."""

    _EXTENSION_TYPES = (
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    )
    archive_name = "archive"

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        if self.type in self._EXTENSION_TYPES and self.size > MAX_TAR_EXTENSION:
            raise ArchiveError(
                f"Refusing to extract {self.archive_name}: an extended header of {self.size}"
                f" bytes (more than {MAX_TAR_EXTENSION}). Nothing was extracted.",
                fix="The archive is unsafe; report it to the data source's owner.",
            )
        return super()._proc_member(tarfile)  # type: ignore[misc]


def _tar_members(archive: Path, handle: tarfile.TarFile) -> list[_Member]:
    members = []
    for info in handle.getmembers():
        member = _tar_member(archive, info)
        if member is not None:
            members.append(member)
    return members


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member | None:
    """One tar entry as a member (None for the archive root itself), or ArchiveError."""
    name = _normalize(archive, info.name)
    if name is None:
        return None
    if info.isdir():
        return _Member(name, "dir", 0, 0o755, info.mtime, None)
    if info.issym():
        return _Member(name, "symlink", 0, 0o777, info.mtime, info.linkname)
    if info.islnk():
        try:
            target = _normalize(archive, info.linkname)
        except ArchiveError:
            raise _refuse(
                archive, info.name, f"is a hard link outside the folder ({_shown(info.linkname)})"
            ) from None
        return _Member(name, "hardlink", 0, info.mode, info.mtime, target)
    if info.isfile():
        return _Member(name, "file", info.size, info.mode, info.mtime, None, info)
    raise _refuse(archive, info.name, "is a device, FIFO or other special file")


@contextmanager
def _open_archive(archive: Path) -> Iterator[tuple[str, zipfile.ZipFile | tarfile.TarFile]]:
    kind = archive_kind(archive)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as handle:
                yield kind, handle
        elif kind == "tar":
            capped = type("CappedTarInfo", (_CappedTarInfo,), {"archive_name": archive.name})
            with tarfile.open(archive, tarinfo=capped) as handle:
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
            if _write_member(archive, handle, root, member):
                written.append(member.name)
    return written


def _write_member(
    archive: Path, handle: zipfile.ZipFile | tarfile.TarFile, root: Path, member: _Member
) -> bool:
    """Create one validated entry under ``root``; True for files and links.

    An error that comes from the entry itself (a name too long, a file where a folder must
    be) becomes ArchiveError; one from the disk (full, read-only) propagates unchanged."""
    destination = root.joinpath(*member.name.split("/"))
    try:
        if member.kind == "dir":
            destination.mkdir(parents=True, exist_ok=True)
            return False
        destination.parent.mkdir(parents=True, exist_ok=True)
        if _is_outside(root, destination.parent):
            raise _refuse(
                archive, member.name, "would be written outside the folder", before_writing=False
            )
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
    except OSError as exc:
        if exc.errno not in _ENTRY_ERRNOS:
            raise
        reason = os.strerror(exc.errno) if exc.errno is not None else "invalid"
        problem = _refuse(
            archive, member.name, f"cannot be created ({reason})", before_writing=False
        )
    else:
        return True
    raise problem  # outside the handler: the OSError (with its long file name) is not chained


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


# --------------------------------------------------------------------------- shared rules
# The streaming extractor (``extract/``) applies exactly these rules through these names.
Member = _Member
ENTRY_ERRNOS = _ENTRY_ERRNOS
capped_tar_info = _CappedTarInfo
corrupt_error = _corrupt
refuse_error = _refuse
validate_members = _validate
zip_members = _zip_members
tar_member = _tar_member
write_new_file = _write_new_file
finish_file = _finish
is_outside = _is_outside
