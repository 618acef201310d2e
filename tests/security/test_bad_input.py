"""Input a user or a server got wrong ends in an MlenvError, never a raw OS error: absurd
version numbers are refused before any request, ``--to`` naming a file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlenv_magics import add_data
from mlenv_magics.errors import BadSourceError, MlenvError
from mlenv_magics.testing.kaggle_fake import KaggleFake


@pytest.mark.parametrize(
    "source",
    [
        "alice/tiny/versions/99999999999999999999999999",
        "alice/tiny/versions/2147483648",
        "alice/tiny/versions/0",
        "alice/tiny/versions/-3",
        "https://www.kaggle.com/datasets/alice/tiny/versions/1e9",
    ],
)
def test_absurd_version_numbers_are_refused_before_any_request(
    kaggle_fake: KaggleFake, source: str
) -> None:
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    with pytest.raises(BadSourceError, match="version"):
        add_data(source, quiet=True)
    assert kaggle_fake.calls == []


def test_to_naming_an_existing_file_is_an_mlenv_error(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1", "sub/b.csv": b"2"})
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    with pytest.raises(MlenvError, match=r"notes\.txt"):
        add_data("alice/tiny", to=existing, quiet=True)
    with pytest.raises(MlenvError, match=r"notes\.txt"):
        add_data("alice/tiny", to=existing / "deeper", quiet=True)
    assert existing.read_text() == "mine"
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "sub").write_text("a file where the data has a folder")
    with pytest.raises(MlenvError, match="sub"):
        add_data("alice/tiny", to=folder, quiet=True)
