"""Kaggle models (one variation, latest or version N), as a source of the data pipeline.

Where the model comes from, first match wins:

1. Before the cache, on Kaggle: the notebook's input root when the variation is mounted there
   (namespaced ``models/owner/model/framework/variation/N`` or legacy
   ``model/framework/variation/N``; no network), else Kaggle's in-notebook attach endpoint
   (``modelRef``), then a bounded wait for the mount.
2. Before the cache, on a managed Colab runtime: Colab's Kaggle cache, when it has the model.
3. The cache, then Kaggle's public API: ``GetModelInstance`` for the latest version (a pinned
   version costs no call when cached), ``ListModelInstanceVersionFiles`` (every page), then
   the files one by one in parallel (``DownloadModelInstanceVersion`` with ``path``) or the
   whole version as one tar.gz, whichever costs less (:func:`archive_is_cheaper`).

The framework is one key however it is written (``PyTorch``, ``pytorch``: one cache entry);
on the wire it is kagglesdk's enum name (``MODEL_FRAMEWORK_PY_TORCH``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import OfflineError
from .kaggle import KaggleAccess
from .kaggle_api import KaggleApi, Target
from .kaggle_auth import local_credentials
from .kaggle_notebook import (
    attach,
    can_attach,
    colab_cache_available,
    colab_cache_mount,
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
from .sources import KaggleModel, framework_key

if TYPE_CHECKING:
    from ..transfer import RemoteFile

# What one request costs, in bytes a connection could have moved meanwhile (a round trip to
# the API or the blob host, TLS set-up included, at tens of MB/s).
REQUEST_COST = 128 << 10
TAR_ENTRY_COST = 1024  # a tar header plus padding, per file


def archive_is_cheaper(files: Sequence[ListedFile]) -> bool:
    """Whether one tar.gz of the whole version costs less than the files one by one.

    File by file: two requests per file (the RPC, then its signed URL), each file's bytes once.
    The archive: two requests, the same bytes plus a tar entry per file, and every byte written
    twice (the archive, then the extracted files). So many small files come as the archive,
    a few large ones (model weights) file by file, in parallel, without an extraction pass.
    A listing without sizes cannot be weighed: the archive then.
    """
    sizes = [f.size for f in files]
    if any(size is None for size in sizes):
        return True
    total = sum(size or 0 for size in sizes)
    one_by_one = 2 * len(files) * REQUEST_COST
    archive = 2 * REQUEST_COST + len(files) * TAR_ENTRY_COST + total
    return archive < one_by_one


class KaggleModelSource(Source):
    def __init__(self, ref: KaggleModel) -> None:
        self.ref = ref
        self.label = ref.label
        self.web_url = ref.web_url
        self.identity = f"kaggle:model:{ref.ref}:{ref.version or 'latest'}"
        self.target = Target("model", ref.ref, ref.web_url)

    # ------------------------------------------------------------------ before the cache
    def before_cache(self, run: Run) -> Found | None:
        return self._from_kaggle_host(run) or self._from_colab_cache(run)

    def _from_kaggle_host(self, run: Run) -> Found | None:
        if run.runtime.host != "kaggle":
            return None
        ref, options = self.ref, run.options
        root = config.kaggle_input_root(run.env)
        mounted = mounted_model(ref, root)
        if mounted is not None:
            return Found(mounted, "mounted", mounted.name if mounted.name.isdigit() else None)
        if options.offline or not can_attach(run.env):
            return None
        attached = attach(run.session, run.env, ref)
        path = wait_for_mount(
            root / attached.mount_slug,
            timeout=options.mount_timeout,
            what=f"the attached {ref.label}",
            notice=run.notice,
        )
        version = attached.version or ref.version
        return Found(path, "attached", str(version) if version else None)

    def _from_colab_cache(self, run: Run) -> Found | None:
        ref, options = self.ref, run.options
        if options.offline or options.force or not colab_cache_available(run.env):
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
        access = KaggleAccess(run, self.ref, self.target)
        ref = self.ref
        if ref.version is not None:
            return ModelRelease(self, access, ref.version)
        instance = access.call(
            lambda api: api.model_instance(
                ref.owner, ref.model, ref.framework, ref.variation, self.target
            )
        )
        return ModelRelease(self, access, instance.version)

    def offline(
        self, run: Run, patterns: tuple[str, ...], remembered: Cached | None
    ) -> Iterable[Cached]:
        ref = self.ref
        if ref.version is not None:
            yield _cached(ref, ref.version, patterns)
            return
        folder = run.cache.entry(*_model_key(ref)).path
        numbers = set(iter_numbers(folder / "versions")) | set(iter_numbers(folder / "selections"))
        for number in sorted(numbers, reverse=True):
            cached = _cached(ref, number, patterns)
            note = f"offline: using the newest cached version {number}"
            yield Cached(cached.key, cached.version, None, cached.whole_key, (note,))

    def offline_miss(self, run: Run, patterns: tuple[str, ...]) -> OfflineError:
        ref = self.ref
        fix = "Run once without --offline to download it into the cache."
        if ref.version is None:
            return OfflineError(f"--offline: no version of {ref.label} is cached.", fix=fix)
        where = " or mounted" if run.runtime.host == "kaggle" else ""
        return OfflineError(
            f"--offline: {ref.label} version {ref.version} is not cached{where}.", fix=fix
        )


def mounted_model(ref: KaggleModel, root: Path) -> Path | None:
    """The version folder of a variation mounted in the editor (namespaced or legacy layout);
    the framework folder is matched the way SOURCE frameworks are, names ignoring case."""
    for base in (root / "models" / ref.owner, root):
        folder = _child(base, ref.model)
        folder = _child(folder, ref.framework, key=framework_key) if folder else None
        folder = _child(folder, ref.variation) if folder else None
        if folder is None:
            continue
        if ref.version is not None:
            found = _child(folder, str(ref.version))
            if found is not None:
                return found
            continue
        numbers = sorted(iter_numbers(folder), reverse=True)
        if numbers:
            return folder / str(numbers[0])
    return None


def _child(folder: Path, name: str, key: Any = str.lower) -> Path | None:
    exact = folder / name
    if exact.is_dir():
        return exact
    try:
        for child in folder.iterdir():
            if child.is_dir() and key(child.name) == key(name):
                return child
    except OSError:
        return None
    return None


def _model_key(ref: KaggleModel) -> tuple[str, ...]:
    return ("kaggle", "models", ref.owner, ref.model, ref.framework, ref.variation)


def entry_key(ref: KaggleModel, version: int, patterns: Sequence[str]) -> tuple[str, ...]:
    if patterns:
        return (*_model_key(ref), "selections", str(version), selection_key(patterns))
    return (*_model_key(ref), "versions", str(version))


def _cached(ref: KaggleModel, version: int, patterns: Sequence[str]) -> Cached:
    whole = entry_key(ref, version, ()) if patterns else None
    return Cached(entry_key(ref, version, patterns), str(version), None, whole)


class ModelRelease(Release):
    def __init__(self, source: KaggleModelSource, access: KaggleAccess, number: int) -> None:
        self.source = source
        self.ref = source.ref
        self.access = access
        self.number = number
        self.version = str(number)
        self.label = source.label

    def entry_key(self, selection: Selection | None) -> tuple[str, ...]:
        return entry_key(self.ref, self.number, selection.patterns if selection else ())

    def listing(self) -> Sequence[ListedFile]:
        return self._listed

    @cached_property
    def _listed(self) -> list[ListedFile]:
        ref, number, target = self.ref, self.number, self.source.target
        entries = self.access.call(
            lambda api: api.model_files(
                ref.owner, ref.model, ref.framework, ref.variation, number, target
            )
        )
        return [ListedFile(entry.name, entry.size) for entry in entries]

    def fetch(self, selection: Selection | None) -> Fetch:
        self.access.api()
        chosen = selection.files if selection is not None else self.listing()
        if selection is None and archive_is_cheaper(chosen):
            return Archive(self._remote(f"{self.ref.variation}.tar.gz", None), sender="Kaggle")
        sizes = [f.size for f in chosen]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        downloads = [Download(self._remote(f.relpath, f.relpath, f.size)) for f in chosen]
        return Files(downloads, total_bytes=total)

    def _remote(self, relpath: str, path: str | None, size: int | None = None) -> RemoteFile:
        """One file (``path``) or the whole version: each resolve asks for a fresh link."""
        from ..transfer import RemoteFile

        ref, number, access, target = self.ref, self.number, self.access, self.source.target

        def resolve(_session: Any) -> Any:
            def call(api: KaggleApi) -> Any:
                request = api.model_download(
                    ref.owner, ref.model, ref.framework, ref.variation, number, path
                )
                return api.signed_url(request.service, request.method, request.body, target)

            return access.call(call)

        return RemoteFile(relpath=relpath, resolve=resolve, size=size)

    def metadata(self, selection: Selection | None) -> dict[str, Any]:
        patterns = list(selection.patterns) if selection is not None else []
        return {"source": self.label, "version": self.number, "patterns": patterns}

    def notes(self, selection: Selection | None, origin: Origin) -> Sequence[str]:
        credentials = self.access.credentials
        if origin == "downloaded" and credentials is not None:
            return [f"credentials: {credentials.source_name}"]
        return []
