"""Extracting a zip while it downloads.

The central directory (at the end of the file) is read first: the transfer fetches the file's
last chunk first, so it is on disk almost at once. Every entry is then validated with the rules
of :mod:`mlenv_magics.archives` and the sizes are checked against free space before anything is
written; entries are extracted in file order as the downloaded prefix covers them, each
inflated in bounded pieces and checked against its CRC-32 (``zipfile`` does both).
"""

from __future__ import annotations

import zipfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .. import archives
from ..archives import Member
from .covered_file import CoveredFile
from .entries import EntryDone, StagingWriter
from .errors import archive_errors

PARALLEL_ENTRIES = 3  # entries inflated and written at once (zlib and writes release the GIL)
WHOLE_ENTRY_MAX = 8 << 20  # entries up to this many compressed bytes go to a worker whole


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
    paths in archive order. ``select`` keeps only the entries whose name it accepts.

    Entries are taken in file order: a small one once all its bytes are on disk, by one of a
    few workers; a large one streamed as its bytes arrive."""
    from ..diskspace import check_free_space

    writer = StagingWriter(archive, staging, on_entry)
    with archive_errors(archive), zipfile.ZipFile(source) as handle:
        members = archives.zip_members(archive, handle)  # link targets are read here
        archives.validate_members(archive, members)
        chosen = [m for m in members if select is None or select(m.name)]
        needed = sum(member.size for member in chosen if member.kind == "file")
        check_free_space(staging, needed, free_space)
        for member in chosen:
            if member.kind == "dir":
                writer.folder(member)
        files = sorted((m for m in chosen if m.kind == "file"), key=_info_of_offset)
        _extract_files(source, handle, files, writer)
        writer.write_links([m for m in chosen if m.kind in ("symlink", "hardlink")])
    return [m.name for m in chosen if m.kind != "dir"]


def _extract_files(
    source: CoveredFile, handle: zipfile.ZipFile, files: list[Member], writer: StagingWriter
) -> None:
    ends = _entry_ends(handle)
    pending: deque[Future[None]] = deque()
    pool = ThreadPoolExecutor(PARALLEL_ENTRIES, thread_name_prefix="mlenv-unzip")
    try:
        for member in files:
            info = _info(member)
            if info.compress_size <= WHOLE_ENTRY_MAX:
                # every byte of the entry on disk first: a worker never waits holding the file
                source.coverage.wait(
                    info.header_offset, ends[info.header_offset], source.generation
                )
                pending.append(pool.submit(_extract_one, handle, member, writer))
            else:
                while pending:
                    pending.popleft().result()
                _extract_one(handle, member, writer)  # streamed as its bytes arrive
            while len(pending) > 2 * PARALLEL_ENTRIES:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _extract_one(handle: zipfile.ZipFile, member: Member, writer: StagingWriter) -> None:
    with handle.open(_info(member)) as stream:  # inflated in pieces, CRC-32 checked at its end
        writer.file(member, stream)


def _entry_ends(handle: zipfile.ZipFile) -> dict[int, int]:
    """Where each entry's bytes end at the latest: the next entry's start, or the directory."""
    starts = sorted({info.header_offset for info in handle.infolist()})
    directory = getattr(handle, "start_dir", None)
    last = directory if isinstance(directory, int) else starts[-1] if starts else 0
    bounds = [*starts[1:], max(last, starts[-1] if starts else 0)]
    return dict(zip(starts, bounds, strict=True))


def _info(member: Member) -> zipfile.ZipInfo:
    assert isinstance(member.info, zipfile.ZipInfo)
    return member.info


def _info_of_offset(member: Member) -> int:
    return _info(member).header_offset
