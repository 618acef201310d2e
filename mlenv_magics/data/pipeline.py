"""One pipeline for every data source: cache lookup, lock, staging, publish, ``--file``,
``--to``, ``--offline``, ``--force`` and the summary, the same for all of them.

The Source interface
--------------------
A source is one module with a class derived from :class:`Source`, registered in
``data/registry.py`` against the type its SOURCE text parses to (``data/sources.py``). It
says only what exists, where each file comes from and what identifies a version:

``label`` / ``web_url`` / ``identity``
    How the summary and messages name it; the page shown when a ``--file`` pattern matches
    nothing; a stable string the pipeline remembers the last cache entry under (for
    ``--offline``).
``before_cache(run) -> Found | None``
    Host-specific routes tried before the cache (a Kaggle mount or attach, Colab's Kaggle
    cache). Return a :class:`Found` folder, or None to go on to the cache.
``release(run) -> Release``
    Online: the version to use now (this may cost a request, e.g. the latest version number).
``offline(run, patterns, remembered) -> Iterable[Cached]``
    ``--offline``: cache entries that may serve the request, best first (the default offers
    what the pipeline remembered from the last online run). ``offline_miss`` words the error
    when none is complete.

A :class:`Release` (one version) says:

``version`` / ``label``
    The version shown in the summary (or None) and the name shown (may add a title).
``entry_key(selection)``
    The cache key of the whole version (``selection`` None) or of a ``--file`` selection; a
    selection key must never equal the whole one. A complete entry of the whole version also
    serves any selection of it.
``listing()``
    What exists: :class:`ListedFile` relpaths (posix), sizes and md5s when known. Only called
    when a selection needs it (:attr:`Selection.files`).
``fetch(selection)``
    Where the bytes come from: an :class:`Archive` (one zip or tar, tar.gz included, extracted
    into the entry) or :class:`Files` (per-file :class:`Download` s, each a
    :class:`~mlenv_magics.transfer.RemoteFile` with its size, md5 and validator when known;
    sizes, hashes and ``x-goog-hash`` are verified by the transfer layer).
``metadata(selection)`` / ``notes(selection, origin)``
    What the completion marker records, and extra notes for the summary line.

Errors are :class:`~mlenv_magics.errors.MlenvError` subclasses; a source that needs a login
raises :class:`~mlenv_magics.errors.LoginRequired`. Sources never print: progress goes to
``run.progress`` (through the transfer layer), one-line notices before a wait to
``run.notice``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import ArchiveError, OfflineError, ServerError
from .model import AddDataOptions, DataResult, Origin
from .placement import list_files, place, total_size
from .selection import clean_patterns, select

if TYPE_CHECKING:
    import requests

    from ..cache import Cache, CacheEntry
    from ..progress import ProgressSink
    from ..runtime import Runtime
    from ..transfer import RemoteFile, TransferPolicy

INDEX_DIR = ".index"  # source identity (+ --file patterns) -> the entry it resolved to last


# --------------------------------------------------------------------------- what sources say


@dataclass(frozen=True)
class ListedFile:
    relpath: str  # posix, relative to the data folder
    size: int | None = None
    md5: str | None = None  # hex


@dataclass(frozen=True)
class Download:
    """One file of the data: ``remote.relpath`` is where it lands in the data folder.

    ``served_name`` (called after the download) returns the name the host served the bytes
    under: when it ends in ``.zip`` and the relpath does not, the host wrapped the file, and
    the single file inside is unwrapped. Files are never opened to guess. ``store_key`` keeps
    the file as its own cache entry as well, shared by every folder view that holds it.
    """

    remote: RemoteFile
    served_name: Callable[[], str | None] | None = None
    store_key: tuple[str, ...] | None = None
    store_metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Files:
    downloads: Sequence[Download]
    total_bytes: int | None = None  # for the progress bar, when the listing knows it


@dataclass(frozen=True)
class Archive:
    """The whole data as one archive, extracted into the entry (zip, tar, tar.gz, tar.xz)."""

    remote: RemoteFile
    sender: str  # who made it, for the message when it cannot be used ("Kaggle")


Fetch = Files | Archive


@dataclass(frozen=True)
class Found:
    """Data already on this machine before the cache: a mount or a host's own cache."""

    root: Path
    origin: Origin
    version: str | None = None


