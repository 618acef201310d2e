"""Helpers for the Drive tests: options bound to the ``drive_fake`` environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from mlenv_magics.data.model import AddDataOptions
from mlenv_magics.transfer import TransferPolicy

FAST_POLICY = TransferPolicy(
    connect_timeout=5.0,
    read_timeout=10.0,
    max_attempts=4,
    max_elapsed=30.0,
    sleep=lambda seconds: None,
    jitter=lambda: 0.0,
)


@pytest.fixture
def drive_options(drive_fake: Any) -> Callable[..., AddDataOptions]:
    """``drive_options(files=(...), force=True, ...)``: options reading the fake's env now."""

    def make(**overrides: Any) -> AddDataOptions:
        values: dict[str, Any] = {"env": dict(os.environ), "policy": FAST_POLICY}
        values.update(overrides)
        return AddDataOptions(**values)

    return make


@pytest.fixture
def drive_policy() -> TransferPolicy:
    return FAST_POLICY
