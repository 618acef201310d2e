"""GPU and TPU probes (NVML, nvidia-smi XML, PCI scan) and the GpuReport."""

from __future__ import annotations

from typing import Any

from ..errors import NotAvailableError


def gpu_report(**_: Any) -> Any:
    raise NotAvailableError(
        "%mlenv_gpu is not built yet in this version of mlenv_magics.",
        fix="Upgrade mlenv-magics.",
    )
