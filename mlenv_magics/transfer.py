"""One HTTP transfer layer for every source: timeouts, bounded retries, resume, verification.

INTERFACE SKETCH (bodies to be written): sources describe files as ``RemoteFile``s;
``fetch_files`` downloads them into a folder (normally a cache staging folder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from .progress import ProgressSink


@dataclass(frozen=True)
class TransferPolicy:
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


@dataclass(frozen=True)
class RemoteFile:
    relpath: str  # posix path inside the destination folder, e.g. "sub/train.csv"
    url: str | None = None  # a direct GET URL, or ...
    resolve: Callable[[requests.Session], str] | None = None  # ... a call returning one (signed
    #   URLs: called again when the blob host says the URL expired)
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. Authorization (never logged)
    size: int | None = None  # expected size, when the source knows it
    md5: str | None = None  # expected hex md5, when the source knows it (Drive md5Checksum)
    validator: str | None = None  # a source-side version tag (ETag, Drive md5) for resume


@dataclass(frozen=True)
class FetchedFile:
    relpath: str
    path: Path
    size: int
    md5: str | None
    resumed_from: int  # bytes reused from an earlier partial download


def make_session(env: Mapping[str, str] | None = None) -> requests.Session:
    """A requests session honouring HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE."""
    raise NotImplementedError


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: TransferPolicy = TransferPolicy(),
    **kwargs: Any,
) -> requests.Response:
    """One request with timeouts and bounded retries (429 with Retry-After, 5xx, dropped
    connections). Returns the final response, whatever its status, for the caller to map."""
    raise NotImplementedError


def fetch_files(
    session: requests.Session,
    files: Sequence[RemoteFile],
    dest: Path,
    *,
    partial_dir: Path,
    policy: TransferPolicy = TransferPolicy(),
    progress: ProgressSink | None = None,
) -> list[FetchedFile]:
    """Download ``files`` under ``dest``. Partial bytes live in ``partial_dir`` (kept on
    failure or Ctrl-C, so a rerun resumes with Range/If-Range). Verifies size and md5 /
    x-goog-hash; a mismatch discards the bytes and raises IntegrityError."""
    raise NotImplementedError
