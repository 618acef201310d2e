"""Kaggle datasets and competitions for ``%mlenv_add_data``.

Where the data comes from, first match wins:

1. On Kaggle: the notebook's input root when the source is already mounted there (no network);
   otherwise Kaggle's in-notebook attach endpoint, then a bounded wait for the mount. Inside a
   competition's Batch rerun nothing is attached or downloaded.
2. On a managed Colab runtime: Colab's Kaggle cache, when it has the dataset.
3. The local cache, then an HTTP download through Kaggle's public API.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .. import config
from ..errors import (
    AccessDeniedError,
    ArchiveError,
    CredentialsError,
    NotFoundError,
    OfflineError,
    UnsupportedHostError,
)
from ..runtime import detect_runtime
from .kaggle_api import KaggleApi, Target
from .kaggle_auth import (
    LOGIN_WAYS,
    KaggleCredentials,
    colab_secret_credentials,
    kaggle_secret_credentials,
    local_credentials,
    missing_credentials_error,
)
from .kaggle_local import list_files, mounted_path, place, select, selection_key, total_size
from .kaggle_notebook import (
    attach,
    can_attach,
    colab_cache_available,
    colab_cache_mount,
    user_secret_fetcher,
    wait_for_mount,
)
from .model import AddDataOptions, DataResult, Origin
from .sources import KaggleCompetition, KaggleDataset

if TYPE_CHECKING:
    import requests

    from ..cache import Cache, CacheEntry
    from ..progress import ProgressSink

KaggleSource = KaggleDataset | KaggleCompetition
_AUTH_ERRORS = (CredentialsError, AccessDeniedError, NotFoundError)


def acquire_kaggle(source: KaggleSource, options: AddDataOptions) -> DataResult:
    return _Acquisition(source, options).run()


class _Acquisition:
    def __init__(self, source: KaggleSource, options: AddDataOptions) -> None:
        self.source = source
        self.options = options
        self.env = options.env
        self.runtime = detect_runtime(self.env, shell=options.shell)
        self.notes: list[str] = []
        self._session: requests.Session | None = None
        self.credentials: KaggleCredentials | None = None
        self._secrets_tried = False

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            from ..transfer import make_session

            self._session = make_session(self.env)
        return self._session

    @property
    def target(self) -> Target:
        if isinstance(self.source, KaggleCompetition):
            return Target(
                "competition", self.source.slug, self.source.web_url, self.source.rules_url
            )
        return Target("dataset", self.source.ref, self.source.web_url)

    def run(self) -> DataResult:
        try:
            found = self._from_kaggle_host() or self._from_colab_cache()
            return found or self._from_cache_or_download()
        finally:
            if self._session is not None:
                self._session.close()

    # ------------------------------------------------------------------ 1. Kaggle notebooks
    def _from_kaggle_host(self) -> DataResult | None:
        if self.runtime.host != "kaggle":
            return None
        source, options = self.source, self.options
        root = config.kaggle_input_root(self.env)
        mounted = mounted_path(source, root)
        if mounted is not None:
            if isinstance(source, KaggleDataset) and source.version is not None:
                self.notes.append("the mounted version is the one attached in the editor")
            return self._finish(mounted, "mounted", None)
        if isinstance(source, KaggleCompetition) and self.runtime.run_type == "batch":
            raise UnsupportedHostError(
                f"Competition {source.slug} is not attached to this notebook, and this is a"
                " Batch run (a competition rerun), where mlenv never attaches or downloads:"
                " that would break the rerun on the hidden test set.",
                fix="In the editor, add it with + Add Input -> Competitions, then save a new"
                " version.",
            )
        if options.offline or not can_attach(self.env):
            return None
        attached = attach(self.session, self.env, source)
        path = wait_for_mount(
            root / attached.mount_slug,
            timeout=options.mount_timeout,
            what=f"the attached {source.label}",
            notice=options.notice,
        )
        version = attached.version or getattr(source, "version", None)
        return self._finish(path, "attached", str(version) if version else None)

    # ------------------------------------------------------------------ 2. Colab's cache
    def _from_colab_cache(self) -> DataResult | None:
        source, options = self.source, self.options
        if not isinstance(source, KaggleDataset) or options.offline or options.force:
            return None
        if not colab_cache_available(self.env):
            return None
        self.credentials = local_credentials(self.env)
        slug = colab_cache_mount(self.session, self.env, source, self.credentials)
        if slug is None:
            return None
        path = wait_for_mount(
            config.colab_cache_mount_root(self.env) / slug,
            timeout=options.mount_timeout,
            what=f"{source.label} from Colab's Kaggle cache",
            notice=options.notice,
        )
        version = str(source.version) if source.version is not None else None
        return self._finish(path, "colab-cache", version)

    # ------------------------------------------------------------------ 3. cache, download
    def _from_cache_or_download(self) -> DataResult:
        from ..cache import Cache

        options = self.options
        cache = Cache(config.cache_root(self.env))
        self.credentials = local_credentials(self.env)
        version = self._version(cache)
        entry = self._entry(cache, version, options.files)
        label = str(version) if version is not None else None
        if not options.force:
            hit = self._cached(cache, entry, version)
            if hit is not None:
                hit.touch()  # recorded for `mlenv cache prune --older-than`
                return self._finish(hit.path, "cache", label)
        if options.offline:
            raise OfflineError(
                f"--offline: {self.source.label}{_v(version)} is not cached"
                + (" or mounted" if self.runtime.host == "kaggle" else "")
                + ".",
                fix="Run once without --offline to download it into the cache.",
            )
        with entry.lock():
            if not options.force and entry.is_complete():
                return self._finish(entry.path, "cache", label)
            self._with_auth_fallback(lambda: self._download(entry, version))
        return self._finish(entry.path, "downloaded", label)

    def _version(self, cache: Cache) -> int | None:
        """The dataset version to use; None for competitions (they are unversioned)."""
        source = self.source
        if not isinstance(source, KaggleDataset):
            return None
        if source.version is not None:
            return source.version
        if self.options.offline:
            cached = self._newest_cached_version(cache)
            if cached is None:
                raise OfflineError(
                    f"--offline: no version of {source.label} is cached.",
                    fix="Run once without --offline to download it into the cache.",
                )
            self.notes.append(f"offline: using the newest cached version {cached}")
            return cached
        owner, slug = source.owner, source.slug
        return self._with_auth_fallback(
            lambda: self._api().dataset_version(owner, slug, self.target)
        )

    def _entry(self, cache: Cache, version: int | None, patterns: tuple[str, ...]) -> CacheEntry:
        """The cache entry: the whole source, or a ``--file`` selection kept beside it (never
        inside it, so neither can pass for or disturb the other)."""
        source = self.source
        if isinstance(source, KaggleDataset):
            dataset = ("kaggle", "datasets", source.owner, source.slug)
            if patterns:
                return cache.entry(*dataset, "selections", str(version), selection_key(patterns))
            return cache.entry(*dataset, "versions", str(version))
        # Competitions are unversioned: one entry, refreshed only with --force (checking the
        # archive's Last-Modified would cost a network call on every use of the cache).
        name = selection_key(patterns) if patterns else "all"
        return cache.entry("kaggle", "competitions", source.slug, name)

    def _cached(self, cache: Cache, entry: CacheEntry, version: int | None) -> CacheEntry | None:
        if entry.is_complete():
            return entry
        if self.options.files:
            whole = self._entry(cache, version, ())
            if whole.is_complete():
                return whole  # the full data is cached: the selection is served from it
        return None

    def _newest_cached_version(self, cache: Cache) -> int | None:
        source = self.source
        assert isinstance(source, KaggleDataset)
        numbers: set[int] = set()
        for kind in ("versions", "selections"):
            folder = cache.entry("kaggle", "datasets", source.owner, source.slug, kind).path
            try:
                numbers.update(int(p.name) for p in folder.iterdir() if p.name.isdigit())
            except OSError:
                continue
        for number in sorted(numbers, reverse=True):
            if self._cached(cache, self._entry(cache, number, self.options.files), number):
                return number
        return None

    # ------------------------------------------------------------------ credentials
    def _api(self) -> KaggleApi:
        if self.credentials is None and isinstance(self.source, KaggleCompetition):
            self.credentials = self._notebook_secrets() or self._login_needed()
        return KaggleApi(
            self.session, config.kaggle_api_base(self.env), self.credentials, self.options.policy
        )

    def _with_auth_fallback(self, call: Any) -> Any:
        """Run ``call``; when it failed anonymously, retry once with notebook secrets."""
        try:
            return call()
        except _AUTH_ERRORS as error:
            if self.credentials is not None:
                raise
            found = self._notebook_secrets()
            if found is None:
                if isinstance(error, CredentialsError):
                    self._login_needed()
                raise
            self.credentials = found
            return call()

    def _notebook_secrets(self) -> KaggleCredentials | None:
        if self._secrets_tried:
            return None
        self._secrets_tried = True
        found = colab_secret_credentials(self.runtime.host == "colab")
        if found is None and self.runtime.host == "kaggle":
            found = kaggle_secret_credentials(self.env, user_secret_fetcher(self.session, self.env))
        return found

    def _login_needed(self) -> NoReturn:
        what = self.source.label
        if self.runtime.widgets_useful:
            from .kaggle_login import show_login_form

            if show_login_form(self.env):
                raise CredentialsError(
                    f"Kaggle credentials are needed for {what}, and none were found.",
                    fix="Log in with the form shown above, then run this cell again."
                    f" Other ways: {LOGIN_WAYS}",
                )
        raise missing_credentials_error(what)

    # ------------------------------------------------------------------ downloading
    def _download(self, entry: CacheEntry, version: int | None) -> None:
        api = self._api()
        patterns = self.options.files
        names: list[str] = []
        listed_total: int | None = None
        if patterns:
            listed = (
                api.dataset_files(self.source.owner, self.source.slug, version or 0, self.target)
                if isinstance(self.source, KaggleDataset)
                else api.competition_files(self.source.slug, self.target)
            )
            names = select(
                [e.name for e in listed], patterns, self.source.label, self.source.web_url
            )
            sizes = [e.size for e in listed if e.name in set(names)]
            listed_total = None if None in sizes else sum(s or 0 for s in sizes)
        metadata = {
            "source": self.source.label,
            "version": version,
            "patterns": list(patterns),
        }
        with entry.publish(metadata) as staging:
            if patterns:
                self._fetch_selected(api, entry, staging, names, version, listed_total)
            else:
                self._fetch_archive(api, entry, staging, version)

    def _resolver(self, api: KaggleApi, version: int | None, file_name: str | None) -> Any:
        source = self.source
        if isinstance(source, KaggleDataset):
            call = api.dataset_download(source.owner, source.slug, version, file_name)
        else:
            call = api.competition_download(source.slug, file_name)
        return api.resolver(call, self.target)

    def _fetch_archive(
        self, api: KaggleApi, entry: CacheEntry, staging: Path, version: int | None
    ) -> None:
        from ..extract import fetch_and_extract
        from ..transfer import RemoteFile

        archive_name = f"{self.source.slug}.zip"
        remote = RemoteFile(relpath=archive_name, resolve=self._resolver(api, version, None))
        try:  # extracted while it downloads; verified whole before anything is published
            fetch_and_extract(
                self.session,
                remote,
                staging,
                partial_dir=entry.partial_dir,
                policy=self.options.policy,
                progress=self.options.progress,
                keep_archive=self.options.keep_archive,
            )
        except ArchiveError as error:
            raise ArchiveError(
                f"The archive Kaggle sent for {self.source.label} cannot be used: {error.message}",
                fix="Run again with --force to download it again; if it persists, report it to"
                f" the owner at {self.source.web_url}",
            ) from None

    def _fetch_selected(
        self,
        api: KaggleApi,
        entry: CacheEntry,
        staging: Path,
        names: list[str],
        version: int | None,
        listed_total: int | None,
    ) -> None:
        from ..transfer import RemoteFile, TransferPolicy, fetch_files

        progress = self.options.progress
        if progress is not None and listed_total is not None:
            progress = _ListedTotal(progress, listed_total)

        remotes = [
            RemoteFile(relpath=name, resolve=self._resolver(api, version, name)) for name in names
        ]
        fetch_files(
            self.session,
            remotes,
            staging,
            partial_dir=entry.partial_dir,
            policy=self.options.policy or TransferPolicy(),
            progress=progress,
        )
        for name in names:
            _unwrap_single(staging, name)

    # ------------------------------------------------------------------ result
    def _finish(self, root: Path, origin: Origin, version: str | None) -> DataResult:
        options = self.options
        if origin == "downloaded" and self.credentials is not None:
            self.notes.append(f"credentials: {self.credentials.source_name}")
        names = list_files(root)
        if options.files:
            names = select(names, options.files, self.source.label, self.source.web_url)
        size = total_size(root, names)
        path = root
        if options.to is not None:
            path = Path(options.to).expanduser().absolute()
            place(root, names, path, options.force)
        return DataResult(
            path=path,
            source=self.source.label,
            version=version,
            origin=origin,
            files=len(names),
            size=size,
            notes=tuple(self.notes),
        )


class _ListedTotal:
    """Progress with the byte total from Kaggle's file list. Sizes are not given to the
    transfer itself: a large file may arrive zipped, so its byte count differs."""

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


def _unwrap_single(folder: Path, name: str) -> None:
    """Kaggle sends large single files zipped (``<name>.zip``); put the file itself there."""
    from ..archives import archive_kind, extract

    path = folder / name
    if name.lower().endswith(".zip") or archive_kind(path) != "zip":
        return
    unpacked = path.with_name(f".{path.name}.unzipped")
    try:
        members = extract(path, unpacked)
        if members != [path.name]:
            return  # a zip-based format (.npz, .xlsx, ...) or a real zip: keep it as it is
        (unpacked / members[0]).replace(path)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)


def _v(version: int | None) -> str:
    return f" version {version}" if version is not None else ""
