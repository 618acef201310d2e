"""A new source is a ``Source`` subclass: this one serves a tar.gz archive and per-file
downloads from the loopback blob host, and the shared pipeline does the rest (cache, lock,
``--file``, ``--to``, ``--offline``, ``--force``, the summary)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mlenv_magics.data.model import AddDataOptions, Origin
from mlenv_magics.data.pipeline import (
    Archive,
    Download,
    Fetch,
    Files,
    ListedFile,
    Release,
    Run,
    Selection,
    Source,
    run_pipeline,
)
from mlenv_magics.data.selection import selection_key
from mlenv_magics.errors import OfflineError
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile

FILES = {"model.bin": b"w" * 3000, "config/params.json": b"{}", "config/extra/notes.txt": b"n"}


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class BlobRelease(Release):
    def __init__(self, source: BlobSource) -> None:
        self.source = source
        self.version = "7"
        self.label = source.label

    def entry_key(self, selection: Selection | None) -> tuple[str, ...]:
        if selection is None:
            return ("blobs", "demo", "versions", "7")
        return ("blobs", "demo", "selections", "7", selection_key(selection.patterns))

    def listing(self) -> Sequence[ListedFile]:
        self.source.listings += 1
        return [ListedFile(name, len(data)) for name, data in FILES.items()]

    def fetch(self, selection: Selection | None) -> Fetch:
        host = self.source.host
        if selection is None:
            return Archive(RemoteFile("demo.tar.gz", url=host.url_for("demo.tar.gz")), "the host")
        return Files(
            [
                Download(RemoteFile(f.relpath, url=host.url_for(f.relpath), size=f.size))
                for f in selection.files
            ]
        )

    def notes(self, selection: Selection | None, origin: Origin) -> Sequence[str]:
        return ["from the blob host"] if origin == "downloaded" else []


class BlobSource(Source):
    def __init__(self, host: BlobHost) -> None:
        self.host = host
        self.label = "blobs demo"
        self.web_url = "http://example.invalid/demo"
        self.identity = "blobs:demo"
        self.listings = 0

    def release(self, run: Run) -> Release:
        return BlobRelease(self)


@pytest.fixture
def blob_source(blobhost: BlobHost) -> BlobSource:
    blobhost.add("demo.tar.gz", tar_gz(FILES))
    for name, data in FILES.items():
        blobhost.add(name, data)
    return BlobSource(blobhost)


def options(tmp_path: Path, **overrides: Any) -> AddDataOptions:
    values: dict[str, Any] = {"env": {"MLENV_CACHE_DIR": str(tmp_path / "cache")}}
    values.update(overrides)
    return AddDataOptions(**values)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def gets(host: BlobHost, name: str) -> int:
    return host.stats(name).requests


def test_a_tar_gz_archive_is_extracted_then_served_from_the_cache(
    tmp_path: Path, blob_source: BlobSource, blobhost: BlobHost
) -> None:
    first = run_pipeline(blob_source, options(tmp_path))
    assert first.origin == "downloaded" and tree(first.path) == FILES
    assert first.summary_line().startswith("blobs demo v7: downloaded, 3 files,")
    assert first.notes == ("from the blob host",)
    requests = gets(blobhost, "demo.tar.gz")

    again = run_pipeline(blob_source, options(tmp_path))
    assert again.origin == "cache" and again.path == first.path and again.notes == ()
    assert gets(blobhost, "demo.tar.gz") == requests
    assert blob_source.listings == 0  # nothing needed the listing

    forced = run_pipeline(blob_source, options(tmp_path, force=True))
    assert forced.origin == "downloaded" and gets(blobhost, "demo.tar.gz") > requests


def test_a_selection_downloads_file_by_file_and_a_cached_whole_serves_it(
    tmp_path: Path, blob_source: BlobSource, blobhost: BlobHost
) -> None:
    picked = run_pipeline(blob_source, options(tmp_path, files=("config/",)))
    assert tree(picked.path) == {k: v for k, v in FILES.items() if k.startswith("config/")}
    assert gets(blobhost, "demo.tar.gz") == 0 and gets(blobhost, "model.bin") == 0

    whole = run_pipeline(blob_source, options(tmp_path))
    served = run_pipeline(blob_source, options(tmp_path, files=("*.bin",)))
    assert served.path == whole.path and served.origin == "cache" and served.files == 1


def test_offline_uses_what_the_last_online_run_resolved_to(
    tmp_path: Path, blob_source: BlobSource
) -> None:
    with pytest.raises(OfflineError, match="without --offline"):
        run_pipeline(blob_source, options(tmp_path, offline=True))
    online = run_pipeline(blob_source, options(tmp_path))
    offline = run_pipeline(blob_source, options(tmp_path, offline=True))
    assert offline.path == online.path and offline.origin == "cache" and offline.version == "7"


def test_to_places_a_copy_and_the_summary_names_it(tmp_path: Path, blob_source: BlobSource) -> None:
    target = tmp_path / "work"
    result = run_pipeline(blob_source, options(tmp_path, to=target, files=("model.bin",)))
    assert result.path == target.absolute() and tree(target) == {"model.bin": FILES["model.bin"]}
    assert result.size == len(FILES["model.bin"]) and str(target) in result.summary_line()


def test_options_never_show_the_environment() -> None:
    shown = repr(AddDataOptions(env={"KAGGLE_API_TOKEN": "s3cret-token"}, files=("a",)))
    assert "s3cret-token" not in shown and "KAGGLE_API_TOKEN" not in shown and "'a'" in shown
