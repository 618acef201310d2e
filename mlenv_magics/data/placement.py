"""The files of a local data folder, and ``--to``: copying them where the user asked.

Symbolic links are never followed: listing counts regular files only, and placing never writes
through a link or copies what one points to. An existing identical file is kept; a different
one is replaced only with ``--force``.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import DestinationExistsError


def list_files(root: Path) -> list[str]:
    """Relative posix paths of the regular files under ``root`` (links are not followed and
    not listed), sorted."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in names:
            path = Path(folder) / name
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def total_size(root: Path, relpaths: Iterable[str]) -> int:
    return sum(os.lstat(root / rel).st_size for rel in relpaths)


def place(source_root: Path, relpaths: Sequence[str], target: Path, force: bool) -> None:
    """Copy ``relpaths`` from ``source_root`` into ``target``. Copies, not hard links: an edit
    in ``target`` must never change the cached or mounted original. Existing identical files
    are kept; different ones (a link counts as different) need ``force``; a link standing
    where a folder is needed is refused."""
    _make_target(target)
    for rel in relpaths:
        _refuse_linked_folders(target, rel)
    conflicts = [
        rel
        for rel in relpaths
        if _exists(target / rel) and not _same_file(source_root / rel, target / rel)
    ]
    if conflicts and not force:
        shown = ", ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
        raise DestinationExistsError(
            f"{target} already has different files with the same names: {shown}.",
            fix="Add --force to replace them, or choose another --to folder.",
        )
    replace = set(conflicts)
    for rel in relpaths:
        origin, destination = source_root / rel, target / rel
        if _exists(destination) and rel not in replace:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.mlenv-tmp")
        try:
            shutil.copy2(origin, temporary, follow_symlinks=False)
            if destination.is_dir() and not destination.is_symlink():
                raise DestinationExistsError(
                    f"{destination} is a folder; a file of the same name cannot replace it.",
                    fix="Move the folder away, or choose another --to folder.",
                )
            os.replace(temporary, destination)  # replaces a link itself, never its target
        finally:
            temporary.unlink(missing_ok=True)


def _make_target(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DestinationExistsError(
            f"--to {target}: a file is in the way (that path, or a folder on it, is a file).",
            fix="Choose a folder for --to, or move the file away.",
        ) from None


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _refuse_linked_folders(target: Path, rel: str) -> None:
    folder = target
    for part in Path(rel).parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (_exists(folder) and not folder.is_dir()):
            raise DestinationExistsError(
                f"{folder} is a link or a file where --to needs a folder; refusing to write"
                " through it.",
                fix="Remove it, or choose another --to folder.",
            )


def _same_file(left: Path, right: Path) -> bool:
    try:
        b = os.lstat(right)
    except OSError:
        return False
    if not stat.S_ISREG(b.st_mode):
        return False
    a = os.lstat(left)
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        return True
    if a.st_size != b.st_size:
        return False
    with left.open("rb") as x, right.open("rb") as y:
        while True:
            block_x, block_y = x.read(1 << 20), y.read(1 << 20)
            if block_x != block_y:
                return False
            if not block_x:
                return True
