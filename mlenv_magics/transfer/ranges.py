"""Large files as parallel ranges into one preallocated partial file.

Each range resumes on its own after a dropped connection; the positions are saved in the
sidecar (``partial.py``) so a later call continues every range where it stopped. crc32c is
computed per range and combined; md5, which cannot be combined, is computed by a follower that
hashes the finished prefix while the rest arrives.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..checksums import crc32c
from .http import describe_network_error, network_error_types, read_size_for
from .job import FileJob
from .policy import RetryBudget
from .shared import WAIT_SLICE, ActiveResponses, Cancelled
from .verify import Digests, HashChecks, combined_crc32c, crc32c_of_file

SIDECAR_SAVE_INTERVAL = 0.5  # seconds between progress saves of a ranged download


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
    if partial.ranges is None:
        count = min(job.policy.parallel_ranges, total)
        step = -(-total // count)
        partial.ranges = [[s, min(s + step, total), s] for s in range(0, total, step)]
        with open(partial.part, "wb") as out:
            out.truncate(total)
    ranges = partial.ranges
    crcs: list[int | None] = [None] * len(ranges)
    partial.save()
    stop = threading.Event()
    local = ActiveResponses()
    pool = ThreadPoolExecutor(len(ranges) + 1, thread_name_prefix="mlenv-range")
    md5: Digests | None = None
    if checks.md5:
        md5 = Digests(HashChecks(md5=True, crc32c=False))
        pool.submit(_md5_follower, job, md5, total, stop)
    try:
        futures = [
            pool.submit(
                _range_worker, job, index, first if index == 0 else None, stop, local, checks, crcs
            )
            for index in range(len(ranges))
        ]
        if first is not None and futures:
            first = None  # owned by the first worker now
        pending = set(futures)
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
    except BaseException:
        stop.set()
        local.abort_all()
        raise
    finally:
        if first is not None:
            first.close()
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if partial.part.exists():
            partial.save()
    crc = combined_crc32c([(start, end) for start, end, _ in ranges], crcs)
    return RangedResult(total, crc if checks.crc32c else None, md5)


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
            response = _open_range(job, position, end)
        try:
            # unbuffered: the saved position never runs ahead of the bytes on disk
            with (
                job.shared.active.track(response),
                local.track(response),
                open(partial.part, "r+b", buffering=0) as out,
            ):
                out.seek(position)
                for chunk in response.iter_content(chunk_size=read_size_for(end - start)):
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
                    budget.made_progress()
                    job.report(taken)
                    if position >= end:
                        break
        except network_errors as exc:
            if stop.is_set() or cancel.is_set():
                raise Cancelled from None
            job.wait_before_retry(budget, position, describe_network_error(exc))
            continue
        finally:
            response.close()
            response = None
        if position < end:
            job.wait_before_retry(budget, position, "the connection closed early")
    crcs[index] = crc if checks.crc32c else None


def _open_range(job: FileJob, start: int, end: int) -> Any:
    requester = job.requester
    while True:
        used_url = requester.url or ""
        response = requester.get(start, end, job.partial.validator)
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
