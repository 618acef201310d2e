"""The download cache: versioned entries, a completion marker written last, atomic publish,
a file lock per entry.

Layout under ``config.cache_root()``::

    <kind>/<key...>/        published folders (what add_data returns)
    .entries/<flat>.json    completion markers (JSON metadata), written after the rename
    .staging/<flat>.<rnd>/  downloads and extractions in progress (same filesystem as the data)
    .partial/<flat>/        resumable partial downloads
    .locks/<flat>.lock      one lock file per entry

``<flat>`` joins the encoded key parts with ``~``. A lookup costs two ``stat`` calls.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from .errors import CacheBusyError

ENTRIES_DIR = ".entries"
STAGING_DIR = ".staging"
PARTIAL_DIR = ".partial"
LOCKS_DIR = ".locks"
KEY_SEPARATOR = "~"


def encode_key_part(part: str) -> str:
    """A key part as one safe path component (no ``/``, no leading dot, no ``~``)."""
    if not part:
        raise ValueError("cache key parts must not be empty")
    encoded = quote(part, safe="").replace("~", "%7E")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CacheEntry:
    root: Path
    key: tuple[str, ...]  # e.g. ("kaggle", "datasets", "alice", "tiny", "3")

    @property
    def flat_key(self) -> str:
        return KEY_SEPARATOR.join(encode_key_part(part) for part in self.key)

    @property
    def path(self) -> Path:
        """The published folder (exists only when complete)."""
        return self.root.joinpath(*(encode_key_part(part) for part in self.key))

    @property
    def partial_dir(self) -> Path:
        """Resumable partial downloads of this entry; kept until the entry is published."""
        return self.root / PARTIAL_DIR / self.flat_key

    @property
    def marker_path(self) -> Path:
        return self.root / ENTRIES_DIR / f"{self.flat_key}.json"

    @property
    def lock_path(self) -> Path:
        return self.root / LOCKS_DIR / f"{self.flat_key}.lock"

    def is_complete(self) -> bool:
        """The marker exists and so does the folder; no network, two ``stat`` calls."""
        return self.marker_path.is_file() and self.path.is_dir()

    def metadata(self) -> dict[str, Any] | None:
        """What the completion marker recorded (source, version, files, size, times).

        ``last_used`` reflects the latest :meth:`touch`.
        """
        try:
            text = self.marker_path.read_text(encoding="utf-8")
            used = self.marker_path.stat().st_mtime
            data = json.loads(text)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        data["last_used"] = iso_time(used)
        return data

    def last_used(self) -> float | None:
        """Seconds since the epoch of the last use, from the marker's mtime."""
        try:
            return self.marker_path.stat().st_mtime
        except OSError:
            return None

    def touch(self) -> None:
        """Record a use (cheap: the marker's mtime)."""
        with suppress(OSError):
            os.utime(self.marker_path)

    @contextmanager
    def lock(self, timeout: float = 3600.0) -> Iterator[None]:
        """Exclusive per-entry lock: concurrent kernels download once, all get the same path.

        Waits at most ``timeout`` seconds, then raises CacheBusyError naming the lock file.
        """
        import filelock

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        entry_lock = filelock.FileLock(str(self.lock_path))
        try:
            entry_lock.acquire(timeout=timeout, poll_interval=0.05)
        except filelock.Timeout:
            raise CacheBusyError(
                f"Another process has been fetching {'/'.join(self.key)} for more than "
                f"{timeout:.0f} s (lock {self.lock_path}).",
                fix="Wait for it to finish or stop it, then rerun.",
            ) from None
        try:
            yield
        finally:
            entry_lock.release()

    def is_locked(self) -> bool:
        """Whether some process holds the lock right now (does not wait)."""
        import filelock

        if not self.lock_path.exists():
            return False
        probe = filelock.FileLock(str(self.lock_path))
        try:
            probe.acquire(timeout=0)
        except filelock.Timeout:
            return True
        probe.release()
        return False

    @contextmanager
    def publish(self, metadata: Mapping[str, Any]) -> Iterator[Path]:
        """Yield an empty staging folder; on success rename it into place atomically and write
        the marker last. On any exception (Ctrl-C included) the staging folder is removed and
        the exception propagates; ``partial_dir`` is kept for resume.

        An existing entry (``--force``) is replaced: the old folder is renamed aside, the new
        one renamed in, then the old one deleted. Call it while holding :meth:`lock`.
        """
        staging_root = self.root / STAGING_DIR
        staging_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{self.flat_key}.", dir=staging_root))
        try:
            yield staging
            self._install(staging, dict(metadata))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _install(self, staging: Path, metadata: dict[str, Any]) -> None:
        files, size = folder_stats(staging)
        now = time.time()
        record: dict[str, Any] = {
            "key": list(self.key),
            "files": files,
            "size": size,
            "created": iso_time(now),
            **metadata,
        }
        record["last_used"] = iso_time(now)
        marker = self.marker_path
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)  # from here the entry counts as incomplete
        target = self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        old: Path | None = None
        if target.exists() or target.is_symlink():
            old = staging.parent / f"{self.flat_key}.old.{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        try:
            os.replace(staging, target)
        except BaseException:
            if old is not None and not target.exists():
                os.replace(old, target)
            raise
        tmp = marker.with_name(f"{marker.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, marker)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.partial_dir, ignore_errors=True)

    def remove(self) -> None:
        """Delete the entry (marker first, so a half-removed entry is never complete)."""
        self.marker_path.unlink(missing_ok=True)
        if self.path.is_dir() and not self.path.is_symlink():
            shutil.rmtree(self.path, ignore_errors=True)
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        _remove_empty_parents(self.path.parent, self.root)


def folder_stats(folder: Path) -> tuple[int, int]:
    """(file count, total bytes) under ``folder``, not following symlinks."""
    files = size = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            files += 1
            size += info.st_size
    return files, size


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> Cache:
        from .config import cache_root

        return cls(cache_root(env))

    def entry(self, *key: str) -> CacheEntry:
        return CacheEntry(self.root, tuple(key))

    def entries(self) -> list[CacheEntry]:
        """Every entry with a completion marker, sorted by key."""
        folder = self.root / ENTRIES_DIR
        if not folder.is_dir():
            return []
        found = []
        for marker in folder.glob("*.json"):
            flat = marker.name[: -len(".json")]
            found.append(self.entry_from_flat_key(flat))
        return sorted(found, key=lambda entry: entry.key)

    def entry_from_flat_key(self, flat: str) -> CacheEntry:
        return CacheEntry(self.root, tuple(unquote(part) for part in flat.split(KEY_SEPARATOR)))

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"
