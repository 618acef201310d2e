"""A read-only file over bytes still being downloaded: each read waits until its span is on
disk (see :class:`~mlenv_magics.extract.coverage.Coverage`). ``zipfile`` and ``tarfile`` read
through it as if the whole file were there."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from .coverage import Coverage


class CoveredFile(io.RawIOBase):
    """The download's bytes, at the first of ``paths`` that exists when the first read's span
    is covered (the partial file, or where it was renamed to once complete). Reads block on
    ``coverage``; a restart of the download makes them raise DownloadRestarted."""

    def __init__(self, paths: Sequence[Path], coverage: Coverage) -> None:
        super().__init__()
        self.paths = list(paths)
        self.name = str(self.paths[0])
        self.coverage = coverage
        self.generation = coverage.generation
        self._fd: int | None = None
        self._position = 0

    @property
    def size(self) -> int:
        return self.coverage.wait_size()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise OSError(22, "negative seek position")
        self._position = position
        return position

    def read(self, size: int | None = -1) -> bytes:
        start = self._position
        total = self.size
        end = total if size is None or size < 0 else min(total, start + size)
        if end <= start:
            return b""
        self.coverage.wait(start, end, self.generation)
        data = os.pread(self._descriptor(), end - start, start)
        self._position = start + len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        """At most ``size`` bytes, as many as are on disk once the next one is (a stream
        reader follows the download closely this way)."""
        start = self._position
        total = self.size
        if start >= total:
            return b""
        self.coverage.wait(start, start + 1, self.generation)
        end = self.coverage.covered_until(start)
        if size is not None and size >= 0:
            end = min(end, start + size)
        return self.read(max(end - start, 1))

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def _descriptor(self) -> int:
        if self._fd is None:
            for path in self.paths:
                try:
                    self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                    break
                except FileNotFoundError:
                    continue
            else:
                raise FileNotFoundError(2, "the downloaded bytes are gone", self.name)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        super().close()
