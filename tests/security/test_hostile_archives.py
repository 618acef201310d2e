"""Hostile archives served by a Kaggle fake: nothing escapes, nothing is read whole, every
failure is an ArchiveError with a short message."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from hostile import chained_links, zip_of

from mlenv_magics import add_data
from mlenv_magics.errors import ArchiveError
from mlenv_magics.testing.kaggle_fake import KaggleFake


def _links_under(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_symlink()] if root.exists() else []


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "mlenv-cache"


@pytest.mark.parametrize("with_to", [False, True], ids=["cache", "to"])
def test_chained_symlinks_cannot_reach_files_outside(
    kaggle_fake: KaggleFake, tmp_path: Path, with_to: bool
) -> None:
    secret = tmp_path / "home" / ".kaggle" / "kaggle.json"
    secret.parent.mkdir(parents=True)
    secret.write_text('{"username": "me", "key": "very-secret-key"}')
    kaggle_fake.add_dataset("alice/evil", {"train.csv": b"x"}, archive=chained_links(str(secret)))
    target = tmp_path / "work"
    with pytest.raises(ArchiveError, match="'creds' links outside the folder") as caught:
        add_data("alice/evil", to=target if with_to else None, quiet=True)
    assert len(str(caught.value)) < 500
    assert _links_under(_cache(tmp_path)) == []  # nothing was published
    assert not target.exists() or list(target.iterdir()) == []
    copies = [p for p in tmp_path.rglob("*") if p.is_file() and p != secret]
    assert not any(
        b"very-secret-key" in p.read_bytes() for p in copies if p.stat().st_size < 1 << 20
    )


def test_links_that_stay_inside_are_published(kaggle_fake: KaggleFake) -> None:
    archive = zip_of(
        [
            ("v2/data.csv", b"a\n1\n", False),
            ("latest", b"v2", True),
            ("cur", b"latest/data.csv", True),
        ]
    )
    kaggle_fake.add_dataset("alice/links", {"v2/data.csv": b"a\n1\n"}, archive=archive)
    path = add_data("alice/links", quiet=True)
    assert (path / "cur").read_bytes() == b"a\n1\n"
    assert os.readlink(path / "latest") == "v2"


def test_a_symlink_entry_bomb_is_refused_before_it_is_read(kaggle_fake: KaggleFake) -> None:
    bomb = zip_of([("train.csv", b"x", False), ("link", b"a" * (128 << 20), True)])
    assert len(bomb) < 1 << 20
    kaggle_fake.add_dataset("alice/bomb", {"train.csv": b"x"}, archive=bomb)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="longer than 4096 bytes") as caught:
            add_data("alice/bomb", quiet=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # the 128 MiB target was never decompressed
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("names", [["a", "a/b"], ["a/b", "a"]], ids=["file-first", "folder-first"])
def test_a_name_that_is_both_a_file_and_a_folder_is_an_archive_error(
    kaggle_fake: KaggleFake, names: list[str]
) -> None:
    archive = zip_of([(name, b"1", False) for name in names])
    kaggle_fake.add_dataset("alice/both", {"a": b"1"}, archive=archive)
    with pytest.raises(ArchiveError, match="both a file and a folder"):
        add_data("alice/both", quiet=True)


def test_an_entry_name_too_long_for_the_disk_is_an_archive_error(kaggle_fake: KaggleFake) -> None:
    archive = zip_of([("ok.csv", b"1", False), ("n" * 300 + ".csv", b"2", False)])
    kaggle_fake.add_dataset("alice/long", {"ok.csv": b"1"}, archive=archive)
    with pytest.raises(ArchiveError, match="cannot be created") as caught:
        add_data("alice/long", quiet=True)
    assert len(str(caught.value)) < 500


def test_colons_in_archive_names_are_kept(kaggle_fake: KaggleFake) -> None:
    files = {"Results: 2024.csv": b"r\n", "logs/12:30.txt": b"t"}
    kaggle_fake.add_dataset("alice/colons", files)
    path = add_data("alice/colons", quiet=True)
    assert (path / "Results: 2024.csv").read_bytes() == b"r\n"
    assert (path / "logs" / "12:30.txt").read_bytes() == b"t"


def test_a_drive_letter_in_an_archive_name_is_refused(kaggle_fake: KaggleFake) -> None:
    archive = zip_of([("ok.csv", b"1", False), ("C:evil.csv", b"2", False)])
    kaggle_fake.add_dataset("alice/drive", {"ok.csv": b"1"}, archive=archive)
    with pytest.raises(ArchiveError, match="absolute path"):
        add_data("alice/drive", quiet=True)


def test_a_single_file_named_with_a_colon_is_fetched(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/colon", {"Results: 2024.csv": b"r\n", "other.csv": b"o"})
    path = add_data("alice/colon", files=["Results: 2024.csv"], quiet=True)
    assert (path / "Results: 2024.csv").read_bytes() == b"r\n"
