"""The download cache: versioned entries, a completion marker written last, atomic publish,
a file lock per entry.

INTERFACE SKETCH (bodies to be written). Layout under ``config.cache_root()``:
``<kind>/<key...>/`` final folders, ``.staging/`` temp folders on the same filesystem,
``.partial/`` resumable downloads, ``.locks/`` lock files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CacheEntry:
    root: Path
    key: tuple[str, ...]  # e.g. ("kaggle", "datasets", "alice", "tiny", "3")

    @property
    def path(self) -> Path:
        """The published folder (exists only when complete)."""
        raise NotImplementedError

    @property
    def partial_dir(self) -> Path:
        raise NotImplementedError

    def is_complete(self) -> bool:
        raise NotImplementedError

    def metadata(self) -> dict[str, Any] | None:
        """What the completion marker recorded (source, version, files, size, times)."""
        raise NotImplementedError

    @contextmanager
    def lock(self, timeout: float = 3600.0) -> Iterator[None]:
        """Exclusive per-entry lock: concurrent kernels download once, all get the same path."""
        raise NotImplementedError
        yield

    @contextmanager
    def publish(self, metadata: dict[str, Any]) -> Iterator[Path]:
        """Yield an empty staging folder; on success rename it into place atomically and write
        the marker last. On any exception (Ctrl-C included) the staging folder is removed and
        the exception propagates; ``partial_dir`` is kept for resume."""
        raise NotImplementedError
        yield


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, *key: str) -> CacheEntry:
        return CacheEntry(self.root, tuple(key))
