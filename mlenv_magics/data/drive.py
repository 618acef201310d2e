"""Google Drive files and folders, as a source of the data pipeline (``pipeline.py``).

PyDrive2 does the auth and the metadata (``files.get``, ``files.list`` with paging); the media
bytes go through the transfer layer with the OAuth bearer header, so resume, md5 verification,
retries and progress are the same as for every other source.

Cache layout: every file is its own entry keyed by Drive id and md5 (``drive/file/<id>/<md5>``;
exported Google-native files by id, version and format). A folder is a view entry keyed by
its id and a digest of the selected listing, assembled by the pipeline from hard links to the
file entries (``Download.store_key``), so an unchanged folder costs only the listing and a
changed one fetches only the changed files.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ..errors import (
    AccessDeniedError,
    CredentialsError,
    MlenvError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransferError,
)
from ..transfer import RemoteFile, RetryBudget, TransferPolicy
from . import drive_auth
from .model import Origin
from .pipeline import (
    Cached,
    Download,
    Fetch,
    Files,
    ListedFile,
    Release,
    Run,
    Selection,
    Source,
    with_notes,
)

if TYPE_CHECKING:
    from ..cache import Cache, CacheEntry
    from .drive_auth import DriveClient
    from .sources import DriveItem

T = TypeVar("T")

FOLDER_MIME = "application/vnd.google-apps.folder"
GOOGLE_APPS_PREFIX = "application/vnd.google-apps."
PDF = "application/pdf"
EXPORT_FORMATS: dict[str, tuple[tuple[str, str], ...]] = {
    "document": (
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
        (PDF, ".pdf"),
    ),
    "spreadsheet": (
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
        ("text/csv", ".csv"),
    ),
    "presentation": (
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
        (PDF, ".pdf"),
    ),
    "drawing": (("image/png", ".png"), (PDF, ".pdf")),
    "jam": ((PDF, ".pdf"),),
    "script": (("application/vnd.google-apps.script+json", ".json"),),
}
ITEM_FIELDS = (
    "id,title,mimeType,fileSize,md5Checksum,version,exportLinks,resourceKey,labels/trashed"
)
LIST_FIELDS = f"nextPageToken,items({ITEM_FIELDS})"
RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
MAX_FOLDERS = 20_000  # a walk never lists more folders than this
MAX_PAGES_PER_FOLDER = 10_000


@dataclass(frozen=True)
class DriveNode:
    """One file to place: where it goes and what identifies its bytes."""

    id: str
    relpath: str
    mime_type: str
    size: int | None
    md5: str | None
    version: str
    resource_key: str | None = None
    export_mime: str | None = None  # set for Google-native files (exported)
    export_ext: str = ""

    @property
    def name(self) -> str:
        return posixpath.basename(self.relpath)

    def cache_key(self) -> tuple[str, ...]:
        if self.export_mime:
            return ("drive", "export", self.id, self.version, self.export_ext.lstrip("."))
        return ("drive", "file", self.id, self.md5 or f"v{self.version}")

    def remote(self, client: DriveClient, relpath: str) -> RemoteFile:
        base = client.api_base
        if self.export_mime:
            url = f"{base}files/{quote(self.id)}/export?mimeType={quote(self.export_mime, safe='')}"
        else:
            url = f"{base}files/{quote(self.id)}?alt=media&supportsAllDrives=true"
        return RemoteFile(
            relpath=relpath,
            url=url,
            headers=client.media_headers(self.resource_key, self.id),
            size=self.size,
            md5=self.md5,
            validator=self.md5,
        )


@dataclass
class DriveListing:
    title: str
    is_folder: bool
    nodes: list[DriveNode] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "relpath (why)"


# --------------------------------------------------------------------------- listing


def list_item(client: DriveClient, item_id: str, policy: TransferPolicy) -> DriveListing:
    """The item's metadata and, for a folder, its whole tree (bounded)."""
    drive_file = client.drive.CreateFile({"id": item_id})
    _call(client, lambda: drive_file.FetchMetadata(fields=ITEM_FIELDS), policy, item_id)
    metadata = dict(drive_file.metadata or drive_file)
    title = str(metadata.get("title") or item_id)
    if metadata.get("mimeType") != FOLDER_MIME:
        listing = DriveListing(title=title, is_folder=False)
        node = _node(metadata, _safe_name(title, item_id), listing)
        if node is None:
            raise NotFoundError(
                f"Drive item {title} ({metadata.get('mimeType')}) has no downloadable or "
                "exportable content.",
                fix="Pick a regular file, a Google Doc, Sheet, Slides or Drawing, or a folder.",
            )
        listing.nodes.append(node)
        return listing
    listing = DriveListing(title=title, is_folder=True)
    pending: list[tuple[str, str]] = [(item_id, "")]
    seen_folders = {item_id}
    while pending:
        folder_id, prefix = pending.pop(0)
        used: set[str] = set()
        children = sorted(
            list_children(client, folder_id, policy),
            key=lambda child: (str(child.get("title", "")), str(child.get("id", ""))),
        )
        for child in children:
            child_id = str(child.get("id", ""))
            name = _unique_name(_safe_name(str(child.get("title") or ""), child_id), child_id, used)
            relpath = f"{prefix}{name}"
            if child.get("mimeType") == FOLDER_MIME:
                if child_id in seen_folders:
                    continue
                seen_folders.add(child_id)
                if len(seen_folders) > MAX_FOLDERS:
                    raise ServerError(
                        f"Drive folder {title} holds more than {MAX_FOLDERS} folders.",
                        fix="Add a sub-folder instead, or pick files with --file.",
                    )
                pending.append((child_id, relpath + "/"))
                continue
            node = _node(child, relpath, listing)
            if node is not None:
                listing.nodes.append(node)
    return listing


