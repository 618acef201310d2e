"""Kaggle tests: the ``kaggle_fake`` fixture comes from ``mlenv_magics.testing.pytest_plugin``."""

from __future__ import annotations

import pytest

from mlenv_magics.data import kaggle_auth


@pytest.fixture(autouse=True)
def _forget_logins():  # type: ignore[no-untyped-def]
    kaggle_auth.forget_login()
    yield
    kaggle_auth.forget_login()
