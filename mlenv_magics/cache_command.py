"""``mlenv cache list|du|prune``: inspect and clean the download cache.

``prune`` always removes leftovers nobody is using (staging folders of finished or crashed
downloads, partial downloads of unlocked entries) and, with ``--all`` or ``--older-than DAYS``,
whole entries. An entry whose lock is held by a running download is never touched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import PARTIAL_DIR, STAGING_DIR, Cache, CacheEntry, folder_stats, iso_time
from .errors import MlenvError
from .render import NA, box, esc, html_table, human_bytes, text_table

SECONDS_PER_DAY = 86400.0


def iso_time_or_na(timestamp: float | None) -> str:
    return NA if timestamp is None else iso_time(timestamp)


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
    meta = entry.metadata() or {}
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


def list_cache(cache: Cache) -> CacheListing:
    rows = tuple(_row(entry) for entry in cache.entries() if entry.path.is_dir())
    return CacheListing(cache.root, rows)


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
    for entry in cache.entries():
        last_used = entry.last_used()
        selected = remove_all or (
            cutoff is not None and last_used is not None and last_used < cutoff
        )
        if not selected:
            continue
        if entry.is_locked():
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
            owner = cache.entry_from_flat_key(flat) if flat else None
            if owner is not None and owner.is_locked():
                continue
            keep_partial = (
                folder_name == PARTIAL_DIR
                and owner is not None
                and not owner.is_complete()
                and not remove_all
                and (cutoff is None or _mtime(leftover) >= cutoff)
            )
            if keep_partial:  # a resumable download: only --all / --older-than drop it
                continue
            result.freed += _size_of(leftover)
            _remove(leftover)
            result.removed_leftovers.append(f"{folder_name}/{leftover.name}")
    return result


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


def run_cache_command(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    cache = Cache.default(env)
    as_json = bool(getattr(args, "json", False))
    if args.action in ("list", "du"):
        listing = list_cache(cache)
        if args.action == "du":
            payload: dict[str, Any] = {
                "root": str(cache.root),
                "entries": len(listing.rows),
                "total_size": listing.total_size,
            }
            text = f"{human_bytes(listing.total_size)}\t{cache.root} ({len(listing.rows)} entries)"
        else:
            payload, text = listing.to_dict(), repr(listing)
        print(json.dumps(payload, indent=2, sort_keys=True) if as_json else text)
        return 0
    if args.action == "prune":
        older_than = getattr(args, "older_than", None)
        if older_than is not None and older_than < 0:
            raise MlenvError("--older-than needs a number of days >= 0.")
        result = prune_cache(cache, remove_all=bool(args.all), older_than_days=older_than)
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True) if as_json else repr(result))
        return 0
    raise MlenvError(f"Unknown cache action {args.action!r}; use list, du or prune.")
