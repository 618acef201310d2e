"""Progress reporting: sources call a ``ProgressSink``; the renderer turns it into tqdm.auto bars.

Transfers call the sink from worker threads, so every sink here is thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol


class ProgressSink(Protocol):
    def start(self, total_files: int, total_bytes: int | None) -> None: ...
    def file_started(self, relpath: str, size: int | None) -> None: ...
    def advance(self, relpath: str, nbytes: int) -> None: ...
    def file_done(self, relpath: str) -> None: ...
    def close(self) -> None: ...


class TqdmProgress:
    """A byte bar (with totals when known) and, for several files, a files bar.

    ``tqdm.auto`` picks notebook bars in Jupyter and text bars in terminals; tqdm is imported
    only when the first bar is created.
    """

    def __init__(self, description: str, *, leave: bool = True) -> None:
        self.description = description
        self.leave = leave
        self._lock = threading.Lock()
        self._bytes_bar: Any = None
        self._files_bar: Any = None
        self._closed = False
        self._total_files = 0
        self._sizes: dict[str, int | None] = {}

    def start(self, total_files: int, total_bytes: int | None) -> None:
        from tqdm.auto import tqdm

        with self._lock:
            if self._closed or self._bytes_bar is not None:
                return
            self._total_files = total_files
            if total_files > 1:
                self._files_bar = tqdm(
                    total=total_files,
                    desc=f"{self.description} files",
                    unit="file",
                    leave=self.leave,
                )
            self._bytes_bar = tqdm(
                total=total_bytes,
                desc=self.description,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                leave=self.leave,
                miniters=1,
            )

    def file_started(self, relpath: str, size: int | None) -> None:
        """Called when a file starts, and again once the server tells a size the source did
        not know; an unknown byte total is filled in when every file's size is known."""
        with self._lock:
            self._sizes[relpath] = size
            bar = self._bytes_bar
            if bar is None or bar.total is not None or len(self._sizes) < self._total_files:
                return
            if all(known is not None for known in self._sizes.values()):
                bar.total = sum(known for known in self._sizes.values() if known is not None)
                bar.refresh()

    def advance(self, relpath: str, nbytes: int) -> None:
        with self._lock:
            if self._bytes_bar is not None and nbytes:
                self._bytes_bar.update(nbytes)

    def file_done(self, relpath: str) -> None:
        with self._lock:
            if self._files_bar is not None:
                self._files_bar.update(1)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for bar in (self._bytes_bar, self._files_bar):
                if bar is not None:
                    bar.close()

    def __repr__(self) -> str:
        return f"TqdmProgress({self.description!r})"


def tqdm_progress(description: str) -> ProgressSink:
    """Byte bars with totals (notebook bars in Jupyter, text in terminals) and a files bar
    for multi-file fetches."""
    return TqdmProgress(description)


@dataclass
class RecordingProgress:
    """A sink that records every call, for tests.

    ``interrupt_after_bytes`` raises ``KeyboardInterrupt`` from ``advance`` once that many bytes
    were reported in total, which is how tests press Ctrl-C in the middle of a transfer.
    """

    interrupt_after_bytes: int | None = None
    events: list[tuple[Any, ...]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _advanced: int = 0
    _interrupted: bool = False

    def start(self, total_files: int, total_bytes: int | None) -> None:
        with self._lock:
            self.events.append(("start", total_files, total_bytes))

    def file_started(self, relpath: str, size: int | None) -> None:
        with self._lock:
            self.events.append(("file_started", relpath, size))

    def advance(self, relpath: str, nbytes: int) -> None:
        with self._lock:
            self.events.append(("advance", relpath, nbytes))
            self._advanced += nbytes
            limit = self.interrupt_after_bytes
            fire = limit is not None and not self._interrupted and self._advanced >= limit
            if fire:
                self._interrupted = True
        if fire:
            raise KeyboardInterrupt

    def file_done(self, relpath: str) -> None:
        with self._lock:
            self.events.append(("file_done", relpath))

    def close(self) -> None:
        with self._lock:
            self.events.append(("close",))

    @property
    def bytes_advanced(self) -> int:
        return self._advanced

    def calls(self, name: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return [event for event in self.events if event[0] == name]

    def done_files(self) -> list[str]:
        return [str(event[1]) for event in self.calls("file_done")]
