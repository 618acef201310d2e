"""Extracting a zip while it downloads.

The central directory (at the end of the file) is read first: the transfer fetches the file's
last chunk first, so it is on disk almost at once. Every entry is then validated with the rules
of :mod:`mlenv_magics.archives` and the sizes are checked against free space before anything is
written; entries are extracted in file order as the downloaded prefix covers them, each
inflated in bounded pieces and checked against its CRC-32 (``zipfile`` does both).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from .. import archives
from ..archives import Member
from .covered_file import CoveredFile
from .entries import EntryDone, StagingWriter
from .errors import archive_errors, corrupt_from


def extract_zip(
    source: CoveredFile,
    staging: Path,
    *,
    archive: Path,
    free_space: Callable[[Path], int],
    select: Callable[[str], bool] | None = None,
    on_entry: EntryDone | None = None,
) -> list[str]:
    """Extract ``source`` (a zip named ``archive``) into ``staging``; the written relative
    paths in archive order. ``select`` keeps only the entries whose name it accepts."""
    from ..diskspace import check_free_space

    writer = StagingWriter(archive, staging, on_entry)
    with archive_errors(archive), zipfile.ZipFile(source) as handle:
        members = archives.zip_members(archive, handle)  # link targets are read here
        archives.validate_members(archive, members)
        chosen = [m for m in members if select is None or select(m.name)]
        needed = sum(member.size for member in chosen if member.kind == "file")
        check_free_space(staging, needed, free_space)
        files = [m for m in chosen if m.kind == "file"]
        files.sort(key=_offset)  # in download order
        for member in chosen:
            if member.kind == "dir":
                writer.folder(member)
        for member in files:
            assert isinstance(member.info, zipfile.ZipInfo)
            with handle.open(member.info) as stream:
                writer.file(member, stream)
        writer.write_links([m for m in chosen if m.kind in ("symlink", "hardlink")])
    _check_complete(archive, files)
    return [m.name for m in chosen if m.kind != "dir"]


def _offset(member: Member) -> int:
    assert isinstance(member.info, zipfile.ZipInfo)
    return member.info.header_offset


def _check_complete(archive: Path, files: list[Member]) -> None:
    for member in files:
        info = member.info
        assert isinstance(info, zipfile.ZipInfo)
        if info.file_size != member.size:
            raise corrupt_from(archive, f"entry {member.name!r} changed size")