def list_children(client: DriveClient, folder_id: str, policy: TransferPolicy) -> list[dict]:
    """Every non-trashed child of a folder, page by page (shared drives included)."""
    file_list = client.drive.ListFile(
        {
            "q": f"'{folder_id}' in parents and trashed = false",
            "fields": LIST_FIELDS,
            "maxResults": 1000,
        }
    )
    items: list[dict] = []
    for _page in range(MAX_PAGES_PER_FOLDER):
        page = _call(client, file_list.GetList, policy, folder_id)
        items.extend(dict(entry.metadata or entry) for entry in page)
        if file_list.get("pageToken") is None:
            return items
    raise ServerError(
        f"Listing Drive folder {folder_id} did not end after {MAX_PAGES_PER_FOLDER} pages.",
        fix="Rerun later; report it if it persists.",
    )


def _node(metadata: dict, relpath: str, listing: DriveListing) -> DriveNode | None:
    mime = str(metadata.get("mimeType") or "")
    file_id = str(metadata["id"])
    version = str(metadata.get("version") or "0")
    resource_key = metadata.get("resourceKey") or None
    if not mime.startswith(GOOGLE_APPS_PREFIX):
        size_text = metadata.get("fileSize")
        return DriveNode(
            id=file_id,
            relpath=relpath,
            mime_type=mime,
            size=int(size_text) if size_text not in (None, "") else None,
            md5=metadata.get("md5Checksum") or None,
            version=version,
            resource_key=resource_key,
        )
    kind = mime[len(GOOGLE_APPS_PREFIX) :]
    links = metadata.get("exportLinks") or {}
    for export_mime, ext in EXPORT_FORMATS.get(kind, ()):
        if not links or export_mime in links:
            path = relpath if relpath.lower().endswith(ext) else relpath + ext
            return DriveNode(
                id=file_id,
                relpath=path,
                mime_type=mime,
                size=None,
                md5=None,
                version=version,
                resource_key=resource_key,
                export_mime=export_mime,
                export_ext=ext,
            )
    listing.skipped.append(f"{relpath} ({kind})")
    return None


