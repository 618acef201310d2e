"""Downloading an archive and extracting it at the same time."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .coverage import Coverage, DownloadRestarted, DownloadStopped
from .covered_file import CoveredFile
from .entries import EntryDone

if TYPE_CHECKING:
    import requests

    from ..progress import ProgressSink
    from ..transfer import RemoteFile, TransferPolicy

JOIN_SLICE = 0.2  # seconds the calling thread blocks at a time (Ctrl-C stays prompt)
MAX_RESTARTS = 8  # extractions started over because the download restarted
FETCHED_DIR = "fetched"
VERIFIED_SUFFIX = ".verified.json"


@dataclass(frozen=True)
class ArchiveFetch:
    """What :func:`fetch_and_extract` did: the extracted names and the archive's size."""

    names: list[str]
    archive_size: int
    reused: bool  # the verified archive of an interrupted run was extracted, nothing fetched
    kept: Path | None  # where the archive was kept (``keep_archive``)


def fetch_and_extract(
    session: requests.Session,
    remote: RemoteFile,
    staging: Path,
    *,
    partial_dir: Path,
    label: str | None = None,
    policy: TransferPolicy | None = None,
    progress: ProgressSink | None = None,
    select: Callable[[str], bool] | None = None,
    keep_archive: bool = False,
    on_entry: EntryDone | None = None,
) -> ArchiveFetch:
    """Download the archive ``remote`` and extract it into ``staging`` while it arrives.

    Returns once the whole file's hash (crc32c or md5, checked by the transfer) and every
    entry's CRC-32 (zip) or the stream's CRC-32 (gzip) verified; on any error nothing in
    ``staging`` may be published (the caller's ``publish`` discards it). The partial download
    stays in ``partial_dir`` after an interruption, so a rerun re-sends only what is missing;
    a corrupt or hostile archive is thrown away. ``keep_archive`` moves the verified archive
    into ``staging`` (see :func:`keep_archive_path`); by default it is deleted. ``label``
    names the archive in messages.
    """
    from ..errors import ArchiveError
    from ..transfer import fetch_files
    from ..transfer.files import partial_path, safe_relpath
    from ..transfer.policy import DEFAULT_POLICY
    from .streaming import kind_from_name

    policy = policy or DEFAULT_POLICY
    relpath = str(safe_relpath(remote.relpath))
    fetched_dir = partial_dir / FETCHED_DIR
    final = fetched_dir / relpath
    archive = Path(label or relpath)
    coverage = Coverage(remote.size)
    reused = _verified_earlier(final)
    if reused:
        coverage.finish(final.stat().st_size)
    paths = [partial_path(partial_dir, remote.relpath), final]
    kind = kind_from_name(relpath)
    extraction = _Extraction(paths, coverage, staging, archive, kind, policy, select, on_entry)
    cancel = threading.Event()
    extraction.start(cancel)
    try:
        if not reused:
            # even a small archive comes in chunks: a zip's directory first, then in order
            threshold = min(policy.range_threshold, 2 * policy.range_chunk_size)
            [fetched] = fetch_files(
                session,
                [replace(remote, watcher=coverage)],
                fetched_dir,
                partial_dir=partial_dir,
                policy=replace(policy, range_threshold=threshold),
                progress=progress,
                cancel=cancel,
            )
            _mark_verified(final, fetched.size)
            coverage.finish(fetched.size)
        names = extraction.result()
    except BaseException as error:
        coverage.stop(error)
        extraction.abandon()
        if extraction.error is not None and not isinstance(error, KeyboardInterrupt):
            error = extraction.error  # the download stopped because the extraction failed
        if isinstance(error, ArchiveError):
            _discard(partial_path(partial_dir, remote.relpath), final)
            raise error from None
        raise
    size = final.stat().st_size
    kept = None
    if keep_archive:
        kept = keep_archive_path(staging, relpath)
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, kept)
    _discard(final)
    return ArchiveFetch(names, size, reused, kept)


def keep_archive_path(staging: Path, name: str) -> Path:
    """Where ``--keep-archive`` keeps an archive: in the data folder under its own name, or in
    ``.mlenv-archive/`` when an extracted entry already has that name."""
    leaf = Path(name).name
    if (staging / leaf).exists() or (staging / leaf).is_symlink():
        return staging / ".mlenv-archive" / leaf
    return staging / leaf


def _verified_earlier(final: Path) -> bool:
    """Whether an interrupted run left the complete, verified archive (extraction resumes)."""
    marker = final.with_name(final.name + VERIFIED_SUFFIX)
    try:
        return json.loads(marker.read_text())["size"] == final.stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _mark_verified(final: Path, size: int) -> None:
    marker = final.with_name(final.name + VERIFIED_SUFFIX)
    marker.write_text(json.dumps({"size": size}))


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
        path.with_name(path.name + VERIFIED_SUFFIX).unlink(missing_ok=True)
        path.with_name(path.name + ".json").unlink(missing_ok=True)  # a partial's sidecar


class _Extraction:
    """The extraction on its own thread, started over when the download restarts."""

    def __init__(
        self,
        paths: list[Path],
        coverage: Coverage,
        staging: Path,
        archive: Path,
        kind: str | None,
        policy: TransferPolicy,
        select: Callable[[str], bool] | None,
        on_entry: EntryDone | None,
    ) -> None:
        self.paths = paths
        self.coverage = coverage
        self.staging = staging
        self.archive = archive
        self.kind = kind
        self.policy = policy
        self.select = select
        self.on_entry = on_entry
        self.names: list[str] | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    def start(self, cancel: threading.Event) -> None:
        self._cancel = cancel
        self._thread = threading.Thread(target=self._run, name="mlenv-extract", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from .streaming import extract_streaming

        try:
            for _attempt in range(MAX_RESTARTS + 1):
                source = CoveredFile(self.paths, self.coverage)
                try:
                    self.names = extract_streaming(
                        source,
                        self.staging,
                        archive=self.archive,
                        kind=self.kind,
                        free_space=self.policy.free_space,
                        select=self.select,
                        on_entry=self.on_entry,
                    )
                    return
                except DownloadRestarted:
                    _empty(self.staging)
                finally:
                    source.close()
            raise DownloadStopped("the download kept restarting")
        except DownloadStopped:
            pass  # the download's own error is what the caller raises
        except BaseException as error:  # handed to the calling thread
            self.error = error
            if self._cancel is not None:
                self._cancel.set()  # no point downloading the rest

    def result(self) -> list[str]:
        self._join()
        if self.error is not None:
            raise self.error
        if self.names is None:
            raise DownloadStopped("the extraction stopped")
        return self.names

    def abandon(self) -> None:
        """After the download failed: wait for the extraction thread to notice and end."""
        self._join()

    def _join(self) -> None:
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(JOIN_SLICE)


def _empty(folder: Path) -> None:
    for child in list(folder.iterdir()) if folder.is_dir() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
