"""A download never writes past the size the source listed or the server announced, and asks
for the stored bytes themselves (``Accept-Encoding: identity``), which sizes, ranges and
``x-goog-hash`` describe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlenv_magics import add_data
from mlenv_magics.errors import IntegrityError
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.testing.drive_fake import DriveFake
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files, make_session

BIG = 20 << 20


def _written(progress: RecordingProgress) -> int:
    return sum(event[2] for event in progress.events if event[0] == "advance")


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_drive_file_listed_as_1000_bytes_never_gets_20_mib(
    drive_fake: DriveFake, tmp_path: Path
) -> None:
    file_id = drive_fake.add_file("small.csv", os.urandom(BIG))
    drive_fake.misreport_size(file_id, 1000)
    with pytest.raises(IntegrityError, match="announced 20971520 bytes, expected 1000"):
        add_data(f"drive:{file_id}", quiet=True)
    assert sum(p.stat().st_size for p in _files_under(tmp_path / "mlenv-cache")) < 1000


def test_a_body_without_a_length_is_stopped_at_the_listed_size(tmp_path: Path) -> None:
    progress = RecordingProgress()
    with BlobHost() as host, make_session({}) as session:
        url = host.add("f", os.urandom(BIG), hashes=())
        host.faults("f", no_length=True)
        with pytest.raises(IntegrityError, match="more than the 1000 bytes"):
            fetch_files(
                session,
                [RemoteFile("f.csv", url=url, size=1000)],
                tmp_path / "dest",
                partial_dir=tmp_path / "partial",
                policy=TransferPolicy(max_attempts=2),
                progress=progress,
            )
    assert _written(progress) <= 1000
    assert _files_under(tmp_path / "dest") == [] and _files_under(tmp_path / "partial") == []


def test_media_is_asked_for_without_compression(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    stored = b"id,value\n" + b"1,2\n" * 50_000  # compresses well: a transcoding host would
    served = tmp_path / "served.csv"
    served.write_bytes(stored)
    kaggle_fake.add_dataset("alice/text", {"data.csv": served})
    blob = kaggle_fake.dataset_file_blob("alice/text", "data.csv")
    kaggle_fake.blobs.faults(blob, gzip=True)
    path = add_data("alice/text", files=["data.csv"], quiet=True)
    assert (path / "data.csv").read_bytes() == stored
    [record] = kaggle_fake.blobs.stats(blob).records
    assert record.headers.get("Accept-Encoding") == "identity"
