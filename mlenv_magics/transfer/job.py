"""One file's download in progress: its partial bytes, its requests and its share of the
progress bar, used by both the sequential path (``download.py``) and the parallel ranges
(``ranges.py``)."""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import TransferError
from .files import PARTIAL_SUFFIX, SIDECAR_SUFFIX, RemoteFile, safe_relpath
from .http import host_of
from .partial import PartialFile
from .policy import RetryBudget, pause
from .requester import FileRequester
from .shared import SharedState


class FileJob:
    def __init__(self, shared: SharedState, remote: RemoteFile, dest: Path, partial_dir: Path):
        self.shared = shared
        self.policy = shared.policy
        self.remote = remote
        self.relpath = str(safe_relpath(remote.relpath))
        self.final_path = dest / self.relpath
        self.partial = PartialFile(
            partial_dir / (self.relpath + PARTIAL_SUFFIX),
            partial_dir / (self.relpath + SIDECAR_SUFFIX),
            remote.validator,
            remote.size,
        )
        self.requester = FileRequester(shared, remote, self.relpath)
        self.reported = 0  # bytes of this file counted on the progress sink
        self._lock = threading.Lock()

    def report(self, nbytes: int) -> None:
        with self._lock:
            self.reported += nbytes
        self.shared.sink.advance(self.relpath, nbytes)

    def discard_partial(self) -> None:
        if self.reported:  # take back what the progress bar counted for the discarded bytes
            self.report(-self.reported)
        self.partial.discard()
        if self.remote.watcher is not None:
            self.remote.watcher.restart(None)

    def wait_before_retry(
        self, budget: RetryBudget, offset: int, why: str, stop: threading.Event | None = None
    ) -> None:
        """Wait out the back-off (ended at once by Ctrl-C, a failing neighbour or ``stop``:
        Cancelled), or TransferError when the retries are spent. Call it outside an
        ``except`` block, so the network error (which holds the request) is not chained."""
        delay = budget.next_delay()
        if delay is None:
            from ..render import human_bytes

            total = self.partial.total
            of_total = f" of {human_bytes(total)}" if total is not None else ""
            raise TransferError(
                f"Downloading {self.relpath} from {host_of(self.requester.url or '')} stopped at "
                f"{human_bytes(offset)}{of_total} after {budget.failures} tries ({why}).",
                fix="Check the network connection, then rerun to resume.",
            )
        stops = (self.shared.cancel,) if stop is None else (self.shared.cancel, stop)
        pause(self.policy, delay, stops)
