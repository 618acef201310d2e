"""``mlenv cache list|du|prune``: inspect and clean the download cache.

``prune`` always removes leftovers nobody is using (staging folders of finished or crashed
downloads, partial downloads of unlocked entries, stray files among the completion markers)
and, with ``--all`` or ``--older-than DAYS``, whole entries. Everything that belongs to an entry
is removed while holding that entry's lock, so a download that is running, or starts meanwhile,
is never touched. Each action returns a result object (text and HTML reprs, ``to_dict()``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import (
    ENTRIES_DIR,
    PARTIAL_DIR,
    STAGING_DIR,
    Cache,
    CacheEntry,
    encode_key_part,
    folder_stats,
    iso_time,
)
from .errors import CacheBusyError, MlenvError
from .render import NA, box, esc, html_table, human_bytes, text_table

SECONDS_PER_DAY = 86400.0


def iso_time_or_na(timestamp: float | None) -> str:
    if timestamp is None:
        return NA
    try:
        return iso_time(timestamp)
    except (ValueError, OverflowError, OSError):  # a timestamp no calendar holds
        return NA


@dataclass(frozen=True)
class CacheRow:
    key: str
    path: Path
    source: str | None
    version: str | None
    files: int
    size: int
    last_used: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": str(self.path),
            "source": self.source,
            "version": self.version,
            "files": self.files,
            "size": self.size,
            "last_used": iso_time_or_na(self.last_used),
        }


@dataclass(frozen=True)
class CacheListing:
    root: Path
    rows: tuple[CacheRow, ...]

    @property
    def total_size(self) -> int:
        return sum(row.size for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "entries": [row.to_dict() for row in self.rows],
            "total_size": self.total_size,
        }

    def _table_rows(self) -> list[list[object]]:
        return [
            [row.key, row.files, human_bytes(row.size), iso_time_or_na(row.last_used)]
            for row in self.rows
        ]

    def __repr__(self) -> str:
        header = f"Cache at {self.root}: {len(self.rows)} entries, {human_bytes(self.total_size)}"
        if not self.rows:
            return header
        table = text_table(["entry", "files", "size", "last used"], self._table_rows())
        return f"{header}\n{table}"

    def _repr_html_(self) -> str:
        title = f"Cache at {self.root}: {len(self.rows)} entries, {human_bytes(self.total_size)}"
        return box(title, html_table(["entry", "files", "size", "last used"], self._table_rows()))


@dataclass(frozen=True)
class CacheUsage:
    root: Path
    entries: int
    total_size: int

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "entries": self.entries, "total_size": self.total_size}

    def __repr__(self) -> str:
        return f"{human_bytes(self.total_size)}\t{self.root} ({self.entries} entries)"

    def _repr_html_(self) -> str:
        return box("mlenv cache du", f"<pre>{esc(repr(self))}</pre>")


@dataclass
class PruneResult:
    root: Path
    removed_entries: list[str] = field(default_factory=list)
    removed_leftovers: list[str] = field(default_factory=list)
    skipped_locked: list[str] = field(default_factory=list)
    freed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "removed_entries": self.removed_entries,
            "removed_leftovers": self.removed_leftovers,
            "skipped_locked": self.skipped_locked,
            "freed": self.freed,
        }

    def __repr__(self) -> str:
        lines = [
            f"Pruned {self.root}: {len(self.removed_entries)} entries and "
            f"{len(self.removed_leftovers)} leftovers removed, {human_bytes(self.freed)} freed."
        ]
        lines += [f"  removed {key}" for key in self.removed_entries]
        lines += [f"  skipped {key} (in use by a running download)" for key in self.skipped_locked]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return box("mlenv cache prune", f"<pre>{esc(repr(self))}</pre>")


def _row(entry: CacheEntry) -> CacheRow:
    try:
        meta = entry.metadata() or {}
    except (ValueError, OverflowError, OSError):  # a marker touched to an impossible time
        meta = {}
    files, size = meta.get("files"), meta.get("size")
    if not isinstance(files, int) or not isinstance(size, int):
        files, size = folder_stats(entry.path)
    version = meta.get("version")
    return CacheRow(
        key="/".join(entry.key),
        path=entry.path,
        source=meta.get("source") if isinstance(meta.get("source"), str) else None,
        version=None if version is None else str(version),
        files=files,
        size=size,
        last_used=entry.last_used(),
    )


def _entry_for(cache: Cache, flat_key: str) -> CacheEntry | None:
    """The entry a flat key names; None for a name no entry can have (a stray file)."""
    entry = cache.entry_from_flat_key(flat_key)
    try:
        if entry.flat_key != flat_key:
            return None
        for part in entry.key:
            encode_key_part(part)
    except ValueError:
        return None
    return entry


def _entries(cache: Cache) -> Iterator[tuple[Path, CacheEntry | None]]:
    """Every completion marker with its entry, sorted by key; strays (None: a folder, or a
    name no entry can have) last."""
    folder = cache.root / ENTRIES_DIR
    if not folder.is_dir():
        return
    found = [
        (marker, None if marker.is_dir() else _entry_for(cache, marker.name[: -len(".json")]))
        for marker in folder.glob("*.json")
    ]
    found.sort(key=lambda pair: (pair[1] is None, pair[1].key if pair[1] else (pair[0].name,)))
    yield from found


def list_cache(cache: Cache) -> CacheListing:
    rows = tuple(
        _row(entry)
        for marker, entry in _entries(cache)
        if entry is not None and marker.is_file() and entry.path.is_dir()
    )
    return CacheListing(cache.root, rows)


def cache_usage(cache: Cache) -> CacheUsage:
    listing = list_cache(cache)
    return CacheUsage(cache.root, len(listing.rows), listing.total_size)


@contextmanager
def _held(entry: CacheEntry) -> Iterator[bool]:
    """Hold ``entry``'s lock if nobody else does (True), without waiting (False)."""
    try:
        lock = entry.lock(timeout=0)
        lock.__enter__()
    except CacheBusyError:
        yield False
        return
    try:
        yield True
    finally:
        lock.__exit__(None, None, None)


