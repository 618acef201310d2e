"""Extracting a tar (plain, gz, bz2, xz) while it downloads.

A tar has no directory, so its entries are checked as they stream: each name with the rules
of :mod:`mlenv_magics.archives` (absolute paths, ``..``, devices, capped extended headers),
each file against free space; regular files and folders are written at once, links only at
the end, after the whole member list passed the archive's full validation (chains of links,
duplicates, a name both a file and a folder). Decompression is bounded per read, and the
stream is read to its end, so gzip's CRC-32 and length are checked.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import archives
from ..archives import Member
from ..errors import ArchiveError
from .entries import BackgroundWrites, EntryDone, StagingWriter
from .errors import archive_errors

READ_SIZE = 1 << 20  # compressed bytes read at a time
WHOLE_ENTRY_MAX = 4 << 20  # files up to this size are read whole and written by a worker
_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}


def compression_of(head: bytes) -> str | None:
    """``"gz"``, ``"bz2"``, ``"xz"`` or None (plain), from the first bytes."""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


class Decompressed(io.RawIOBase):
    """The decompressed bytes of ``raw``, produced at most ``size`` bytes per read (a bomb
    never sits in memory); concatenated gzip members are read as one stream."""

    def __init__(self, raw: io.RawIOBase, kind: str | None) -> None:
        super().__init__()
        self.raw = raw
        self.kind = kind
        self._decompressor = self._new()
        self._pending = b""  # compressed bytes not given to the decompressor yet
        self._eof = False

    def _new(self) -> Any:
        if self.kind == "gz":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.kind == "bz2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor()
        return None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = READ_SIZE
        if self._decompressor is None:
            return self.raw.read(size) or b""
        while not self._eof:
            decompressor = self._decompressor
            if decompressor.eof:
                self._next_member(decompressor.unused_data)
                continue
            if self.kind == "gz" and decompressor.unconsumed_tail:
                data = decompressor.unconsumed_tail
            elif self.kind != "gz" and not decompressor.needs_input:
                data = b""  # output held back by the size limit comes first
            else:
                data = self._pending or self._read_raw()
                self._pending = b""
                if not data:
                    raise EOFError("the compressed stream ends early")
            out = decompressor.decompress(data, size)
            if out:
                return bytes(out)
        return b""

    def _next_member(self, leftover: bytes) -> None:
        """One compressed member ended: another follows, or only zero padding."""
        rest = leftover.lstrip(b"\x00")  # no compressed format starts with a zero byte
        while not rest:
            more = self._read_raw()
            if not more:
                self._eof = True
                return
            rest = more.lstrip(b"\x00")
        self._decompressor = self._new()
        self._pending = rest

    def _read_raw(self) -> bytes:
        read1 = getattr(self.raw, "read1", None)  # what has arrived, not a whole block
        data = read1(READ_SIZE) if read1 is not None else self.raw.read(READ_SIZE)
        return data or b""


def extract_tar(
    source: io.RawIOBase,
    staging: Path,
    *,
    archive: Path,
    free_space: Callable[[Path], int],
    select: Callable[[str], bool] | None = None,
    on_entry: EntryDone | None = None,
) -> list[str]:
    """Extract ``source`` (a tar named ``archive``, compressed or not) into ``staging``; the
    written relative paths in archive order."""
    writer = StagingWriter(archive, staging, on_entry)
    source.seek(0)
    head = source.read(8)
    source.seek(0)
    stream = Decompressed(source, compression_of(head))
    capped = type("CappedTarInfo", (archives.capped_tar_info,), {"archive_name": archive.name})
    members: list[Member] = []
    chosen: list[Member] = []
    background = BackgroundWrites(writer)
    with (
        _closing(background),
        archive_errors(archive),
        tarfile.open(fileobj=stream, mode="r|", tarinfo=capped, bufsize=READ_SIZE) as handle,  # type: ignore[call-overload]
    ):
        for info in handle:
            member = archives.tar_member(archive, info)
            if member is None:
                continue
            members.append(member)
            if select is not None and not select(member.name):
                continue
            chosen.append(member)
            try:
                _write_streamed(handle, info, member, writer, background, staging, free_space)
            except ArchiveError:
                archives.validate_members(archive, members)  # the rule it broke, if one did
                raise
            handle.members.clear()  # type: ignore[attr-defined]  # never looked up again
        while stream.read(READ_SIZE):  # the rest: padding, then gzip's CRC-32 and length
            pass
        try:
            background.drain()
        except ArchiveError:
            archives.validate_members(archive, members)
            raise
        archives.validate_members(archive, members)
        links = [m for m in chosen if m.kind in ("symlink", "hardlink")]
        _check_link_targets_chosen(archive, links, chosen)
        writer.write_links(links)
    return [m.name for m in chosen if m.kind != "dir"]


@contextmanager
def _closing(background: BackgroundWrites) -> Iterator[None]:
    try:
        yield
    finally:
        background.close()


def _write_streamed(
    handle: tarfile.TarFile,
    info: tarfile.TarInfo,
    member: Member,
    writer: StagingWriter,
    background: BackgroundWrites,
    staging: Path,
    free_space: Callable[[Path], int],
) -> None:
    from ..diskspace import check_free_space

    if member.kind == "dir":
        writer.folder(member)
    elif member.kind == "file":
        check_free_space(staging, member.size, free_space)
        extracted = handle.extractfile(info)
        if extracted is None:
            raise tarfile.ReadError(f"cannot read {member.name}")
        with extracted:
            if member.size <= WHOLE_ENTRY_MAX:
                background.submit(member, extracted.read(member.size + 1))
            else:
                background.drain()
                writer.file(member, extracted)  # streamed, never whole in memory


def _check_link_targets_chosen(archive: Path, links: list[Member], chosen: list[Member]) -> None:
    written = {m.name for m in chosen if m.kind == "file"}
    for member in links:
        if member.kind == "hardlink" and member.link not in written:
            raise archives.refuse_error(
                archive, member.name, "is a hard link to a file that was not selected"
            )
