"""Google Drive files and folders for ``%mlenv_add_data``.

PyDrive2 does the auth and the metadata (``files.get``, ``files.list`` with paging); the media
bytes go through :func:`mlenv_magics.transfer.fetch_files` with the OAuth bearer header, so
resume, md5 verification, retries and progress are the same as for every other source.

Cache layout: every file is its own entry keyed by Drive id and md5 (``drive/file/<id>/<md5>``;
exported Google-native files by id, version and format). A folder is a view entry keyed by
its id and a digest of the selected listing, assembled from hard links to the file entries, so
an unchanged folder costs only the listing and a changed one fetches only the changed files.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .. import config
from ..cache import Cache, CacheEntry
from ..errors import (
    AccessDeniedError,
    CredentialsError,
    MlenvError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ServerError,
    TransferError,
)
from ..transfer import RemoteFile, RetryBudget, TransferPolicy
from . import drive_auth
from .model import AddDataOptions, DataResult, Origin

if TYPE_CHECKING:
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
INDEX_DIR = ".drive-index"  # source id → the entry it resolved to last, for --offline


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


# --------------------------------------------------------------------------- entry point


def acquire_drive(item: DriveItem, options: AddDataOptions) -> DataResult:
    """Fetch a Drive file or folder into the cache (or reuse it) and return where it is."""
    env = options.env
    policy = options.policy or TransferPolicy()
    cache = Cache(config.cache_root(env))
    patterns = _clean_patterns(options.files)
    index = _IndexRecord(cache.root, item.id, patterns)
    if options.offline:
        return _from_cache_offline(item, options, cache, index)

    client = drive_auth.connect(
        env, on_colab=drive_auth.on_colab_host(env, options.shell), timeout=policy.read_timeout
    )
    listing = list_item(client, item.id, policy)
    nodes = listing.nodes = select_nodes(listing.nodes, patterns, item.id)
    if patterns:
        listing.skipped.clear()  # notes only about what was asked for
    if listing.is_folder:
        entry, fetched = _ensure_folder(client, item.id, nodes, cache, options, policy)
    else:
        entry, fetched = _ensure_file(client, nodes[0], cache, options, policy)
    index.save(entry, listing.title, listing.is_folder)
    return _result(item, listing, entry, "downloaded" if fetched else "cache", options)


def _result(
    item: DriveItem,
    listing: DriveListing,
    entry: CacheEntry,
    origin: Origin,
    options: AddDataOptions,
    notes: Sequence[str] = (),
) -> DataResult:
    entry.touch()
    path = entry.path
    relpaths = _relpaths(path)
    if options.to is not None:
        path = _place(path, relpaths, options.to)
    size = sum((path / rel).stat().st_size for rel in relpaths)
    all_notes = list(notes)
    exported = sum(1 for node in listing.nodes if node.export_mime)
    if exported:
        all_notes.append(f"exported {exported} Google Docs-native file(s)")
    if listing.skipped:
        shown = ", ".join(listing.skipped[:3]) + (", ..." if len(listing.skipped) > 3 else "")
        all_notes.append(f"skipped {len(listing.skipped)} item(s) Drive cannot export: {shown}")
    kind = "folder" if listing.is_folder else "file"
    return DataResult(
        path=path,
        source=f"drive {kind} {listing.title or item.id}",
        version=None,
        origin=origin,
        files=len(relpaths),
        size=size,
        notes=tuple(all_notes),
    )


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


def _clean_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    return tuple(p.strip().lstrip("/").removeprefix("./") for p in patterns if p.strip())


def select_nodes(nodes: list[DriveNode], patterns: Sequence[str], item_id: str) -> list[DriveNode]:
    """Nodes whose path or name matches a ``--file`` glob; every glob must match something."""
    if not patterns:
        if not nodes:
            raise NotFoundError(
                f"Drive folder {item_id} holds no files that can be downloaded.",
                fix="Check the folder id, or share its files with these credentials.",
            )
        return nodes

    def matches(node: DriveNode, pattern: str) -> bool:
        return fnmatch.fnmatchcase(node.relpath, pattern) or fnmatch.fnmatchcase(node.name, pattern)

    unmatched = [p for p in patterns if not any(matches(node, p) for node in nodes)]
    if unmatched:
        available = ", ".join(node.relpath for node in nodes[:10])
        more = ", ..." if len(nodes) > 10 else ""
        raise NotFoundError(
            f"--file {', '.join(unmatched)} matched nothing in Drive item {item_id}.",
            fix=f"Pick from: {available}{more}",
        )
    return [node for node in nodes if any(matches(node, p) for p in patterns)]


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


# --------------------------------------------------------------------------- cache


def _ensure_file(
    client: DriveClient,
    node: DriveNode,
    cache: Cache,
    options: AddDataOptions,
    policy: TransferPolicy,
) -> tuple[CacheEntry, bool]:
    from ..transfer import fetch_files, make_session

    entry = cache.entry(*node.cache_key())
    if entry.is_complete() and not options.force:
        return entry, False
    with entry.lock():
        if entry.is_complete() and not options.force:
            return entry, False
        session = make_session(options.env)
        try:
            with entry.publish(_file_metadata(node)) as staging:
                remote = node.remote(client, node.name)
                fetch_files(
                    session,
                    [remote],
                    staging,
                    partial_dir=entry.partial_dir,
                    policy=policy,
                    progress=options.progress,
                )
        finally:
            session.close()
    return entry, True


def _ensure_folder(
    client: DriveClient,
    folder_id: str,
    nodes: list[DriveNode],
    cache: Cache,
    options: AddDataOptions,
    policy: TransferPolicy,
) -> tuple[CacheEntry, bool]:
    from ..transfer import fetch_files, make_session

    digest = _listing_digest(nodes)
    view = cache.entry("drive", "folder", folder_id, digest)
    if view.is_complete() and not options.force:
        return view, False
    with view.lock():
        if view.is_complete() and not options.force:
            return view, False
        file_entries = {node.relpath: cache.entry(*node.cache_key()) for node in nodes}
        missing = [
            node for node in nodes if options.force or not file_entries[node.relpath].is_complete()
        ]
        metadata = {"source": f"drive folder {folder_id}", "listing": digest}
        session = make_session(options.env)
        try:
            with view.publish(metadata) as staging:
                if missing:
                    fetch_files(
                        session,
                        [node.remote(client, node.relpath) for node in missing],
                        staging,
                        partial_dir=view.partial_dir,
                        policy=policy,
                        progress=options.progress,
                    )
                for node in missing:
                    _publish_file_entry(file_entries[node.relpath], staging / node.relpath, node)
                fetched = {node.relpath for node in missing}
                for node in nodes:
                    if node.relpath in fetched:
                        continue
                    entry = file_entries[node.relpath]
                    _link_or_copy(_entry_file(entry), staging / node.relpath)
        finally:
            session.close()
    return view, bool(missing)


def _publish_file_entry(entry: CacheEntry, fetched: Path, node: DriveNode) -> None:
    with entry.lock(), entry.publish(_file_metadata(node)) as staging:
        _link_or_copy(fetched, staging / node.name)


def _file_metadata(node: DriveNode) -> dict[str, Any]:
    return {
        "source": f"drive file {node.id}",
        "name": node.name,
        "md5": node.md5,
        "version": node.version,
        "export_mime": node.export_mime,
    }


def _entry_file(entry: CacheEntry) -> Path:
    name = (entry.metadata() or {}).get("name")
    if name and (entry.path / name).is_file():
        return entry.path / str(name)
    files = [p for p in entry.path.iterdir() if p.is_file()]
    if len(files) != 1:
        raise ServerError(
            f"The cache entry {entry.path} does not hold exactly one file.",
            fix="Rerun with --force to fetch it again.",
        )
    return files[0]


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _listing_digest(nodes: Sequence[DriveNode]) -> str:
    described = sorted([node.relpath, *node.cache_key()] for node in nodes)
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:24]


def _relpaths(folder: Path) -> list[str]:
    found = []
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            found.append(Path(dirpath, name).relative_to(folder).as_posix())
    return sorted(found)


def _place(source: Path, relpaths: Sequence[str], target: Path) -> Path:
    """Copy the files into ``--to`` (copies, so edits there never touch the cache)."""
    target = target.expanduser()
    target.mkdir(parents=True, exist_ok=True)
    for rel in relpaths:
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            shutil.copy2(source / rel, temporary)
            os.replace(temporary, destination)
        finally:
            temporary.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- offline


@dataclass(frozen=True)
class _IndexRecord:
    """Which cache entry a Drive id (with these ``--file`` globs) resolved to last."""

    cache_root: Path
    item_id: str
    patterns: tuple[str, ...]

    @property
    def path(self) -> Path:
        selection = hashlib.sha256(json.dumps(sorted(self.patterns)).encode()).hexdigest()[:12]
        return self.cache_root / INDEX_DIR / f"{self.item_id}-{selection}.json"

    def save(self, entry: CacheEntry, title: str, is_folder: bool) -> None:
        record = {"key": list(entry.key), "title": title, "is_folder": is_folder}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, self.path)

    def load(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("key"), list) else None


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


def _from_cache_offline(
    item: DriveItem, options: AddDataOptions, cache: Cache, index: _IndexRecord
) -> DataResult:
    record = index.load() or {}
    entry = cache.entry(*(str(part) for part in record["key"])) if record else None
    if entry is None or not entry.is_complete():
        record = {}
        entry = None if index.patterns else _newest_cached(cache, item.id)
    if entry is not None:
        is_folder = bool(record.get("is_folder", entry.key[1] == "folder"))
        title = str(record.get("title") or (entry.metadata() or {}).get("name") or item.id)
        listing = DriveListing(title=title, is_folder=is_folder)
        note = "offline: using the cached copy (not checked against Drive)"
        return _result(item, listing, entry, "cache", options, notes=[note])
    selection = f" with --file {' '.join(index.patterns)}" if index.patterns else ""
    raise OfflineError(
        f"--offline: Drive item {item.id}{selection} is not in the cache "
        f"({config.cache_root(options.env)}).",
        fix="Run the same command once without --offline while online; later runs can use "
        "--offline.",
    )


__all__ = ["DriveListing", "DriveNode", "acquire_drive", "list_item", "select_nodes"]
