"""The public Python API; the magics and the CLI are thin layers over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import NotAvailableError
from .runtime import detect_runtime


def gpu_report(**options: Any) -> Any:
    """Probe GPUs and TPUs; see :class:`mlenv_magics.gpu.GpuReport`."""
    from .gpu import gpu_report as probe

    return probe(**options)


def add_data(source: str, **options: Any) -> Path:
    """Make ``source`` available locally and return its directory."""
    raise NotAvailableError(
        "%mlenv_add_data is not built yet in this version of mlenv_magics.",
        fix="Upgrade mlenv-magics.",
    )


__all__ = ["add_data", "detect_runtime", "gpu_report"]
