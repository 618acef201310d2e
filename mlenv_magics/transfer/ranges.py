"""Large files as parallel ranges into one preallocated partial file.

A file an extractor follows is cut into chunks of at most ``range_chunk_size`` (others into
one range per connection); ``parallel_ranges`` workers take them in order, the last chunk first
(a zip's central directory), so the downloaded prefix grows steadily. Each range
resumes on its own after a dropped connection; the positions are saved in the sidecar
(``partial.py``) so a later call continues every range where it stopped. crc32c is computed
per range and combined; md5, which cannot be combined, is computed by a follower that hashes
the finished prefix while the rest arrives.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..checksums import crc32c
from .http import describe_network_error, network_error_types, read_size_for
from .job import FileJob
from .policy import RetryBudget, TransferPolicy
from .shared import CANCEL_GRACE, WAIT_SLICE, ActiveResponses, Cancelled
from .verify import Digests, HashChecks, combined_crc32c, crc32c_of_file

SIDECAR_SAVE_INTERVAL = 0.5  # seconds between progress saves of a ranged download
MAX_RANGES = 1024  # chunks of one file at most (each is one request)


class ValidatorChanged(Exception):
    """The blob changed (or stopped honouring ranges) during a ranged download."""


@dataclass
class RangedResult:
    size: int
    crc32c: int | None  # combined from the ranges, when every range computed one
    md5: Digests | None  # the follower's digests (may stop short; verification finishes)


def download_ranges(job: FileJob, first: Any, checks: HashChecks) -> RangedResult:
    """Fetch the file as parallel ranges into a preallocated partial file.

    ``first`` is an open 200 response (or None), reused for the first range. Raises
    ValidatorChanged when the server stops answering matching 206s.
    """
    partial = job.partial
    total = partial.total
    assert total is not None
    watcher = job.remote.watcher
    if partial.ranges is None:
        partial.ranges = plan_ranges(total, job.policy, followed=watcher is not None)
        with open(partial.part, "wb") as out:
            out.truncate(total)
        if watcher is not None:
            watcher.restart(total)
    ranges = partial.ranges
    crcs: list[int | None] = [None] * len(ranges)
    partial.save()
    stop = threading.Event()
    local = ActiveResponses()
    chunks = _Chunks(ranges, first)
    workers = max(1, min(job.policy.parallel_ranges, len(ranges)))
    pool = ThreadPoolExecutor(workers + 1, thread_name_prefix="mlenv-range")
    md5: Digests | None = None
    futures: list[Future[None]] = []
    if checks.md5:
        md5 = Digests(HashChecks(md5=True, crc32c=False))
        futures.append(pool.submit(_md5_follower, job, md5, total, stop))
    finished = False
    first = None  # owned by the chunks now
    try:
        workers_done = [
            pool.submit(_range_worker, job, chunks, stop, local, checks, crcs)
            for _ in range(workers)
        ]
        futures += workers_done
        pending = set(workers_done)
        saved_at = time.monotonic()
        while pending:
            done, pending = wait(pending, WAIT_SLICE, FIRST_EXCEPTION)
            if time.monotonic() - saved_at >= SIDECAR_SAVE_INTERVAL:
                partial.save()
                saved_at = time.monotonic()
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error
        finished = True
    except BaseException:
        stop.set()
        local.abort_all()
        raise
    finally:
        chunks.close()
        stop.set()
        if not finished:  # workers asleep in a back-off or a request wake up, or are left
            wait(futures, CANCEL_GRACE)
        pool.shutdown(wait=finished, cancel_futures=True)
        if partial.part.exists():
            partial.save()
    crc = combined_crc32c([(start, end) for start, end, _ in ranges], crcs)
    return RangedResult(total, crc if checks.crc32c else None, md5)


def plan_ranges(total: int, policy: TransferPolicy, *, followed: bool = True) -> list[list[int]]:
    """``[start, end, next byte]`` of each chunk: one per connection at least; when a reader
    follows the download (``followed``), chunks of at most ``range_chunk_size`` bytes (at most
    MAX_RANGES of them), so the prefix grows steadily. A file nobody reads while it arrives
    is cut into one range per connection: fewer requests (measured faster on loopback)."""
    count = policy.parallel_ranges
    if followed:
        count = max(count, -(-total // max(policy.range_chunk_size, 1)))
    count = max(1, min(count, MAX_RANGES, total))
    step = -(-total // count)
    return [[s, min(s + step, total), s] for s in range(0, total, step)]


class _Chunks:
    """The ranges still to fetch, handed out in order, the last one first; the first response
    (a 200 from byte 0) goes with the first range."""

    def __init__(self, ranges: list[list[int]], first: Any) -> None:
        todo = [index for index, (_s, end, position) in enumerate(ranges) if position < end]
        if len(todo) > 1 and todo[-1] == len(ranges) - 1:
            todo.insert(0, todo.pop())
        self._todo = todo
        self._first = first
        self._lock = threading.Lock()

    def take(self) -> tuple[int, Any] | None:
        with self._lock:
            if not self._todo:
                return None
            index = self._todo.pop(0)
            response = None
            if index == 0 and self._first is not None:
                response, self._first = self._first, None
            return index, response

    def close(self) -> None:
        with self._lock:
            first, self._first = self._first, None
        if first is not None:
            first.close()


def _md5_follower(job: FileJob, digests: Digests, total: int, stop: threading.Event) -> None:
    block = job.policy.chunk_size
    # on a read error the verification step hashes what is left
    with contextlib.suppress(OSError), open(job.partial.part, "rb") as data:
        while digests.upto < total and not stop.is_set():
            ready = job.partial.completed_prefix()
            if ready <= digests.upto:
                stop.wait(WAIT_SLICE)
                continue
            data.seek(digests.upto)
            chunk = data.read(min(block, ready - digests.upto))
            if not chunk:
                return
            digests.feed(chunk)


def _range_worker(
    job: FileJob,
    chunks: _Chunks,
    stop: threading.Event,
    local: ActiveResponses,
    checks: HashChecks,
    crcs: list[int | None],
) -> None:
    while (taken := chunks.take()) is not None:
        index, response = taken
        _fetch_range(job, index, response, stop, local, checks, crcs)


def _fetch_range(
    job: FileJob,
    index: int,
    response: Any,
    stop: threading.Event,
    local: ActiveResponses,
    checks: HashChecks,
    crcs: list[int | None],
) -> None:
    partial = job.partial
    assert partial.ranges is not None
    start, end, position = partial.ranges[index]
    budget = RetryBudget(job.policy)
    network_errors = network_error_types()
    cancel = job.shared.cancel
    watcher = job.remote.watcher
    if response is not None and position != start:
        response.close()
        response = None
    # After a resume the bytes already written are hashed from disk, so what gets checked
    # is what is on disk, not what a crashed run believed it wrote.
    block = job.policy.chunk_size
    crc = crc32c_of_file(partial.part, start, position, block) if checks.crc32c else 0
    while position < end:
        if stop.is_set() or cancel.is_set():
            raise Cancelled
        if response is None:
            response = _open_range(job, position, end, stop)
        try:
            # unbuffered: the saved position never runs ahead of the bytes on disk
            with (
                job.shared.active.track(response),
                local.track(response),
                open(partial.part, "r+b", buffering=0) as out,
            ):
                out.seek(position)
                body = response.iter_content(chunk_size=read_size_for(end - start))
                for chunk in body:
                    if stop.is_set() or cancel.is_set():
                        raise Cancelled
                    if len(chunk) > end - position:
                        chunk = chunk[: end - position]
                    taken = len(chunk)
                    piece = memoryview(chunk)
                    while piece:
                        written = out.write(piece) or 0
                        piece = piece[written:]
                    if checks.crc32c:
                        crc = crc32c(chunk, crc)
                    position += taken
                    with partial.lock:
                        partial.ranges[index][2] = position
                    if watcher is not None:
                        watcher.add(position - taken, position)
                    budget.made_progress()
                    job.report(taken)
                    if position >= end:
                        if response.status_code == 206:
                            next(body, None)  # the body's end: its connection is reused
                        break
        except network_errors as exc:
            failure: str | None = describe_network_error(exc)
        else:
            failure = "the connection closed early" if position < end else None
        finally:
            response.close()
            response = None
        if failure is not None:  # out of the handler: the network error holds the request
            if stop.is_set() or cancel.is_set():
                raise Cancelled
            job.wait_before_retry(budget, position, failure, stop)
    crcs[index] = crc if checks.crc32c else None


def _open_range(job: FileJob, start: int, end: int, stop: threading.Event) -> Any:
    requester = job.requester
    while True:
        used_url = requester.url or ""
        response = requester.get(start, end, job.partial.validator, stop)
        status = response.status_code
        if status == 206 and job.partial.range_matches(response, start, end):
            return response
        if status in (200, 206, 416):
            response.close()
            raise ValidatorChanged
        if status in (400, 403) and requester.refresh_after(used_url):
            response.close()
            continue
        requester.raise_for_status(response, start)
