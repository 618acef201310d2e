"""Kaggle datasets and competitions, as a source of the data pipeline (``pipeline.py``).

Where the data comes from, first match wins:

1. Before the cache, on Kaggle: the notebook's input root when the source is already mounted
   there (no network); otherwise Kaggle's in-notebook attach endpoint, then a bounded wait for
   the mount. Inside a competition's Batch rerun nothing is attached or downloaded.
2. Before the cache, on a managed Colab runtime: Colab's Kaggle cache, when it has the dataset.
3. The cache, then an HTTP download through Kaggle's public API: the whole version as one zip,
   or the ``--file`` selection file by file (Kaggle zips large single files; those are
   unwrapped).

Requests start anonymous (public data needs no login); when one is refused, the notebook's
secrets are tried once, and a competition without any credentials raises ``LoginRequired``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

from .. import config
from ..errors import (
    AccessDeniedError,
    CredentialsError,
    LoginRequired,
    NotFoundError,
    OfflineError,
    UnsupportedHostError,
)
from .kaggle_api import KaggleApi, Target
from .kaggle_auth import (
    LOGIN_WAYS,
    KaggleCredentials,
    colab_secret_credentials,
    kaggle_secret_credentials,
    local_credentials,
)
from .kaggle_notebook import (
    attach,
    can_attach,
    colab_cache_available,
    colab_cache_mount,
    mounted_path,
    user_secret_fetcher,
    wait_for_mount,
)
from .model import Origin
from .pipeline import (
    Archive,
    Cached,
    Download,
    Fetch,
    Files,
    Found,
    ListedFile,
    Release,
    Run,
    Selection,
    Source,
    iter_numbers,
)
from .selection import selection_key
from .sources import KaggleCompetition, KaggleDataset, KaggleModel, KaggleNotebook

if TYPE_CHECKING:
    from ..transfer import BodyHere, RemoteFile

KaggleRef = KaggleDataset | KaggleCompetition
T = TypeVar("T")
_AUTH_ERRORS = (CredentialsError, AccessDeniedError, NotFoundError)


class KaggleSource(Source):
    def __init__(self, ref: KaggleRef) -> None:
        self.ref = ref
        self.label = ref.label
        self.web_url = ref.web_url
        if isinstance(ref, KaggleDataset):
            self.identity = f"kaggle:dataset:{ref.ref}:{ref.version or 'latest'}"
        else:
            self.identity = f"kaggle:competition:{ref.slug}"

    # ------------------------------------------------------------------ before the cache
    def before_cache(self, run: Run) -> Found | None:
        return self._from_kaggle_host(run) or self._from_colab_cache(run)

    def _from_kaggle_host(self, run: Run) -> Found | None:
        if run.runtime.host != "kaggle":
            return None
        ref, options = self.ref, run.options
        root = config.kaggle_input_root(run.env)
        mounted = mounted_path(ref, root)
        if mounted is not None:
            if isinstance(ref, KaggleDataset) and ref.version is not None:
                run.notes.append("the mounted version is the one attached in the editor")
            return Found(mounted, "mounted")
        if isinstance(ref, KaggleCompetition) and run.runtime.run_type == "batch":
            raise UnsupportedHostError(
                f"Competition {ref.slug} is not attached to this notebook, and this is a"
                " Batch run (a competition rerun), where mlenv never attaches or downloads:"
                " that would break the rerun on the hidden test set.",
                fix="In the editor, add it with + Add Input -> Competitions, then save a new"
                " version.",
            )
        if options.offline or not can_attach(run.env):
            return None
        attached = attach(run.session, run.env, ref)
        path = wait_for_mount(
            root / attached.mount_slug,
            timeout=options.mount_timeout,
            what=f"the attached {ref.label}",
            notice=run.notice,
        )
        version = attached.version or getattr(ref, "version", None)
        return Found(path, "attached", str(version) if version else None)

    def _from_colab_cache(self, run: Run) -> Found | None:
        ref, options = self.ref, run.options
        if not isinstance(ref, KaggleDataset) or options.offline or options.force:
            return None
        if not colab_cache_available(run.env):
            return None
        slug = colab_cache_mount(run.session, run.env, ref, local_credentials(run.env))
        if slug is None:
            return None
        path = wait_for_mount(
            config.colab_cache_mount_root(run.env) / slug,
            timeout=options.mount_timeout,
            what=f"{ref.label} from Colab's Kaggle cache",
            notice=run.notice,
        )
        return Found(path, "colab-cache", str(ref.version) if ref.version is not None else None)

    # ------------------------------------------------------------------ the cache
    def release(self, run: Run) -> Release:
        access = KaggleAccess(run, self.ref)
        ref = self.ref
        if not isinstance(ref, KaggleDataset):
            return KaggleRelease(self, access, None)
        if ref.version is not None:
            return KaggleRelease(self, access, ref.version)
        target = access.target
        number = access.call(lambda api: api.dataset_version(ref.owner, ref.slug, target))
        return KaggleRelease(self, access, number)

    def offline(
        self, run: Run, patterns: tuple[str, ...], remembered: Cached | None
    ) -> Iterable[Cached]:
        ref = self.ref
        if not isinstance(ref, KaggleDataset):
            yield _cached(ref, None, patterns)
            return
        if ref.version is not None:
            yield _cached(ref, ref.version, patterns)
            return
        dataset = run.cache.entry("kaggle", "datasets", ref.owner, ref.slug)
        numbers: set[int] = set()
        for kind in ("versions", "selections"):
            numbers.update(iter_numbers(dataset.path / kind))
        for number in sorted(numbers, reverse=True):
            note = f"offline: using the newest cached version {number}"
            cached = _cached(ref, number, patterns)
            yield Cached(cached.key, cached.version, None, cached.whole_key, (note,))

    def offline_miss(self, run: Run, patterns: tuple[str, ...]) -> OfflineError:
        ref = self.ref
        fix = "Run once without --offline to download it into the cache."
        if isinstance(ref, KaggleDataset) and ref.version is None:
            return OfflineError(f"--offline: no version of {ref.label} is cached.", fix=fix)
        version = getattr(ref, "version", None)
        where = " or mounted" if run.runtime.host == "kaggle" else ""
        shown = f" version {version}" if version is not None else ""
        return OfflineError(f"--offline: {ref.label}{shown} is not cached{where}.", fix=fix)


def entry_key(ref: KaggleRef, version: int | None, patterns: Sequence[str]) -> tuple[str, ...]:
    """The whole version, or a ``--file`` selection kept beside it (never inside it, so
    neither can pass for or disturb the other)."""
    if isinstance(ref, KaggleDataset):
        dataset = ("kaggle", "datasets", ref.owner, ref.slug)
        if patterns:
            return (*dataset, "selections", str(version), selection_key(patterns))
        return (*dataset, "versions", str(version))
    # Competitions are unversioned: one entry, refreshed only with --force (checking the
    # archive's Last-Modified would cost a network call on every use of the cache).
    return ("kaggle", "competitions", ref.slug, selection_key(patterns) if patterns else "all")


def _cached(ref: KaggleRef, version: int | None, patterns: Sequence[str]) -> Cached:
    whole = entry_key(ref, version, ()) if patterns else None
    shown = str(version) if version is not None else None
    return Cached(entry_key(ref, version, patterns), shown, None, whole)


class KaggleRelease(Release):
    def __init__(self, source: KaggleSource, access: KaggleAccess, version: int | None) -> None:
        self.source = source
        self.ref = source.ref
        self.access = access
        self.number = version
        self.version = str(version) if version is not None else None
        self.label = source.label

    def entry_key(self, selection: Selection | None) -> tuple[str, ...]:
        return entry_key(self.ref, self.number, selection.patterns if selection else ())

    def listing(self) -> Sequence[ListedFile]:
        ref, target = self.ref, self.access.target
        if isinstance(ref, KaggleDataset):
            number = self.number or 0
            entries = self.access.call(
                lambda api: api.dataset_files(ref.owner, ref.slug, number, target)
            )
        else:
            entries = self.access.call(lambda api: api.competition_files(ref.slug, target))
        return [ListedFile(entry.name, entry.size) for entry in entries]

    def fetch(self, selection: Selection | None) -> Fetch:
        self.access.api()  # a missing login is reported before anything is transferred
        if selection is None:
            archive = self._remote(f"{self.ref.slug}.zip", None)
            return Archive(archive, sender="Kaggle")
        chosen = selection.files
        sizes = [f.size for f in chosen]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        downloads = []
        for listed in chosen:
            served = ServedName()
            remote = self._remote(listed.relpath, listed.relpath, served)
            downloads.append(Download(remote, served_name=served))
        return Files(downloads, total_bytes=total)

    def _remote(
        self, relpath: str, file_name: str | None, served: ServedName | None = None
    ) -> RemoteFile:
        """A file behind a download RPC: each resolve (first try, refresh after an expired
        signature) asks for a fresh signed URL and notes the name the blob is served under."""
        from ..transfer import RemoteFile

        ref, access = self.ref, self.access
        if isinstance(ref, KaggleDataset):
            number = self.number

            def call(api: KaggleApi) -> Any:
                return api.dataset_download(ref.owner, ref.slug, number, file_name)
        else:

            def call(api: KaggleApi) -> Any:
                return api.competition_download(ref.slug, file_name)

        def resolve(_session: Any) -> str | BodyHere:
            answer = access.call(lambda api: _signed_url(api, call(api), access.target))
            if served is not None:
                served.name = served_name(answer)
            return answer

        return RemoteFile(relpath=relpath, resolve=resolve)

    def metadata(self, selection: Selection | None) -> dict[str, Any]:
        patterns = list(selection.patterns) if selection is not None else []
        return {"source": self.label, "version": self.number, "patterns": patterns}

    def notes(self, selection: Selection | None, origin: Origin) -> Sequence[str]:
        credentials = self.access.credentials
        if origin == "downloaded" and credentials is not None:
            return [f"credentials: {credentials.source_name}"]
        return []


class ServedName:
    """The name the last resolved URL serves the file under (known once it is resolved)."""

    def __init__(self) -> None:
        self.name: str | None = None

    def __call__(self) -> str | None:
        return self.name


def _signed_url(api: KaggleApi, call: Any, target: Target) -> str | BodyHere:
    return api.signed_url(call.service, call.method, call.body, target)


def served_name(answer: str | BodyHere) -> str | None:
    """The file name a download is served under: the last part of the signed URL's path (as
    Kaggle's own client names the file), or the name an answer with the bytes gives them."""
    if not isinstance(answer, str):
        return answer.name
    name = PurePosixPath(unquote(urlsplit(answer).path)).name
    return name or None


