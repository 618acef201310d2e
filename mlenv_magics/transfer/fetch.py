"""``fetch_files``: several files into one folder, in parallel, all-or-error."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

from ..diskspace import check_free_space
from ..errors import ServerError
from .download import FileDownload
from .files import FetchedFile, RemoteFile, partial_path, safe_relpath
from .policy import DEFAULT_POLICY, TransferPolicy
from .shared import (
    CANCEL_GRACE,
    WAIT_SLICE,
    ActiveResponses,
    Cancelled,
    NullProgress,
    SharedState,
)

if TYPE_CHECKING:
    import requests

    from ..progress import ProgressSink


def fetch_files(
    session: requests.Session,
    files: Sequence[RemoteFile],
    dest: Path,
    *,
    partial_dir: Path,
    policy: TransferPolicy = DEFAULT_POLICY,
    progress: ProgressSink | None = None,
    cancel: threading.Event | None = None,
) -> list[FetchedFile]:
    """Download ``files`` under ``dest``; return them in the given order.

    Partial bytes live in ``partial_dir`` (kept on failure or Ctrl-C, so a rerun resumes with
    Range/If-Range). Verifies the size, the source's own md5 when it lists one, and the
    ``x-goog-hash`` the server sends: its crc32c when that is cheap (native ``google_crc32c``;
    computed per range while the bytes arrive, then combined), else its md5. A mismatch discards
    the bytes and raises IntegrityError. Free space is checked first when sizes are known.
    Several files download in parallel (``policy.parallel_files``); ``progress`` is not closed
    here (the caller owns it). Setting ``cancel`` stops every download (Cancelled), keeping
    the partial bytes.
    """
    files = list(files)
    seen: set[str] = set()
    for remote in files:
        key = str(safe_relpath(remote.relpath))
        if key in seen:
            raise ServerError(f"The file list names {key!r} twice.", fix="Report this source.")
        seen.add(key)
    dest.mkdir(parents=True, exist_ok=True)
    partial_dir.mkdir(parents=True, exist_ok=True)
    needed = _needed_bytes(files, partial_dir)
    check_free_space(partial_dir, needed, policy.free_space)
    if os.stat(dest).st_dev != os.stat(partial_dir).st_dev:
        check_free_space(dest, needed, policy.free_space)

    sink = progress if progress is not None else NullProgress()
    sizes = [remote.size for remote in files]
    total = None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)
    sink.start(len(files), total)
    shared = SharedState(session, policy, sink, cancel or threading.Event(), ActiveResponses())
    jobs = [FileDownload(shared, remote, dest, partial_dir) for remote in files]
    workers = min(policy.parallel_files, len(jobs))
    if workers <= 1:
        return [job.run() for job in jobs]
    return _run_parallel(jobs, workers, shared)


def _needed_bytes(files: Sequence[RemoteFile], partial_dir: Path) -> int:
    needed = 0
    for remote in files:
        if remote.size is None:
            continue
        part = partial_path(partial_dir, remote.relpath)
        have = part.stat().st_size if part.is_file() else 0
        needed += max(remote.size - have, 0)
    return needed


def _run_parallel(
    jobs: Sequence[FileDownload], workers: int, shared: SharedState
) -> list[FetchedFile]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlenv-fetch")
    futures: list[Future[FetchedFile]] = [pool.submit(job.run) for job in jobs]
    finished = False
    try:
        pending: set[Future[FetchedFile]] = set(futures)
        while pending:
            # short waits: the main thread notices Ctrl-C promptly on every platform
            done, pending = wait(pending, WAIT_SLICE, FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None and not isinstance(error, Cancelled):
                    raise error
        results = [future.result() for future in futures]
        finished = True
        return results
    except BaseException:
        shared.cancel.set()
        for future in futures:
            future.cancel()
        shared.active.abort_all()
        raise
    finally:
        if not finished:  # cancelled workers stop within moments; one stuck is not waited for
            wait(futures, CANCEL_GRACE)
        pool.shutdown(wait=finished, cancel_futures=True)
