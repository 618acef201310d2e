"""Which bytes of a file being downloaded are already on disk.

Downloads report every span they wrote (:meth:`Coverage.add`); readers block until the span
they need is there (:meth:`Coverage.wait`). A download that stops (an error, Ctrl-C) calls
:meth:`Coverage.stop`, which wakes every reader with :class:`DownloadStopped`.
"""

from __future__ import annotations

import bisect
import threading

WAIT_SLICE = 0.2  # seconds a reader blocks at a time (it re-checks, nothing is polled for)


class DownloadStopped(Exception):
    """The download that a reader waited on stopped before the bytes arrived."""


class DownloadRestarted(Exception):
    """The download threw its bytes away and started over (the file changed on the server):
    whatever was read from it so far belongs to another version."""


class Coverage:
    """Covered spans ``[start, end)`` of a file, merged and sorted. The size is given when
    the download learns it (:meth:`restart`); readers wait for it too."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size
        self.generation = 0  # bumped by every restart that drops bytes
        self._cond = threading.Condition()
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._stopped: BaseException | None = None
        self.prefix = 0  # bytes covered from the start of the file
        self.waiting_for: tuple[int, int] | None = None  # the span a reader waits on now

    def restart(self, size: int | None) -> None:
        """The download starts (over) with a file of ``size`` bytes (None: not known yet);
        nothing covered before counts any more."""
        with self._cond:
            if self._starts or (self.size is not None and size != self.size):
                self.generation += 1
            self._starts.clear()
            self._ends.clear()
            self.prefix = 0
            self.size = size
            self._cond.notify_all()

    def finish(self, size: int) -> None:
        """The download is complete: all ``size`` bytes are on disk."""
        with self._cond:
            if self.size is None:
                self.size = size
        self.add(0, size)

    def add(self, start: int, end: int) -> None:
        """Record that ``[start, end)`` is on disk and wake readers."""
        with self._cond:
            if self.size is not None:
                end = min(end, self.size)
            start = max(start, 0)
            if end <= start:
                return
            starts, ends = self._starts, self._ends
            left = bisect.bisect_left(ends, start)  # first span that ends at or after start
            right = bisect.bisect_right(starts, end)  # spans from here start after end
            if left < right:
                start = min(start, starts[left])
                end = max(end, ends[right - 1])
            starts[left:right] = [start]
            ends[left:right] = [end]
            if starts[0] == 0:
                self.prefix = ends[0]
            self._cond.notify_all()

    def covers(self, start: int, end: int) -> bool:
        if self.size is not None:
            end = min(end, self.size)
        if end <= start or end <= self.prefix:
            return True
        with self._cond:
            index = bisect.bisect_right(self._starts, start) - 1
            return index >= 0 and self._ends[index] >= end

    def covered_until(self, start: int) -> int:
        """The end of the covered span holding byte ``start`` (``start`` when it is not)."""
        if start < self.prefix:
            return self.prefix
        with self._cond:
            index = bisect.bisect_right(self._starts, start) - 1
            if index >= 0 and self._ends[index] > start:
                return self._ends[index]
            return start

    def spans(self) -> list[tuple[int, int]]:
        with self._cond:
            return list(zip(self._starts, self._ends, strict=True))

    def wait_size(self) -> int:
        """The file's size, once the download knows it."""
        with self._cond:
            while self.size is None:
                self._raise_if_stopped()
                self._cond.wait(WAIT_SLICE)
            return self.size

    def wait(self, start: int, end: int, generation: int | None = None) -> None:
        """Block until ``[start, end)`` is covered; DownloadStopped when it never will be,
        DownloadRestarted when the bytes of ``generation`` were thrown away."""
        if generation is not None and generation != self.generation:
            raise DownloadRestarted
        if self._stopped is not None:
            raise DownloadStopped(str(self._stopped))
        if self.size is not None and self.covers(start, end):
            return
        with self._cond:
            while self.size is None or not self.covers(start, end):
                if generation is not None and generation != self.generation:
                    raise DownloadRestarted
                self._raise_if_stopped()
                self.waiting_for = (start, end)
                self._cond.notify_all()
                self._cond.wait(WAIT_SLICE)
            self.waiting_for = None
        if generation is not None and generation != self.generation:
            raise DownloadRestarted

    def _raise_if_stopped(self) -> None:
        if self._stopped is not None:
            raise DownloadStopped(str(self._stopped)) from None

    def stop(self, why: BaseException | None = None) -> None:
        """No more bytes will arrive and none are wanted: every read from now on raises
        DownloadStopped."""
        with self._cond:
            self._stopped = why or DownloadStopped("the download stopped")
            self._cond.notify_all()

    def wait_until_blocked(self, timeout: float) -> tuple[int, int] | None:
        """For tests and progress: block until a reader waits for bytes not covered yet (or
        ``timeout`` passes); the span it waits on."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.waiting_for is not None and not self.covers(*self.waiting_for),
                timeout,
            )
            return self.waiting_for
