"""The Kaggle fake serves dataset files registered as paths straight from disk."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlenv_magics.testing.kaggle_fake import KaggleFake

DATASETS = "v1/datasets.DatasetApiService"
BIG = os.urandom(300_000)


@pytest.fixture
def fake() -> Iterator[KaggleFake]:
    started = KaggleFake().start()
    try:
        yield started
    finally:
        started.stop()


def _post(fake: KaggleFake, method: str, body: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{fake.url}/{DATASETS}/{method}",
        json=body,
        headers={"Authorization": f"Bearer {fake.token}"},
        allow_redirects=False,
        timeout=10,
    )


def test_a_path_is_served_from_disk_with_its_size_and_hashes(
    fake: KaggleFake, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    dataset = fake.add_dataset("alice/disk", files={"big.bin": path, "note.txt": b"hi"})
    blob = fake.dataset_file_blob("alice/disk", "big.bin")
    assert fake.blobs.stats(blob).requests == 0  # registered up front, so faults can be set
    assert 1 not in dataset.archives  # no zip is built until the whole version is asked for

    listing = _post(fake, "ListDatasetFiles", {"ownerSlug": "alice", "datasetSlug": "disk"})
    sizes = {f["name"]: f["totalBytes"] for f in listing.json()["datasetFiles"]}
    assert sizes == {"big.bin": len(BIG), "note.txt": 2}

    body = {"ownerSlug": "alice", "datasetSlug": "disk", "fileName": "big.bin"}
    location = _post(fake, "DownloadDataset", body).headers["Location"]
    answer = requests.get(location, timeout=10)
    assert answer.content == BIG
    md5 = base64.b64encode(hashlib.md5(BIG).digest()).decode()
    assert f"md5={md5}" in answer.headers["x-goog-hash"]
    assert fake.blobs.stats(blob).requests == 1

    archive_at = _post(fake, "DownloadDataset", {"ownerSlug": "alice", "datasetSlug": "disk"})
    archive = requests.get(archive_at.headers["Location"], timeout=10).content
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert zipped.read("big.bin") == BIG and zipped.read("note.txt") == b"hi"
