"""Wait for a pushed run: status polling (adaptive, never faster than every 5 s, bounded by the
timeout) and the live log, read in a background thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from ..errors import ServerError, TransferError
from . import protocol
from .client import KernelsClient
from .errors import WaitTimeoutError
from .options import KernelRef

MIN_INTERVAL = 5.0  # seconds between status calls, at least (Kaggle asks clients not to go below)
MAX_INTERVAL = 30.0
GROWTH = 1.5
STALE_GRACE = 60.0  # a finished status equal to the one before the push is not trusted this long
MAX_UNREADABLE = 4  # status calls in a row that may fail before the wait gives up
END_OF_LOG = "END_OF_LOG"


@dataclass
class WaitClock:
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # waits up to the seconds, returning early once the event is set (the log ended)
    wait: Callable[[threading.Event, float], object] = field(
        default=lambda event, seconds: event.wait(seconds)
    )


def default_timing() -> WaitClock:
    """The real clock; a test kit replaces this to wait on events instead of seconds."""
    return WaitClock()


@dataclass
class Poll:
    answer: protocol.StatusAnswer
    elapsed: float
    calls: int
    confirmed: bool  # Kaggle has shown this run itself (queued or running), not the last one


def wait_for_end(
    client: KernelsClient,
    kernel: KernelRef,
    baseline: protocol.StatusAnswer | None,
    timeout: float,
    on_poll: Callable[[Poll], None],
    timing: WaitClock | None = None,
    interval_cap: float = MAX_INTERVAL,
    wake: threading.Event | None = None,
) -> Poll:
    """Poll the latest session until it ends; return its final status.

    Right after a push Kaggle may still report the previous session: a finished status equal
    to ``baseline`` counts only once a queued or running status was seen, or after
    ``STALE_GRACE`` seconds. A 404 or ``{}`` means not visible yet, i.e. queued. Raises
    WaitTimeoutError when ``timeout`` passes; KeyboardInterrupt passes through. Between two
    calls it waits at least 5 s, and the rest of the interval only until ``wake`` is set (the
    live log ended, so the status is worth asking for now).
    """
    timing = timing or default_timing()
    latest = KernelRef(kernel.owner, kernel.slug)  # only the latest session can be watched
    start = timing.clock()
    deadline = start + timeout
    interval = MIN_INTERVAL
    seen_active = False
    unreadable = 0
    calls = 0
    while True:
        answer: protocol.StatusAnswer | None
        try:
            answer = client.status(latest)
            unreadable = 0
        except (TransferError, ServerError):
            unreadable += 1
            if unreadable >= MAX_UNREADABLE:
                raise
            answer = None
        calls += 1
        now = timing.clock()
        if answer is None:  # 404 (not visible yet) or unreadable: no news
            answer = protocol.StatusAnswer("running" if seen_active else "queued", "")
        elif answer.active:
            seen_active = True
        elif (
            answer.terminal
            and not seen_active
            and now - start < STALE_GRACE
            and baseline is not None
            and baseline.terminal
            and answer.state == baseline.state
        ):
            answer = protocol.StatusAnswer("queued", "")  # still the previous run's
        poll = Poll(answer, now - start, calls, confirmed=seen_active)
        on_poll(poll)
        if answer.terminal:
            return poll
        remaining = deadline - now
        if remaining < MIN_INTERVAL:
            raise WaitTimeoutError(
                f"Stopped waiting for {kernel.ref} after {int(timeout)} s (--timeout); the run"
                " goes on on Kaggle.",
                fix=f"Fetch the results later: %mlenv_kaggle output {kernel.ref}"
                f" (status: %mlenv_kaggle status {kernel.ref}). Watch it at {kernel.url}",
            )
        pause = min(interval, remaining)
        timing.sleep(MIN_INTERVAL)  # never two status calls less than 5 s apart
        if pause > MIN_INTERVAL:
            if wake is None:
                timing.sleep(pause - MIN_INTERVAL)
            elif not wake.is_set():
                timing.wait(wake, pause - MIN_INTERVAL)  # the log's end: look now
        interval = min(max(interval * GROWTH, MIN_INTERVAL), max(interval_cap, MIN_INTERVAL))


class LogFollower:
    """Reads the live log stream in a thread and hands each new piece of text to ``on_text``.

    The server replays the stream from the start on every connection, so events are counted
    and the ones already delivered are skipped. ``finish`` stops it and delivers whatever the
    final log holds beyond what was streamed.
    """

    def __init__(
        self,
        client: KernelsClient,
        kernel: KernelRef,
        on_text: Callable[[str], None],
        read_timeout: float = 120.0,
        max_failures: int = 5,
    ) -> None:
        self.client = client
        self.kernel = KernelRef(kernel.owner, kernel.slug)
        self.on_text = on_text
        self.read_timeout = read_timeout
        self.max_failures = max_failures
        self.delivered = 0
        self.ended = threading.Event()  # the server said END_OF_LOG, or sent the saved log
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name="mlenv-kaggle-log", daemon=True)

    def start(self) -> LogFollower:
        """Start reading (once; later calls do nothing)."""
        if self._thread.ident is None:
            self._thread.start()
        return self

    def _deliver(self, index: int, event: dict[str, Any]) -> None:
        with self._lock:
            if index < self.delivered or self._stop.is_set():
                return
            self.delivered = index + 1
        data = event.get("data")
        if isinstance(data, str) and data:
            self.on_text(data)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set() and failures < self.max_failures:
            before = self.delivered
            opened = time.monotonic()
            try:
                response = self.client.log_stream(self.kernel, self.read_timeout)
                with self._lock:
                    self._response = response
                if self._stop.is_set():
                    response.close()
                    return
                if response.status_code != 200:
                    response.close()
                    return  # no live log here: the log arrives with the results
                content_type = response.headers.get("Content-Type", "").lower()
                if content_type.startswith("text/event-stream"):
                    self._read_events(response)
                else:
                    for index, event in enumerate(protocol.log_events(response.text)):
                        self._deliver(index, event)
                    self.ended.set()
                response.close()
            except Exception:  # a dropped or cut stream; reconnect (bounded) below
                if self._stop.is_set():
                    return
            if self.ended.is_set():
                return
            # A stream that lived long before it was cut (a quiet run, an idle proxy) was
            # healthy: reconnecting costs a read timeout each time, so it stays bounded.
            healthy = time.monotonic() - opened >= self.read_timeout / 2
            failures = 0 if self.delivered > before or healthy else failures + 1
            self._stop.wait(min(2.0**failures, 10.0))

    def _read_events(self, response: Any) -> None:
        index = 0
        # chunk_size=None: each piece as it arrives (a fixed size would wait for it to fill)
        for raw in response.iter_lines(chunk_size=None, decode_unicode=True):
            if self._stop.is_set():
                return
            if not raw or not raw.startswith("data:"):
                continue
            payload = raw[len("data:") :].strip()
            if payload == END_OF_LOG:
                self.ended.set()
                return
            try:
                event = json.loads(payload)
            except ValueError:
                event = {"data": payload + "\n"}
            if isinstance(event, dict):
                self._deliver(index, event)
                index += 1

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            sock = getattr(
                getattr(getattr(response, "raw", None), "_connection", None), "sock", None
            )
            with suppress(Exception):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
            with suppress(Exception):
                response.close()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)

    def finish(self, final_log: str, wait_s: float = 5.0) -> None:
        """Let the stream deliver its end (bounded), stop it, then deliver the final log's rest."""
        if self._thread.is_alive():
            self.ended.wait(wait_s)
        self.stop()
        events = protocol.log_events(final_log)
        with self._lock:
            start = self.delivered
            self.delivered = max(self.delivered, len(events))
        for event in events[start:]:
            data = event.get("data")
            if isinstance(data, str) and data:
                self.on_text(data)


def log_text(final_log: str) -> str:
    return "".join(
        str(e.get("data")) for e in protocol.log_events(final_log) if isinstance(e.get("data"), str)
    )
