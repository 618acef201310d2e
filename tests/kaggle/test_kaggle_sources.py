"""Parsing SOURCE: every form in the spec, and clear errors for everything else."""

from __future__ import annotations

import pytest

from mlenv_magics.data.sources import (
    DriveItem,
    KaggleCompetition,
    KaggleDataset,
    parse_source,
)
from mlenv_magics.errors import BadSourceError, MlenvError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice/tiny", KaggleDataset("alice", "tiny")),
        ("alice/tiny/versions/3", KaggleDataset("alice", "tiny", 3)),
        ("kaggle:alice/tiny", KaggleDataset("alice", "tiny")),
        ("kaggle:alice/tiny/versions/12", KaggleDataset("alice", "tiny", 12)),
        ("https://www.kaggle.com/datasets/alice/tiny", KaggleDataset("alice", "tiny")),
        ("https://www.kaggle.com/datasets/alice/tiny/", KaggleDataset("alice", "tiny")),
        ("https://kaggle.com/datasets/alice/tiny/versions/2", KaggleDataset("alice", "tiny", 2)),
        ("https://www.kaggle.com/datasets/alice/tiny?select=a.csv", KaggleDataset("alice", "tiny")),
        ("https://www.kaggle.com/datasets/alice/tiny/data", KaggleDataset("alice", "tiny")),
        ("www.kaggle.com/datasets/alice/my-data.v2", KaggleDataset("alice", "my-data.v2")),
        ("'alice/tiny'", KaggleDataset("alice", "tiny")),
        ("competition:titanic", KaggleCompetition("titanic")),
        ("https://www.kaggle.com/competitions/titanic", KaggleCompetition("titanic")),
        ("https://www.kaggle.com/competitions/titanic/data", KaggleCompetition("titanic")),
        ("https://www.kaggle.com/c/titanic", KaggleCompetition("titanic")),
        ("drive:1AbCdEfGhIjKlMn", DriveItem("1AbCdEfGhIjKlMn", None)),
        (
            "https://drive.google.com/file/d/1AbCdEfGhIjKlMn/view?usp=sharing",
            DriveItem("1AbCdEfGhIjKlMn", "file"),
        ),
        (
            "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMn",
            DriveItem("1AbCdEfGhIjKlMn", "folder"),
        ),
        (
            "https://drive.google.com/drive/u/0/folders/1AbCdEfGhIjKlMn?usp=drive_link",
            DriveItem("1AbCdEfGhIjKlMn", "folder"),
        ),
        ("https://drive.google.com/open?id=1AbCdEfGhIjKlMn", DriveItem("1AbCdEfGhIjKlMn", None)),
    ],
)
def test_every_documented_form_parses(text: str, expected: object) -> None:
    assert parse_source(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tiny",
        "alice/tiny/extra",
        "alice/../etc",
        "alice/tiny/versions/x",
        "competition:",
        "drive:short",
        "https://example.com/datasets/alice/tiny",
        "https://www.kaggle.com/models/alice/m",
        "https://drive.google.com/drive/my-drive",
    ],
)
def test_malformed_sources_raise_bad_source_error(text: str) -> None:
    with pytest.raises(BadSourceError) as info:
        parse_source(text)
    assert isinstance(info.value, MlenvError)
    assert "owner/slug" in str(info.value)  # the message lists the accepted forms


def test_dataset_urls_and_labels() -> None:
    dataset = KaggleDataset("alice", "tiny", 4)
    assert dataset.web_url == "https://www.kaggle.com/datasets/alice/tiny/versions/4"
    assert dataset.label == "kaggle dataset alice/tiny"
    competition = KaggleCompetition("titanic")
    assert competition.rules_url == "https://www.kaggle.com/competitions/titanic/rules"