class KaggleAccess:
    """Kaggle API calls with the credentials found so far: anonymous first, then (once) the
    notebook's secrets after a refusal. Safe to call from the transfer's worker threads."""

    def __init__(
        self, run: Run, ref: KaggleRef | KaggleModel | KaggleNotebook, target: Target | None = None
    ) -> None:
        self.run = run
        self.ref = ref
        self.credentials: KaggleCredentials | None = local_credentials(run.env)
        self._secrets_tried = False
        self._lock = threading.Lock()
        if target is not None:  # models and notebook outputs say what they are
            self.target = target
        elif isinstance(ref, KaggleCompetition):
            self.target = Target("competition", ref.slug, ref.web_url, ref.rules_url)
        else:
            self.target = Target("dataset", ref.ref, ref.web_url)

    def api(self) -> KaggleApi:
        with self._lock:
            if self.credentials is None and isinstance(self.ref, KaggleCompetition):
                self.credentials = self._notebook_secrets() or self._login_needed()
            credentials = self.credentials
        run = self.run
        return KaggleApi(
            run.session, config.kaggle_api_base(run.env), credentials, run.options.policy
        )

    def call(self, request: Callable[[KaggleApi], T]) -> T:
        """``request``; when it failed anonymously, once more with the notebook's secrets."""
        try:
            return request(self.api())
        except _AUTH_ERRORS as error:
            with self._lock:
                if self.credentials is not None:
                    raise
                found = self._notebook_secrets()
                if found is None:
                    if isinstance(error, CredentialsError):
                        self._login_needed()
                    raise
                self.credentials = found
            return request(self.api())

    def _notebook_secrets(self) -> KaggleCredentials | None:
        if self._secrets_tried:
            return None
        self._secrets_tried = True
        host = self.run.runtime.host
        found = colab_secret_credentials(host == "colab")
        if found is None and host == "kaggle":
            fetch = user_secret_fetcher(self.run.session, self.run.env)
            found = kaggle_secret_credentials(self.run.env, fetch)
        return found

    def _login_needed(self) -> NoReturn:
        what = self.ref.label
        raise LoginRequired(
            f"Kaggle credentials are needed for {what}, and none were found.",
            fix=LOGIN_WAYS,
            form="kaggle",
            form_fix=f"Log in with the form shown above, then run this cell again. Other ways:"
            f" {LOGIN_WAYS}",
            login_env=self.run.env,
        )