def _safe_name(title: str, file_id: str) -> str:
    name = title.replace("/", "_").replace("\\", "_").replace("\x00", "").strip()
    return name if name not in {"", ".", ".."} else f"_{file_id}"


def _unique_name(name: str, file_id: str, used: set[str]) -> str:
    """Drive allows equal titles in one folder; later ones get their id appended."""
    if name.casefold() in used:
        stem, ext = posixpath.splitext(name)
        name = f"{stem} ({file_id}){ext}"
    used.add(name.casefold())
    return name


# --------------------------------------------------------------------------- API errors


def _call(client: DriveClient, call: Callable[[], T], policy: TransferPolicy, item_id: str) -> T:
    """A PyDrive2 call with bounded retries on 429, 5xx, rate limits and network errors
    (PyDrive2 itself does not retry), its failures mapped to errors that name the fix."""
    import httplib2
    from google.auth.exceptions import RefreshError as GoogleAuthRefreshError
    from google.auth.exceptions import TransportError as GoogleAuthTransportError
    from oauth2client.client import AccessTokenRefreshError
    from pydrive2.auth import AuthError
    from pydrive2.files import ApiRequestError

    budget = RetryBudget(policy)
    while True:
        try:
            return call()
        except ApiRequestError as error:
            code = int(error.error.get("code") or 0)
            reason = str(error.GetField("reason") or "")
            retryable = code == 429 or code >= 500 or reason in RATE_LIMIT_REASONS
            delay = budget.next_delay(_retry_after(error)) if retryable else None
            if delay is None:
                raise _api_error(client, code, reason, item_id) from None
        except (AccessTokenRefreshError, AuthError, GoogleAuthRefreshError) as error:
            raise drive_auth.rejected(client.source, error) from None
        except (OSError, httplib2.HttpLib2Error, GoogleAuthTransportError) as error:
            delay = budget.next_delay()
            if delay is None:
                raise TransferError(
                    f"Google Drive at {client.api_base} could not be reached "
                    f"({type(error).__name__}) after {budget.failures} tries.",
                    fix="Check the network connection, then rerun."
                    + drive_auth.network_hint(client.env),
                ) from None
        policy.sleep(delay)


def _retry_after(error: Any) -> float | None:
    response = getattr(error.args[0], "resp", None) if error.args else None
    value = response.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _api_error(client: DriveClient, code: int, reason: str, item_id: str) -> MlenvError:
    who = client.source
    if code == 401:
        return CredentialsError(
            f"Google Drive rejected the access token from {who} (401).",
            fix="Renew the credentials (a new key or saved login), then rerun.",
        )
    if code == 404:
        return NotFoundError(
            f"Drive item {item_id} was not found, or {who} cannot see it.",
            fix="Check the id or link. If it exists, share it with these credentials "
            "(for a service account, with its client_email) and rerun.",
        )
    if code == 429 or reason in RATE_LIMIT_REASONS:
        return RateLimitedError(
            f"Google Drive kept rate-limiting requests for {item_id} ({reason or code}).",
            fix="Wait a few minutes, then rerun.",
        )
    if code == 403:
        return AccessDeniedError(
            f"{who} may not read Drive item {item_id} ({reason or 'forbidden'}).",
            fix="Share the file or folder with these credentials (Viewer is enough), "
            "or use credentials that can read it.",
        )
    return ServerError(
        f"Google Drive kept failing for {item_id} (HTTP {code} {reason}).".replace(" )", ")"),
        fix="Rerun later; report it if it persists.",
    )


# --------------------------------------------------------------------------- the source

OFFLINE_NOTE = "offline: using the cached copy (not checked against Drive)"


