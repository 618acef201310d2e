"""The options every source takes and the result every source returns.

``AddDataOptions`` never shows the environment (it holds tokens) in its repr.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..progress import ProgressSink
    from ..transfer import TransferPolicy

Origin = Literal["mounted", "attached", "colab-cache", "cache", "downloaded"]


@dataclass(frozen=True)
class AddDataOptions:
    files: tuple[str, ...] = ()  # names or globs; empty = everything
    to: Path | None = None  # place the data here instead of returning the cache path
    force: bool = False
    offline: bool = False
    keep_archive: bool = False  # keep a downloaded archive in the data folder
    progress: ProgressSink | None = None  # None = no progress (quiet)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    shell: Any = field(default=None, repr=False)  # the IPython shell, for host detection
    notice: Callable[[str], None] | None = None  # one-line status before a wait; None = quiet
    mount_timeout: float = 60.0  # seconds to wait for an attached or cached mount to appear
    policy: TransferPolicy | None = None  # timeouts and retries; None = the defaults


@dataclass(frozen=True)
class DataResult:
    path: Path
    source: str  # as the user should read it, e.g. "kaggle dataset alice/tiny"
    version: str | None
    origin: Origin
    files: int
    size: int  # bytes
    notes: tuple[str, ...] = ()  # e.g. "offline: using the newest cached version 3"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "source": self.source,
            "version": self.version,
            "origin": self.origin,
            "files": self.files,
            "size": self.size,
            "notes": list(self.notes),
        }

    def summary_line(self) -> str:
        from ..render import human_bytes

        version = f" v{self.version}" if self.version else ""
        word = "file" if self.files == 1 else "files"
        line = (
            f"{self.source}{version}: {self.origin}, {self.files} {word},"
            f" {human_bytes(self.size)} at {self.path}"
        )
        return "; ".join([line, *self.notes])