@dataclass(frozen=True)
class Cached:
    """A cache entry that may serve an ``--offline`` request."""

    key: tuple[str, ...]
    version: str | None = None
    label: str | None = None  # the summary name, when it differs from the source's label
    whole_key: tuple[str, ...] | None = None  # for a selection: the whole version, serving it
    notes: tuple[str, ...] = ()


class Selection:
    """The ``--file`` patterns of one request; :attr:`files` lists the release once."""

    def __init__(self, release: Release, patterns: tuple[str, ...], source: Source) -> None:
        self.release = release
        self.patterns = patterns
        self.source = source

    @cached_property
    def files(self) -> list[ListedFile]:
        listed = list(self.release.listing())
        names = select(
            [f.relpath for f in listed], self.patterns, self.source.label, self.source.web_url
        )
        chosen = set(names)
        return [f for f in listed if f.relpath in chosen]


class Release(ABC):
    """One version of a source, as it is online now."""

    version: str | None = None
    label: str = ""

    @abstractmethod
    def entry_key(self, selection: Selection | None) -> tuple[str, ...]: ...

    @abstractmethod
    def listing(self) -> Sequence[ListedFile]: ...

    @abstractmethod
    def fetch(self, selection: Selection | None) -> Fetch: ...

    def metadata(self, selection: Selection | None) -> dict[str, Any]:
        patterns = list(selection.patterns) if selection is not None else []
        return {"source": self.label, "version": self.version, "patterns": patterns}

    def notes(self, selection: Selection | None, origin: Origin) -> Sequence[str]:
        return ()


class Source(ABC):
    label: str
    web_url: str | None = None
    identity: str

    def before_cache(self, run: Run) -> Found | None:
        return None

    @abstractmethod
    def release(self, run: Run) -> Release: ...

    def offline(
        self, run: Run, patterns: tuple[str, ...], remembered: Cached | None
    ) -> Iterable[Cached]:
        return [remembered] if remembered is not None else []

    def offline_miss(self, run: Run, patterns: tuple[str, ...]) -> OfflineError:
        selection = f" with --file {' '.join(patterns)}" if patterns else ""
        return OfflineError(
            f"--offline: {self.label}{selection} is not in the cache ({run.cache.root}).",
            fix="Run the same command once without --offline while online; later runs can use "
            "--offline.",
        )


# --------------------------------------------------------------------------- one request


class Run:
    """What one request shares: options, environment, cache, HTTP session, notes."""

    def __init__(self, options: AddDataOptions) -> None:
        from ..cache import Cache
        from ..transfer import TransferPolicy

        self.options = options
        self.env = options.env
        self.policy: TransferPolicy = options.policy or TransferPolicy()
        self.cache: Cache = Cache(config.cache_root(self.env))
        self.progress: ProgressSink | None = options.progress
        self.notes: list[str] = []
        self._session: requests.Session | None = None

    @cached_property
    def runtime(self) -> Runtime:
        from ..runtime import detect_runtime

        return detect_runtime(self.env, shell=self.options.shell)

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            from ..transfer import make_session

            self._session = make_session(self.env)
        return self._session

    def notice(self, text: str) -> None:
        if self.options.notice is not None:
            self.options.notice(text)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def run_pipeline(source: Source, options: AddDataOptions) -> DataResult:
    """Make ``source`` available locally and describe where it is."""
    run = Run(options)
    try:
        return _acquire(source, run)
    finally:
        run.close()


