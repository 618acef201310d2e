"""Fixtures for the transfer, cache and archive tests: a loopback blob host and a fast policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import SleepRecorder

from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import TransferPolicy, make_session


@pytest.fixture
def blobhost() -> Iterator[BlobHost]:
    with BlobHost() as host:
        yield host


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    with make_session({}) as made:
        yield made


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def policy(sleeps: SleepRecorder) -> TransferPolicy:
    return TransferPolicy(
        connect_timeout=2.0,
        read_timeout=2.0,
        sleep=sleeps.sleep,
        clock=sleeps.clock,
        jitter=lambda: 0.5,
    )


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "dest", tmp_path / "partial"
