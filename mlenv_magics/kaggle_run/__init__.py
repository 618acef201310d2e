"""Run notebook code on Kaggle's machines from anywhere and bring the results back.

``run_on_kaggle`` pushes the code as a private Kaggle notebook (``push``), waits for its
session while streaming its log (``wait``), then downloads its output files and reads the
executed notebook's outputs (``results``). Requests are built with kagglesdk's types
(``protocol``) and sent through the shared transport (``client``). ``view`` renders the
progress for the magics and the CLI.
"""

from __future__ import annotations

from .errors import (
    KernelBusyError,
    PushRejectedError,
    QuotaExhaustedError,
    RemoteOptionError,
    RemoteRunError,
    WaitTimeoutError,
)
from .model import KaggleRun, QuotaReport
from .options import RunOptions
from .run import kaggle_output, kaggle_quota, kaggle_status, run_on_kaggle

__all__ = [
    "KaggleRun",
    "KernelBusyError",
    "PushRejectedError",
    "QuotaExhaustedError",
    "QuotaReport",
    "RemoteOptionError",
    "RemoteRunError",
    "RunOptions",
    "WaitTimeoutError",
    "kaggle_output",
    "kaggle_quota",
    "kaggle_status",
    "run_on_kaggle",
]
