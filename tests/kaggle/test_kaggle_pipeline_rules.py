"""The shared pipeline's rules, through add_data against the Kaggle fake: a downloaded archive
survives a failed extraction, single files are unwrapped only when Kaggle wrapped them, and
links are never followed when listing or placing."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.api import acquire_data
from mlenv_magics.cache import Cache
from mlenv_magics.errors import (
    ArchiveError,
    DestinationExistsError,
    DiskSpaceError,
    NotFoundError,
)
from mlenv_magics.testing.kaggle_fake import KaggleFake, corrupt_zip
from mlenv_magics.transfer import TransferPolicy

FILES = {"train.csv": b"a,b\n1,2\n" * 50, "sub/notes.txt": b"hello"}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def cache_root() -> Path:
    return Path(os.environ["MLENV_CACHE_DIR"])


def kept_archives() -> list[Path]:
    return sorted((cache_root() / ".partial").rglob("fetched/*.zip"))


def staging_path(path: Path) -> bool:
    return ".staging" in path.parts


def full_disk_while_extracting(path: Path) -> int:
    """Room for the download, none for the extraction (which writes into a staging folder)."""
    return 0 if staging_path(Path(path)) else 1 << 40


def interrupted_while_extracting(path: Path) -> int:
    if staging_path(Path(path)):
        raise KeyboardInterrupt
    return 1 << 40


@pytest.mark.parametrize(
    ("free_space", "error"),
    [
        (full_disk_while_extracting, DiskSpaceError),
        (interrupted_while_extracting, KeyboardInterrupt),
    ],
)
def test_a_failed_extraction_keeps_the_archive_and_the_rerun_does_not_download_again(
    kaggle_fake: KaggleFake, free_space: object, error: type[BaseException]
) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    failing = TransferPolicy(max_attempts=3, sleep=lambda s: None, free_space=free_space)  # type: ignore[arg-type]
    with pytest.raises(error):
        add_data("alice/tiny", policy=failing)
    assert Cache(cache_root()).entries() == []  # nothing half-published
    assert len(kept_archives()) == 1
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 1

    result = acquire_data("alice/tiny", policy=FAST)
    assert result.origin == "downloaded" and tree(result.path) == FILES
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 1  # extracted from the kept archive
    assert kept_archives() == []  # published: the partial folder is gone


def test_a_corrupt_archive_is_discarded_so_the_rerun_downloads_it_again(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.add_dataset("alice/bad", files=FILES, archive=corrupt_zip())
    with pytest.raises(ArchiveError):
        add_data("alice/bad", policy=FAST)
    assert kept_archives() == []
    with pytest.raises(ArchiveError):
        add_data("alice/bad", policy=FAST)
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 2


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_based_files_are_handed_over_byte_for_byte(kaggle_fake: KaggleFake) -> None:
    # a torch checkpoint, an .npz and an .xlsx are zips; one holding a member of its own name
    # is exactly what a look inside would take for a wrapped file
    files = {
        "model.pt": zip_of({"model.pt": b"weights"}),
        "arrays.npz": zip_of({"a.npy": b"1", "b.npy": b"2"}),
        "sheet.xlsx": zip_of({"xl/workbook.xml": b"<workbook/>"}),
    }
    kaggle_fake.add_dataset("alice/models", files=files)
    path = add_data("alice/models", files=list(files))
    assert tree(path) == files


def test_a_file_kaggle_wrapped_in_a_zip_is_unwrapped_even_when_it_is_a_zip_itself(
    kaggle_fake: KaggleFake,
) -> None:
    files = {"arrays.npz": zip_of({"a.npy": b"1" * 100, "b.npy": b"2" * 100}), "small.txt": b"s"}
    kaggle_fake.add_dataset("alice/arrays", files=files)
    kaggle_fake.wrap_files_over = 100  # Kaggle serves arrays.npz as arrays.npz.zip
    path = add_data("alice/arrays", files=["arrays.npz", "small.txt"])
    assert tree(path) == files


def test_listing_and_placing_never_follow_links(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in kaggle_fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    assert kaggle_fake.mount_root is not None
    mounted = kaggle_fake.mount_root / "tiny"
    mounted.mkdir(parents=True)
    (mounted / "train.csv").write_bytes(b"data")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not data")
    (mounted / "link.txt").symlink_to(secret)
    (mounted / "linked-folder").symlink_to(tmp_path, target_is_directory=True)

    target = tmp_path / "placed"
    result = acquire_data("alice/tiny", to=target)
    assert result.files == 1 and result.size == 4
    assert sorted(p.name for p in target.iterdir()) == ["train.csv"]
    with pytest.raises(NotFoundError):
        add_data("alice/tiny", files=["link.txt"])  # a link is not a file of the data


def test_to_never_writes_through_a_link_in_the_destination(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    users_file = tmp_path / "mine.csv"
    users_file.write_bytes(b"precious")
    target = tmp_path / "data"
    target.mkdir()
    (target / "train.csv").symlink_to(users_file)
    with pytest.raises(DestinationExistsError, match="--force"):
        add_data("alice/tiny", to=target)
    assert users_file.read_bytes() == b"precious"
    add_data("alice/tiny", to=target, force=True)
    assert not (target / "train.csv").is_symlink()
    assert (target / "train.csv").read_bytes() == FILES["train.csv"]
    assert users_file.read_bytes() == b"precious"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DestinationExistsError, match="link"):
        add_data("alice/tiny", to=other, force=True)
    assert list(elsewhere.iterdir()) == []


def test_a_folder_pattern_selects_everything_below_it(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files={**FILES, "sub/deeper/x.bin": b"x"})
    for pattern in ("sub", "sub/", "./sub/"):
        result = acquire_data("alice/tiny", files=[pattern])
        assert result.files == 2, pattern
        assert tree(result.path) == {"sub/notes.txt": b"hello", "sub/deeper/x.bin": b"x"}
