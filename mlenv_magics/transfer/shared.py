"""What the downloads of one ``fetch_files`` call share: the session, the policy, the progress
sink, and the cancellation that stops them all (another worker failed, or Ctrl-C)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from .policy import Cancelled as Cancelled  # raised by the workers; it lives with ``pause``
from .policy import TransferPolicy

WAIT_SLICE = 0.2  # seconds the main thread blocks at a time while workers download
CANCEL_GRACE = 1.0  # seconds a cancelled pool gets to stop before the caller moves on


class ActiveResponses:
    """Responses being streamed, so Ctrl-C can shut their sockets and wake blocked reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._responses: set[Any] = set()

    @contextmanager
    def track(self, response: Any) -> Iterator[None]:
        with self._lock:
            self._responses.add(response)
        try:
            yield
        finally:
            with self._lock:
                self._responses.discard(response)

    def abort_all(self) -> None:
        with self._lock:
            responses = list(self._responses)
        for response in responses:
            sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
            with suppress(Exception):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)


class NullProgress:
    def start(self, total_files: int, total_bytes: int | None) -> None: ...
    def file_started(self, relpath: str, size: int | None) -> None: ...
    def advance(self, relpath: str, nbytes: int) -> None: ...
    def file_done(self, relpath: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class SharedState:
    """What the downloads of one ``fetch_files`` call share."""

    session: Any
    policy: TransferPolicy
    sink: Any
    cancel: threading.Event
    active: ActiveResponses
