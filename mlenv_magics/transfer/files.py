"""What a source asks to download (:class:`RemoteFile`) and what it gets back
(:class:`FetchedFile`), and the names of the resumable partial bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ServerError
from ..pathnames import has_drive_prefix
from .http import redact_url

if TYPE_CHECKING:
    import requests

PARTIAL_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"


@dataclass(frozen=True)
class BodyHere:
    """What ``RemoteFile.resolve`` returns when the answer to its own request already carries
    the bytes (a download RPC answering 200 instead of redirecting): that open, streaming
    response. A retry or a resume calls ``resolve`` again. ``name``: the file name the answer
    gives the bytes (``Content-Disposition``), when it does."""

    response: Any
    name: str | None = None


class SpanWatcher(Protocol):
    """Told which bytes of a download are on disk, as they land (an extractor follows them)."""

    def restart(self, size: int | None) -> None:
        """The partial file starts over (``size``: the total, when known); nothing counts."""

    def add(self, start: int, end: int) -> None:
        """Bytes ``start``..``end`` (exclusive) are written to the partial file."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to download.

    ``headers`` (e.g. ``Authorization``) go only to the host of the first URL, never to a
    redirect target on another host, and never into messages. ``resolve`` returns a fresh
    signed URL (called again once when the blob host answers 400/403: an expired signature),
    or :class:`BodyHere` when the bytes came with its answer.
    """

    relpath: str  # posix path inside the destination folder, e.g. "sub/train.csv"
    url: str | None = None  # a direct GET URL, or ...
    resolve: Callable[[requests.Session], str | BodyHere] | None = None  # ... a call for one
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    size: int | None = None  # expected size, when the source knows it
    md5: str | None = None  # expected hex md5, when the source knows it (Drive md5Checksum)
    validator: str | None = None  # a source-side version tag (ETag, Drive md5) for resume
    watcher: SpanWatcher | None = field(default=None, repr=False, compare=False)

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


def safe_relpath(relpath: str) -> PurePosixPath:
    """A relative posix path with no ``..``, absolute or empty parts, or ServerError."""
    path = PurePosixPath(relpath.replace("\\", "/"))
    if (
        not relpath
        or path.is_absolute()
        or "\x00" in relpath
        or any(part in ("", "..", ".") for part in relpath.replace("\\", "/").split("/"))
        or any(has_drive_prefix(part) for part in path.parts)  # "Results: 2024.csv" is fine
    ):
        raise ServerError(
            f"The server named a file {relpath!r}, which would land outside the data folder; "
            "refusing it.",
            fix="Report this source to its owner; pick other files with --file.",
        )
    return path


def partial_path(partial_dir: Path, relpath: str) -> Path:
    """Where the resumable bytes of ``relpath`` live while it downloads."""
    return partial_dir / (str(safe_relpath(relpath)) + PARTIAL_SUFFIX)
