"""Which kind of archive a name or its first bytes say, and extraction of either as it arrives."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

from .covered_file import CoveredFile
from .entries import EntryDone
from .tar_stream import compression_of, extract_tar
from .zip_stream import extract_zip

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def streamed_kind(head: bytes) -> str | None:
    """``"zip"``, ``"tar"`` or None, from the first 512 bytes (as ``archives.archive_kind``)."""
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if compression_of(head) is not None:
        return "tar"
    if len(head) >= 512:
        if head[257:262] == b"ustar":
            return "tar"
        try:
            tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return None
        return "tar"
    return None


def kind_from_name(name: str) -> str | None:
    """``"zip"`` or ``"tar"`` when the name says so (``.zip``, ``.tar``, ``.tar.gz``...)."""
    lowered = name.lower()
    if lowered.endswith(".zip"):
        return "zip"
    if lowered.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return "tar"
    return None


def extract_streaming(
    source: CoveredFile,
    staging: Path,
    *,
    archive: Path,
    kind: str | None = None,
    free_space: Callable[[Path], int] | None = None,
    select: Callable[[str], bool] | None = None,
    on_entry: EntryDone | None = None,
) -> list[str]:
    """Extract the archive ``source`` reads (named ``archive`` in messages) into ``staging``
    as its bytes arrive; the written relative paths (files and links). Refuses what
    :func:`mlenv_magics.archives.extract` refuses, with the same messages. ``kind`` (``"zip"``
    or ``"tar"``, when the source says which) saves waiting for the first bytes: a zip is read
    from its end first."""
    from .. import archives
    from ..diskspace import disk_free_bytes

    if kind is None:
        source.seek(0)
        kind = streamed_kind(source.read(min(512, source.size)))
        source.seek(0)
    space = free_space or disk_free_bytes
    if kind == "zip":
        return extract_zip(
            source, staging, archive=archive, free_space=space, select=select, on_entry=on_entry
        )
    if kind == "tar":
        return extract_tar(
            source, staging, archive=archive, free_space=space, select=select, on_entry=on_entry
        )
    raise archives.corrupt_error(archive, "not a zip or tar archive")