def _acquire(source: Source, run: Run) -> DataResult:
    options = run.options
    patterns = clean_patterns(options.files)
    found = source.before_cache(run)
    if found is not None:
        return _result(run, source, source.label, found.root, found.origin, found.version)
    index = _Index(run.cache.root, source.identity, patterns)
    if options.offline:
        for cached in source.offline(run, patterns, index.load()):
            hit = _complete(run.cache, cached.key, cached.whole_key if patterns else None)
            if hit is not None:
                hit.touch()  # recorded for `mlenv cache prune --older-than`
                run.notes.extend(cached.notes)
                label = cached.label or source.label
                return _result(run, source, label, hit.path, "cache", cached.version)
        raise source.offline_miss(run, patterns)

    release = source.release(run)
    selection = Selection(release, patterns, source) if patterns else None
    entry = run.cache.entry(*release.entry_key(selection))
    whole = release.entry_key(None) if selection is not None else None
    origin: Origin = "cache"
    hit = None if options.force else _complete(run.cache, entry.key, whole)
    if hit is None:
        with entry.lock():
            if options.force or not entry.is_complete():
                _download(run, source, release, entry, selection)
                origin = "downloaded"
        hit = entry
    hit.touch()
    with suppress(OSError):  # only a shortcut for --offline; a read-only cache still serves
        index.save(Cached(hit.key, release.version, release.label))
    run.notes.extend(release.notes(selection, origin))
    return _result(run, source, release.label, hit.path, origin, release.version)


def _complete(
    cache: Cache, key: tuple[str, ...], whole: tuple[str, ...] | None
) -> CacheEntry | None:
    for candidate in (key, whole):
        if candidate is not None and cache.entry(*candidate).is_complete():
            return cache.entry(*candidate)
    return None


def _result(
    run: Run, source: Source, label: str, root: Path, origin: Origin, version: str | None
) -> DataResult:
    options = run.options
    names = list_files(root)
    patterns = clean_patterns(options.files)
    if patterns:
        names = select(names, patterns, source.label, source.web_url)
    size = total_size(root, names)
    path = root
    if options.to is not None:
        path = Path(options.to).expanduser().absolute()
        place(root, names, path, options.force)
    return DataResult(
        path=path,
        source=label,
        version=version,
        origin=origin,
        files=len(names),
        size=size,
        notes=tuple(run.notes),
    )


# --------------------------------------------------------------------------- downloading


def _download(
    run: Run, source: Source, release: Release, entry: CacheEntry, selection: Selection | None
) -> None:
    fetch = release.fetch(selection)
    with entry.publish(release.metadata(selection)) as staging:
        if isinstance(fetch, Archive):
            _fetch_archive(run, source, fetch, entry, staging)
        else:
            _fetch_files(run, fetch, entry, staging)


def _fetch_archive(
    run: Run, source: Source, archive: Archive, entry: CacheEntry, staging: Path
) -> None:
    """Download the archive and extract it into ``staging`` while it arrives
    (:func:`mlenv_magics.extract.fetch_and_extract`).

    A verified archive stays next to the partial bytes until the entry is published: Ctrl-C,
    a full disk or any other failure during extraction leaves it for the rerun, which extracts
    without downloading again. Only an archive that cannot be used (corrupt, hostile) is
    discarded. ``--keep-archive`` keeps it in the data folder.
    """
    from ..extract import fetch_and_extract

    try:
        fetch_and_extract(
            run.session,
            archive.remote,
            staging,
            partial_dir=entry.partial_dir,
            policy=run.policy,
            progress=run.progress,
            keep_archive=run.options.keep_archive,
        )
    except ArchiveError as error:
        where = f" at {source.web_url}" if source.web_url else ""
        raise ArchiveError(
            f"The archive {archive.sender} sent for {source.label} cannot be used: {error.message}",
            fix="Run again with --force to download it again; if it persists, report it to"
            f" the owner{where}",
        ) from None


