"""Remote-run tests: the ``kaggle_fake`` fixture (mlenv_magics.testing.pytest_plugin) with
notebook runs, a fake clock driven by the fake's events, and the working directory in tmp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlenv_magics.data import kaggle_auth
from mlenv_magics.kaggle_run import wait
from mlenv_magics.kaggle_run.client import KernelsClient
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import TransferPolicy, make_session

from .remote_kit import FakeTime, Recorder

FAST = TransferPolicy(max_attempts=3, backoff_base=0.0, sleep=lambda seconds: None)


@pytest.fixture(autouse=True)
def _forget_logins() -> Iterator[None]:
    kaggle_auth.forget_login()
    yield
    kaggle_auth.forget_login()


@pytest.fixture
def fake(kaggle_fake: KaggleFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KaggleFake:
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MLENV_RUNTIME", "local")
    return kaggle_fake


@pytest.fixture
def fake_time(fake: KaggleFake, monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Also the default timing of every wait (the magics and the CLI use it)."""
    time = FakeTime(fake)
    monkeypatch.setattr(wait, "default_timing", time.timing)
    return time


@pytest.fixture
def client(fake: KaggleFake) -> Iterator[KernelsClient]:
    from mlenv_magics.data.kaggle_auth import KaggleCredentials

    credentials = KaggleCredentials("token", "test token", secret=fake.token)
    api = KernelsClient(make_session({}), credentials, base=fake.url, policy=FAST)
    yield api
    api.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
