"""Input a user or a server got wrong ends in an MlenvError, never a raw OS error: absurd
version numbers are refused before any request."""

from __future__ import annotations

import pytest

from mlenv_magics import add_data
from mlenv_magics.errors import BadSourceError
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
