"""Safe extraction of zip and tar archives.

INTERFACE SKETCH (bodies to be written).
"""

from __future__ import annotations

from pathlib import Path


def archive_kind(path: Path) -> str | None:
    """``"zip"``, ``"tar"`` or None, from the file's content (not its name)."""
    raise NotImplementedError


def extract(archive: Path, target: Path) -> list[str]:
    """Extract into ``target``; refuse absolute paths, ``..`` and links leading outside
    (ArchiveError, nothing written outside). Checks free space first (DiskSpaceError).
    Returns the extracted relative paths."""
    raise NotImplementedError
