"""Progress reporting: sources call a ``ProgressSink``; the renderer turns it into tqdm.auto bars.

INTERFACE SKETCH (bodies to be written).
"""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def start(self, total_files: int, total_bytes: int | None) -> None: ...
    def file_started(self, relpath: str, size: int | None) -> None: ...
    def advance(self, relpath: str, nbytes: int) -> None: ...
    def file_done(self, relpath: str) -> None: ...
    def close(self) -> None: ...


def tqdm_progress(description: str) -> ProgressSink:
    """Byte bars with totals (notebook bars in Jupyter, text in terminals) and a files bar
    for multi-file fetches."""
    raise NotImplementedError
