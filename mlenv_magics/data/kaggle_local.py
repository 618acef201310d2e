"""Local-folder helpers for Kaggle sources: mounted inputs, ``--file`` selection, ``--to``.

No network here.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from ..errors import DestinationExistsError, NotFoundError
from .sources import KaggleCompetition, KaggleDataset


def mounted_path(source: KaggleDataset | KaggleCompetition, input_root: Path) -> Path | None:
    """Where Kaggle shows data attached in the editor, if it is there."""
    if isinstance(source, KaggleDataset):
        candidates = [
            input_root / source.slug,
            input_root / "datasets" / source.owner / source.slug,
        ]
    else:
        candidates = [input_root / source.slug, input_root / "competitions" / source.slug]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def list_files(root: Path) -> list[str]:
    """Relative posix paths of the regular files under ``root``, sorted."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def total_size(root: Path, relpaths: Iterable[str]) -> int:
    return sum((root / rel).stat().st_size for rel in relpaths)


def matches(name: str, pattern: str) -> bool:
    """A name matches its exact path, a glob on the path or on the base name, or a folder."""
    pattern = pattern.strip().removeprefix("./")
    if name == pattern or fnmatch.fnmatchcase(name, pattern):
        return True
    if "/" not in pattern and fnmatch.fnmatchcase(PurePosixPath(name).name, pattern):
        return True
    folder = pattern.rstrip("/")
    return bool(folder) and name.startswith(folder + "/")


def select(names: Sequence[str], patterns: Sequence[str], what: str, web_url: str) -> list[str]:
    """The names matching any pattern; NotFoundError naming the patterns that match nothing."""
    chosen = [n for n in names if any(matches(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(matches(n, p) for n in names)]
    if unmatched:
        listing = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise NotFoundError(
            f"No file in {what} matches {', '.join(repr(p) for p in unmatched)}.",
            fix=f"Pick from: {listing or '(no files)'} - or see {web_url}",
        )
    return chosen


def selection_key(patterns: Sequence[str]) -> str:
    """A cache key part for a ``--file`` selection, so a subset never passes for the whole."""
    canonical = "\n".join(sorted(set(patterns)))
    return "files-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def place(source_root: Path, relpaths: Sequence[str], target: Path, force: bool) -> None:
    """Copy ``relpaths`` from ``source_root`` into ``target``. Copies, not hard links: an edit
    in ``target`` must never change the cached or mounted original. Existing identical files
    are kept; differing ones need --force."""
    conflicts = [
        rel
        for rel in relpaths
        if (target / rel).exists() and not _same_file(source_root / rel, target / rel)
    ]
    if conflicts and not force:
        shown = ", ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
        raise DestinationExistsError(
            f"{target} already has different files with the same names: {shown}.",
            fix="Add --force to replace them, or choose another --to folder.",
        )
    for rel in relpaths:
        origin, destination = source_root / rel, target / rel
        if destination.exists() and rel not in conflicts:
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(f".{destination.name}.mlenv-tmp")
        temporary.unlink(missing_ok=True)
        shutil.copy2(origin, temporary)
        os.replace(temporary, destination)


def _same_file(left: Path, right: Path) -> bool:
    if not right.is_file():
        return False
    a, b = left.stat(), right.stat()
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
