"""One HTTP transfer layer for every source: timeouts, bounded retries, resume, verification.

Sources describe files as :class:`RemoteFile`; :func:`fetch_files` downloads them into a folder
(normally a cache staging folder), keeping resumable partial bytes in ``partial_dir``.
:func:`send` is the single request primitive (timeouts and bounded retries) that RPC callers use
too. ``requests`` is imported only when a function needs it.

Signed URLs and request headers are secrets: messages name only the host and path.
"""

from __future__ import annotations

import email.utils
import os
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import (
    DiskSpaceError,
    ServerError,
    TransferError,
)

if TYPE_CHECKING:
    import requests

    from .file_download import FileDownload
    from .progress import ProgressSink

READ_SIZE = 64 << 10  # bytes per socket read at least; small enough to notice Ctrl-C promptly
MAX_READ_SIZE = 256 << 10  # bytes per socket read at most (larger reads measured slower)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
WAIT_SLICE = 0.2  # seconds the main thread blocks at a time while workers download
MAX_REDIRECTS = 10
POOL_SIZE = 32  # connections kept per host
PARTIAL_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"


def disk_free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


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
    range_threshold: int = 64 << 20  # files at least this big are fetched in parallel ranges
    parallel_files: int = 4
    retry_after_max: float = 300.0  # a longer Retry-After gives up instead of waiting
    max_restarts: int = 3  # downloads restarted from zero (200 to a Range, 416, bad 206)
    max_resumes: int = 100  # in-call resumes of one file (or range) even when each made progress
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    free_space: Callable[[Path], int] = field(default=disk_free_bytes, repr=False, compare=False)


@dataclass(frozen=True)
class RemoteFile:
    """One file to download.

    ``headers`` (e.g. ``Authorization``) go only to the host of the first URL, never to a
    redirect target on another host, and never into messages. ``resolve`` returns a fresh
    signed URL; it is called again once when the blob host answers 400/403 (expired signature).
    """

    relpath: str  # posix path inside the destination folder, e.g. "sub/train.csv"
    url: str | None = None  # a direct GET URL, or ...
    resolve: Callable[[requests.Session], str] | None = None  # ... a call returning one
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    size: int | None = None  # expected size, when the source knows it
    md5: str | None = None  # expected hex md5, when the source knows it (Drive md5Checksum)
    validator: str | None = None  # a source-side version tag (ETag, Drive md5) for resume

    def __repr__(self) -> str:  # a signed URL's query is a credential: never shown
        url = redact_url(self.url) if self.url else None
        return (
            f"RemoteFile(relpath={self.relpath!r}, url={url!r}, size={self.size!r}, "
            f"md5={self.md5!r}, validator={self.validator!r})"
        )


@dataclass(frozen=True)
class FetchedFile:
    relpath: str
    path: Path
    size: int
    md5: str | None  # hex, when md5 was computed (not when the cheaper crc32c was checked)
    resumed_from: int  # bytes reused from an earlier partial download


