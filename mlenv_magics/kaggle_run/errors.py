"""Failures of a remote run that the user must act on."""

from __future__ import annotations

from typing import Any

from ..errors import MlenvError


class RemoteOptionError(MlenvError):
    """An option of ``%%on_kaggle --remote`` that cannot work (a usage error)."""


class PushRejectedError(MlenvError):
    """Kaggle answered the push with an error (HTTP 200 with ``error``)."""


class KernelBusyError(MlenvError):
    """The notebook still has a session queued or running on Kaggle."""


class QuotaExhaustedError(MlenvError):
    """No accelerator time is left this week."""


class WaitTimeoutError(MlenvError):
    """``--timeout`` passed before the run ended; the run goes on."""


class RemoteRunError(MlenvError):
    """The run ended with an error on Kaggle; ``run`` holds what came back."""

    def __init__(self, message: str, *, fix: str | None = None, run: Any = None) -> None:
        super().__init__(message, fix=fix)
        self.run = run