def prune_cache(
    cache: Cache,
    *,
    remove_all: bool = False,
    older_than_days: float | None = None,
    now: float | None = None,
) -> PruneResult:
    """Remove unused leftovers, and entries selected by ``remove_all`` / ``older_than_days``."""
    now = time.time() if now is None else now
    result = PruneResult(cache.root)
    cutoff = None if older_than_days is None else now - older_than_days * SECONDS_PER_DAY
    for marker, entry in list(_entries(cache)):
        if entry is None:
            _remove_leftover(result, marker, f"{ENTRIES_DIR}/{marker.name}")
            continue
        last_used = entry.last_used()
        selected = remove_all or (
            cutoff is not None and last_used is not None and last_used < cutoff
        )
        if not selected:
            continue
        with _held(entry) as held:
            if not held:
                result.skipped_locked.append("/".join(entry.key))
                continue
            result.freed += folder_stats(entry.path)[1]
            entry.remove()
            result.removed_entries.append("/".join(entry.key))
    for folder_name in (STAGING_DIR, PARTIAL_DIR):
        folder = cache.root / folder_name
        if not folder.is_dir():
            continue
        for leftover in sorted(folder.iterdir()):
            flat = _flat_key_of(leftover.name) if folder_name == STAGING_DIR else leftover.name
            owner = _entry_for(cache, flat) if flat else None
            name = f"{folder_name}/{leftover.name}"
            if owner is None:
                _remove_leftover(result, leftover, name)
                continue
            with _held(owner) as held:
                keep_partial = (
                    folder_name == PARTIAL_DIR
                    and not owner.is_complete()
                    and not remove_all
                    and (cutoff is None or _mtime(leftover) >= cutoff)
                )
                # in use, or a resumable download that only --all / --older-than drop
                if held and not keep_partial:
                    _remove_leftover(result, leftover, name)
    return result


def _remove_leftover(result: PruneResult, path: Path, name: str) -> None:
    result.freed += _size_of(path)
    _remove(path)
    result.removed_leftovers.append(name)


def _flat_key_of(staging_name: str) -> str:
    """Staging folders are ``<flat>.<random>`` or ``<flat>.old.<hex>``."""
    if ".old." in staging_name:
        return staging_name.rpartition(".old.")[0]
    return staging_name.rpartition(".")[0]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size_of(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return folder_stats(path)[1]
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def cache_result(
    action: str,
    *,
    remove_all: bool = False,
    older_than_days: float | None = None,
    env: Mapping[str, str] | None = None,
) -> CacheListing | CacheUsage | PruneResult:
    """``list``, ``du`` or ``prune`` on the default cache (``MLENV_CACHE_DIR``)."""
    cache = Cache.default(env)
    if action == "list":
        return list_cache(cache)
    if action == "du":
        return cache_usage(cache)
    if action == "prune":
        if older_than_days is not None and not older_than_days >= 0:
            raise MlenvError("--older-than needs a number of days >= 0.")
        return prune_cache(cache, remove_all=remove_all, older_than_days=older_than_days)
    raise MlenvError(f"Unknown cache action {action!r}; use list, du or prune.")