class DriveSource(Source):
    def __init__(self, item: DriveItem) -> None:
        self.item = item
        self.label = item.label
        self.web_url = None
        self.identity = f"drive:{item.id}"

    def release(self, run: Run) -> Release:
        client = drive_auth.connect(
            run.env,
            on_colab=drive_auth.on_colab_host(run.env, run.options.shell),
            timeout=run.policy.read_timeout,
        )
        listing = list_item(client, self.item.id, run.policy)
        if not listing.nodes:
            raise NotFoundError(
                f"Drive folder {self.item.id} holds no files that can be downloaded.",
                fix="Check the folder id, or share its files with these credentials.",
            )
        return DriveRelease(self.item, client, listing)

    def offline(
        self, run: Run, patterns: tuple[str, ...], remembered: Cached | None
    ) -> Iterable[Cached]:
        if remembered is not None:
            yield with_notes(remembered, OFFLINE_NOTE)
        if not patterns:
            newest = _newest_cached(run.cache, self.item.id)
            if newest is not None:
                kind = "folder" if newest.key[1] == "folder" else "file"
                title = (newest.metadata() or {}).get("name") or self.item.id
                yield Cached(newest.key, None, f"drive {kind} {title}", None, (OFFLINE_NOTE,))


class DriveRelease(Release):
    def __init__(self, item: DriveItem, client: DriveClient, listing: DriveListing) -> None:
        self.item = item
        self.client = client
        self.drive_listing = listing
        self.version = None
        kind = "folder" if listing.is_folder else "file"
        self.label = f"drive {kind} {listing.title or item.id}"

    def _nodes(self, selection: Selection | None) -> list[DriveNode]:
        nodes = self.drive_listing.nodes
        if selection is None:
            return nodes
        chosen = {listed.relpath for listed in selection.files}
        return [node for node in nodes if node.relpath in chosen]

    def listing(self) -> Sequence[ListedFile]:
        return [ListedFile(n.relpath, n.size, n.md5) for n in self.drive_listing.nodes]

    def entry_key(self, selection: Selection | None) -> tuple[str, ...]:
        nodes = self._nodes(selection)
        if not self.drive_listing.is_folder:
            return nodes[0].cache_key()
        return ("drive", "folder", self.item.id, _listing_digest(nodes))

    def fetch(self, selection: Selection | None) -> Fetch:
        nodes = self._nodes(selection)
        if not self.drive_listing.is_folder:
            return Files([Download(nodes[0].remote(self.client, nodes[0].name))])
        return Files(
            [
                Download(
                    node.remote(self.client, node.relpath),
                    store_key=node.cache_key(),
                    store_metadata=_file_metadata(node),
                )
                for node in nodes
            ]
        )

    def metadata(self, selection: Selection | None) -> dict[str, Any]:
        nodes = self._nodes(selection)
        if not self.drive_listing.is_folder:
            return _file_metadata(nodes[0])
        return {"source": f"drive folder {self.item.id}", "listing": _listing_digest(nodes)}

    def notes(self, selection: Selection | None, origin: Origin) -> Sequence[str]:
        notes = []
        exported = sum(1 for node in self._nodes(selection) if node.export_mime)
        if exported:
            notes.append(f"exported {exported} Google Docs-native file(s)")
        skipped = self.drive_listing.skipped if selection is None else []
        if skipped:
            shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
            notes.append(f"skipped {len(skipped)} item(s) Drive cannot export: {shown}")
        return notes


def _file_metadata(node: DriveNode) -> dict[str, Any]:
    return {
        "source": f"drive file {node.id}",
        "name": node.name,
        "md5": node.md5,
        "version": node.version,
        "export_mime": node.export_mime,
    }


def _listing_digest(nodes: Sequence[DriveNode]) -> str:
    described = sorted([node.relpath, *node.cache_key()] for node in nodes)
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:24]


def _newest_cached(cache: Cache, item_id: str) -> CacheEntry | None:
    """A complete entry of this Drive id fetched in any way (alone or inside a folder)."""
    kinds = {"file", "export", "folder"}
    found = [
        entry
        for entry in cache.entries()
        if len(entry.key) >= 3
        and entry.key[0] == "drive"
        and entry.key[1] in kinds
        and entry.key[2] == item_id
        and entry.is_complete()
    ]
    return max(found, key=lambda entry: entry.last_used() or 0.0, default=None)


__all__ = ["DriveListing", "DriveNode", "DriveSource", "list_item"]