def read_size_for(length: int | None) -> int:
    """Bytes per socket read for a body of ``length`` bytes: larger reads cost less CPU per byte
    (about a third less time for 1 GiB on loopback at 256 KiB than at 64 KiB), and a dropped
    connection loses at most one read, kept here under 2% of the body."""
    if length is None:
        return READ_SIZE
    return max(READ_SIZE, min(MAX_READ_SIZE, length // 64))


# --------------------------------------------------------------------------- sessions


def make_session(env: Mapping[str, str] | None = None) -> requests.Session:
    """A requests session honouring HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE.

    The settings come from ``env`` (default: ``os.environ``) when the session is made; the
    session ignores ``.netrc`` so no stray credentials reach any host.
    """
    from requests.adapters import HTTPAdapter

    env = os.environ if env is None else env
    session = _env_session_class()()
    session.trust_env = False
    for prefix in ("http://", "https://"):  # room for parallel files x parallel ranges
        session.mount(prefix, HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE))
    for scheme in ("http", "https"):
        proxy = _env_value(env, f"{scheme}_proxy") or _env_value(env, "all_proxy")
        if proxy:
            session.proxies[scheme] = proxy
    session.no_proxy = _parse_no_proxy(_env_value(env, "no_proxy") or "")  # type: ignore[attr-defined]
    ca_bundle = (
        env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    )
    if ca_bundle:
        session.verify = ca_bundle
    from . import __version__

    session.headers["User-Agent"] = f"mlenv-magics/{__version__}"
    return session


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or env.get(name.upper()) or None


def _parse_no_proxy(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def _bypasses_proxy(url: str, no_proxy: Sequence[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    for entry in no_proxy:
        if entry == "*":
            return True
        if "/" in entry:
            import ipaddress

            with suppress(ValueError):
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            continue
        name = entry.split(":")[0].lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


_SESSION_CLASS: Any = None


def _env_session_class() -> Any:
    global _SESSION_CLASS
    if _SESSION_CLASS is None:
        import requests

        class EnvSession(requests.Session):
            no_proxy: tuple[str, ...] = ()

            def send(self, request: Any, **kwargs: Any) -> Any:
                if kwargs.get("proxies") and _bypasses_proxy(request.url or "", self.no_proxy):
                    kwargs["proxies"] = {}
                return super().send(request, **kwargs)

        _SESSION_CLASS = EnvSession
    return _SESSION_CLASS


# --------------------------------------------------------------------------- retries


def redact_url(url: str) -> str:
    """``scheme://host/path`` without the query (signed URLs carry their signature there)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


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


def _is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(response: requests.Response) -> float | None:
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


def network_error_types() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3.exceptions

    return (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (requests nests urllib3 errors in ``args`` and ``__context__``)."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend([*item.args, item.__cause__, item.__context__])
        pending.append(getattr(item, "reason", None))


def describe_network_error(exc: BaseException) -> str:
    import requests
    import urllib3.exceptions

    causes = list(_causes(exc))
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in causes):
        return "connection timed out"
    timeouts = (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError)
    if any(isinstance(c, timeouts) for c in causes):
        return "no data within the read timeout"
    if any(isinstance(c, requests.exceptions.ProxyError) for c in causes):
        return "the proxy refused the connection"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(
        isinstance(c, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError)
        for c in causes
    ):
        return "the connection dropped mid-transfer"
    return "connection failed"


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: TransferPolicy = TransferPolicy(),
    **kwargs: Any,
) -> requests.Response:
    """One request with timeouts and bounded retries (429 with Retry-After, 5xx, dropped
    connections, timeouts). Returns the final response, whatever its status, for the caller to
    map; raises TransferError when the network kept failing."""
    import requests

    if kwargs.get("timeout") is None:  # never wait forever
        kwargs["timeout"] = (policy.connect_timeout, policy.read_timeout)
    budget = RetryBudget(policy)
    network_errors = network_error_types()
    while True:
        try:
            response = session.request(method, url, **kwargs)
        except requests.exceptions.SSLError:
            raise TransferError(
                f"TLS verification failed for {host_of(url)}.",
                fix="If a proxy intercepts TLS, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at "
                "its CA certificate, then rerun.",
            ) from None
        except network_errors as exc:
            delay = budget.next_delay()
            if delay is None:
                raise TransferError(
                    f"{method} {redact_url(url)} failed after {budget.failures} tries: "
                    f"{describe_network_error(exc)}.",
                    fix="Check the network connection, then rerun (downloads resume).",
                ) from None
            policy.sleep(delay)
            continue
        if _is_retryable_status(response.status_code):
            delay = budget.next_delay(retry_after_seconds(response))
            if delay is not None:
                response.close()
                policy.sleep(delay)
                continue
        return response


# --------------------------------------------------------------------------- fetching


class Cancelled(Exception):
    """Another worker failed or the user pressed Ctrl-C: stop, keep the partial bytes."""


class _NullProgress:
    def start(self, total_files: int, total_bytes: int | None) -> None: ...
    def file_started(self, relpath: str, size: int | None) -> None: ...
    def advance(self, relpath: str, nbytes: int) -> None: ...
    def file_done(self, relpath: str) -> None: ...
    def close(self) -> None: ...


def safe_relpath(relpath: str) -> PurePosixPath:
    """A relative posix path with no ``..``, absolute or empty parts, or ServerError."""
    path = PurePosixPath(relpath.replace("\\", "/"))
    if (
        not relpath
        or path.is_absolute()
        or "\x00" in relpath
        or any(part in ("", "..", ".") for part in relpath.replace("\\", "/").split("/"))
        or (path.parts and ":" in path.parts[0])
    ):
        raise ServerError(
            f"The server named a file {relpath!r}, which would land outside the data folder; "
            "refusing it.",
            fix="Report this source to its owner; pick other files with --file.",
        )
    return path


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


@dataclass
class SharedState:
    """What the downloads of one ``fetch_files`` call share."""

    session: Any
    policy: TransferPolicy
    sink: Any
    cancel: threading.Event
    active: ActiveResponses


def _needed_bytes(files: Sequence[RemoteFile], partial_dir: Path) -> int:
    needed = 0
    for remote in files:
        if remote.size is None:
            continue
        part = partial_dir / (str(safe_relpath(remote.relpath)) + PARTIAL_SUFFIX)
        have = part.stat().st_size if part.is_file() else 0
        needed += max(remote.size - have, 0)
    return needed


def check_free_space(folder: Path, needed: int, free_space: Callable[[Path], int]) -> None:
    """DiskSpaceError naming ``folder`` when fewer than ``needed`` bytes are free there."""
    if needed <= 0:
        return
    free = free_space(folder)
    if needed > free:
        from .render import human_bytes

        raise DiskSpaceError(
            f"Not enough free disk space in {folder}: {human_bytes(needed)} needed "
            f"({needed} bytes), {human_bytes(free)} free ({free} bytes).",
            fix="Free some space, or set MLENV_CACHE_DIR (or --to) to a bigger disk, then rerun.",
        )


def fetch_files(
    session: requests.Session,
    files: Sequence[RemoteFile],
    dest: Path,
    *,
    partial_dir: Path,
    policy: TransferPolicy = TransferPolicy(),
    progress: ProgressSink | None = None,
) -> list[FetchedFile]:
    """Download ``files`` under ``dest``; return them in the given order.

    Partial bytes live in ``partial_dir`` (kept on failure or Ctrl-C, so a rerun resumes with
    Range/If-Range). Verifies the size, the source's own md5 when it lists one, and the
    ``x-goog-hash`` the server sends: its crc32c when that is cheap (native ``google_crc32c``;
    computed per range while the bytes arrive, then combined), else its md5. A mismatch discards
    the bytes and raises IntegrityError. Free space is checked first when sizes are known.
    Several files download in parallel (``policy.parallel_files``); ``progress`` is not closed
    here (the caller owns it).
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

    sink = progress if progress is not None else _NullProgress()
    sizes = [remote.size for remote in files]
    total = None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)
    sink.start(len(files), total)
    from .file_download import FileDownload

    shared = SharedState(session, policy, sink, threading.Event(), ActiveResponses())
    jobs = [FileDownload(shared, remote, dest, partial_dir) for remote in files]
    workers = min(policy.parallel_files, len(jobs))
    if workers <= 1:
        return [job.run() for job in jobs]
    return _run_parallel(jobs, workers, shared)


def _run_parallel(
    jobs: Sequence[FileDownload], workers: int, shared: SharedState
) -> list[FetchedFile]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlenv-fetch")
    futures: list[Future[FetchedFile]] = [pool.submit(job.run) for job in jobs]
    try:
        pending: set[Future[FetchedFile]] = set(futures)
        while pending:
            # short waits: the main thread notices Ctrl-C promptly on every platform
            done, pending = wait(pending, WAIT_SLICE, FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None and not isinstance(error, Cancelled):
                    raise error
        return [future.result() for future in futures]
    except BaseException:
        shared.cancel.set()
        for future in futures:
            future.cancel()
        shared.active.abort_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
