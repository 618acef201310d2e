"""Timeouts, retry bounds and parallelism of every transfer, and the retry budget they imply."""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..diskspace import disk_free_bytes

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class TransferPolicy:
    """Timeouts, retry bounds and parallelism of every transfer.

    ``sleep``, ``clock``, ``jitter`` and ``free_space`` are injectable so tests run without real
    waits or full disks.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6  # per request, first try included
    max_elapsed: float = 600.0  # seconds of retrying per request before giving up
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    chunk_size: int = 1 << 20
    parallel_ranges: int = 4  # connections for one large file
    range_chunk_size: int = 8 << 20  # a large file's chunks, taken in order by the connections
    range_threshold: int = 64 << 20  # files at least this big are fetched in parallel ranges
    parallel_files: int = 4
    retry_after_max: float = 300.0  # a longer Retry-After gives up instead of waiting
    max_restarts: int = 3  # downloads restarted from zero (200 to a Range, 416, bad 206)
    max_resumes: int = 100  # in-call resumes of one file (or range) even when each made progress
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    free_space: Callable[[Path], int] = field(default=disk_free_bytes, repr=False, compare=False)


class RetryBudget:
    """Bounded retries: at most ``max_attempts`` tries in a row without progress, at most
    ``max_elapsed`` seconds between the first failure and the last retry, and at most
    ``max_resumes`` failures in all."""

    def __init__(self, policy: TransferPolicy) -> None:
        self.policy = policy
        self.failures = 0
        self.total_failures = 0
        self._first_failure: float | None = None

    def made_progress(self) -> None:
        self.failures = 0
        self._first_failure = None

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Count a failure; the seconds to wait before the next try, or None when spent."""
        policy = self.policy
        now = policy.clock()
        if self._first_failure is None:
            self._first_failure = now
        self.failures += 1
        self.total_failures += 1
        if self.failures >= policy.max_attempts or self.total_failures > policy.max_resumes:
            return None
        if retry_after is not None:
            if retry_after > policy.retry_after_max:
                return None
            delay = max(retry_after, 0.0)
        else:
            ceiling = min(policy.backoff_max, policy.backoff_base * 2 ** (self.failures - 1))
            delay = ceiling / 2 + policy.jitter() * ceiling / 2
        if now - self._first_failure + delay > policy.max_elapsed:
            return None
        return delay


class Cancelled(Exception):
    """Another worker failed or the user pressed Ctrl-C: stop, keep the partial bytes."""


CANCEL_POLL = 0.05  # seconds between looks at a second stop event during a wait


def pause(policy: TransferPolicy, seconds: float, stops: Sequence[threading.Event] = ()) -> None:
    """Wait ``seconds`` before a retry, cut short by any of ``stops`` (then Cancelled).

    With the real ``time.sleep`` the wait is spent on the events themselves, so Ctrl-C or a
    failing neighbour ends it at once; an injected ``policy.sleep`` (a test clock) is called
    as is."""
    if policy.sleep is not time.sleep or not stops:
        policy.sleep(seconds)
    else:
        deadline = time.monotonic() + seconds
        while not any(stop.is_set() for stop in stops):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            stops[0].wait(left if len(stops) == 1 else min(left, CANCEL_POLL))
    if any(stop.is_set() for stop in stops):
        raise Cancelled


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(response: requests.Response) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


DEFAULT_POLICY = TransferPolicy()
