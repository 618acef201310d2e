"""Shared values for the Kaggle tests."""

from __future__ import annotations

from mlenv_magics.transfer import TransferPolicy

# Retries without real waits, so fault tests stay fast.
FAST = TransferPolicy(max_attempts=3, backoff_base=0.0, sleep=lambda seconds: None)
