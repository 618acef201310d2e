"""The output files of a Kaggle notebook version, as a source of the data pipeline.

Where they come from, first match wins:

1. Before the cache, on Kaggle: the notebook's input root when the outputs are mounted there
   (namespaced ``notebooks/owner/slug`` or legacy ``slug``; no network), else Kaggle's
   in-notebook attach endpoint (``kernelRef``), then a bounded wait for the mount.
2. The cache, then Kaggle's public API: ``GetKernel`` for the latest version (a pinned version
   costs no call when cached), ``ListKernelFiles``, then ``DownloadKernelOutput``: the files
   one by one in parallel (``filePath``; a file the host sends zipped is unwrapped) or all of
   them as one archive, whichever costs less (``kaggle_models.archive_is_cheaper``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import OfflineError
from .kaggle import KaggleAccess, ServedName, served_name
from .kaggle_api import KaggleApi, Target
from .kaggle_models import archive_is_cheaper
from .kaggle_notebook import attach, can_attach, wait_for_mount
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
from .sources import KaggleNotebook

if TYPE_CHECKING:
    from ..transfer import RemoteFile


class KaggleNotebookSource(Source):
    def __init__(self, ref: KaggleNotebook) -> None:
        self.ref = ref
        self.label = ref.label
        self.web_url = ref.web_url
        self.identity = f"kaggle:notebook:{ref.ref}:{ref.version or 'latest'}"
        self.target = Target("notebook", ref.ref, ref.web_url)

    def before_cache(self, run: Run) -> Found | None:
        if run.runtime.host != "kaggle":
            return None
        ref, options = self.ref, run.options
        root = config.kaggle_input_root(run.env)
        mounted = mounted_notebook(ref, root)
        if mounted is not None:
            if ref.version is not None:
                run.notes.append("the mounted version is the one attached in the editor")
            return Found(mounted, "mounted")
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

    def release(self, run: Run) -> Release:
        access = KaggleAccess(run, self.ref, self.target)
        ref = self.ref
        if ref.version is not None:
            return OutputRelease(self, access, ref.version)
        number = access.call(lambda api: api.notebook_version(ref.owner, ref.slug, self.target))
        return OutputRelease(self, access, number)

    def offline(
        self, run: Run, patterns: tuple[str, ...], remembered: Cached | None
    ) -> Iterable[Cached]:
        ref = self.ref
        if ref.version is not None:
            yield _cached(ref, ref.version, patterns)
            return
        folder = run.cache.entry(*_notebook_key(ref)).path
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


def mounted_notebook(ref: KaggleNotebook, root: Path) -> Path | None:
    for candidate in (root / "notebooks" / ref.owner / ref.slug, root / ref.slug):
        if candidate.is_dir():
            return candidate
    return None


def _notebook_key(ref: KaggleNotebook) -> tuple[str, ...]:
    return ("kaggle", "notebooks", ref.owner, ref.slug)


def entry_key(ref: KaggleNotebook, version: int, patterns: Sequence[str]) -> tuple[str, ...]:
    if patterns:
        return (*_notebook_key(ref), "selections", str(version), selection_key(patterns))
    return (*_notebook_key(ref), "versions", str(version))


def _cached(ref: KaggleNotebook, version: int, patterns: Sequence[str]) -> Cached:
    whole = entry_key(ref, version, ()) if patterns else None
    return Cached(entry_key(ref, version, patterns), str(version), None, whole)


class OutputRelease(Release):
    def __init__(self, source: KaggleNotebookSource, access: KaggleAccess, number: int) -> None:
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
            lambda api: api.notebook_files(ref.owner, ref.slug, number, target)
        )
        return [ListedFile(entry.name, entry.size) for entry in entries]

    def fetch(self, selection: Selection | None) -> Fetch:
        self.access.api()
        chosen = selection.files if selection is not None else self.listing()
        if selection is None and archive_is_cheaper(chosen):
            return Archive(self._remote(f"{self.ref.slug}-output.archive", None), "Kaggle")
        sizes = [f.size for f in chosen]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        downloads = []
        for listed in chosen:
            served = ServedName()
            downloads.append(
                Download(self._remote(listed.relpath, listed.relpath, served), served_name=served)
            )
        return Files(downloads, total_bytes=total)

    def _remote(
        self, relpath: str, file_path: str | None, served: ServedName | None = None
    ) -> RemoteFile:
        from ..transfer import RemoteFile

        ref, number, access, target = self.ref, self.number, self.access, self.source.target

        def resolve(_session: Any) -> Any:
            def call(api: KaggleApi) -> Any:
                request = api.notebook_output_download(ref.owner, ref.slug, number, file_path)
                return api.signed_url(request.service, request.method, request.body, target)

            answer = access.call(call)
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
