"""Regression tests of the security review: hostile servers and archives, through the public
API against the loopback fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlenv_magics.data import kaggle_auth


@pytest.fixture(autouse=True)
def _forget_logins() -> Iterator[None]:
    kaggle_auth.forget_login()
    yield
    kaggle_auth.forget_login()