def _fetch_files(run: Run, fetch: Files, entry: CacheEntry, staging: Path) -> None:
    from ..transfer import fetch_files

    force = run.options.force
    stored = {
        d.remote.relpath: run.cache.entry(*d.store_key) for d in fetch.downloads if d.store_key
    }
    missing = [
        d
        for d in fetch.downloads
        if force or d.remote.relpath not in stored or not stored[d.remote.relpath].is_complete()
    ]
    if missing:
        progress = run.progress
        if progress is not None and fetch.total_bytes is not None:
            progress = _ListedTotal(progress, fetch.total_bytes)
        fetch_files(
            run.session,
            [d.remote for d in missing],
            staging,
            partial_dir=entry.partial_dir,
            policy=run.policy,
            progress=progress,
        )
    fetched = set()
    for download in missing:
        relpath = download.remote.relpath
        fetched.add(relpath)
        _unwrap_if_wrapped(staging / relpath, download)
        if relpath in stored:
            _store(stored[relpath], staging / relpath, download)
    for relpath, store in stored.items():
        if relpath not in fetched:
            _link_or_copy(_stored_file(store), staging / relpath)


def _unwrap_if_wrapped(path: Path, download: Download) -> None:
    """A host that wraps a large single file in a zip serves it under ``<name>.zip``; then the
    file inside is the one asked for. Nothing else is ever extracted."""
    from ..archives import extract

    served = download.served_name() if download.served_name is not None else None
    relpath = download.remote.relpath.lower()
    if not served or not served.lower().endswith(".zip") or relpath.endswith(".zip"):
        return
    unpacked = path.with_name(f".{path.name}.unzipped")
    try:
        members = extract(path, unpacked)
        inner = unpacked / members[0] if len(members) == 1 else None
        if inner is not None and inner.is_file() and not inner.is_symlink():
            os.replace(inner, path)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


def _store(store: CacheEntry, fetched: Path, download: Download) -> None:
    name = PurePosixPath(download.remote.relpath).name
    metadata = {**download.store_metadata, "name": name}
    with store.lock(), store.publish(metadata) as staging:
        _link_or_copy(fetched, staging / name)


def _stored_file(store: CacheEntry) -> Path:
    name = (store.metadata() or {}).get("name")
    if name and (store.path / str(name)).is_file():
        return store.path / str(name)
    files = [p for p in store.path.iterdir() if p.is_file() and not p.is_symlink()]
    if len(files) != 1:
        raise ServerError(
            f"The cache entry {store.path} does not hold exactly one file.",
            fix="Rerun with --force to fetch it again.",
        )
    return files[0]


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


class _ListedTotal:
    """Progress with the byte total from the source's listing. Sizes are not given to the
    transfer itself when a file may arrive wrapped (its byte count then differs)."""

    def __init__(self, inner: ProgressSink, total: int) -> None:
        self.inner = inner
        self.total = total

    def start(self, total_files: int, total_bytes: int | None) -> None:
        self.inner.start(total_files, self.total if total_bytes is None else total_bytes)

    def file_started(self, relpath: str, size: int | None) -> None:
        self.inner.file_started(relpath, size)

    def advance(self, relpath: str, nbytes: int) -> None:
        self.inner.advance(relpath, nbytes)

    def file_done(self, relpath: str) -> None:
        self.inner.file_done(relpath)

    def close(self) -> None:
        self.inner.close()


# --------------------------------------------------------------------------- --offline memory


@dataclass(frozen=True)
class _Index:
    """Which cache entry a source (with these ``--file`` patterns) resolved to last online."""

    cache_root: Path
    identity: str
    patterns: tuple[str, ...]

    @property
    def path(self) -> Path:
        described = json.dumps([self.identity, sorted(self.patterns)])
        digest = hashlib.sha256(described.encode()).hexdigest()[:24]
        return self.cache_root / INDEX_DIR / f"{digest}.json"

    def save(self, cached: Cached) -> None:
        record = {
            "identity": self.identity,
            "key": list(cached.key),
            "version": cached.version,
            "label": cached.label,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, self.path)

    def load(self) -> Cached | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("identity") != self.identity:
            return None
        key = record.get("key")
        if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
            return None
        version, label = record.get("version"), record.get("label")
        return Cached(
            tuple(key),
            version if isinstance(version, str) else None,
            label if isinstance(label, str) else None,
        )


def with_notes(cached: Cached, *notes: str) -> Cached:
    return replace(cached, notes=(*cached.notes, *notes))


def iter_numbers(folder: Path) -> Iterator[int]:
    """The numeric names in ``folder`` (cached version numbers), any order."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield int(name)
