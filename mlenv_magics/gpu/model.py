"""Plain data records shared by every probe and renderer of the GPU report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024

# How nvidia-smi and NVML say "no value" (compared after collapsing whitespace, any case).
NOT_AVAILABLE = frozenset(
    {
        "n/a",
        "na",
        "none",
        "not found",
        "unknown",
        "unknown error",
        "not supported",
        "not available",
        "requested functionality has been deprecated",
        "insufficient permissions",
    }
)


def available(text: str | bytes | None) -> str | None:
    """``text`` with whitespace collapsed, or ``None`` for every "not available" form.

    ``N/A``, ``[N/A]``, ``[Not Supported]``, ``Not Found``, ``Unknown Error`` and any other
    bracketed message (``[REDACTED]``) carry no value.
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    collapsed = " ".join(text.split())
    if not collapsed or (collapsed.startswith("[") and collapsed.endswith("]")):
        return None
    if collapsed.lower() in NOT_AVAILABLE:
        return None
    return collapsed


@dataclass
class GpuProcess:
    """A process holding GPU memory. ``owner`` is ``this kernel``, ``other`` or ``unknown``."""

    pid: int
    used_memory_mib: int | None = None
    name: str | None = None
    owner: str = "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "used_memory_mib": self.used_memory_mib,
            "name": self.name,
            "owner": self.owner,
        }


@dataclass
class MigSlice:
    """Where a MIG device sits inside its parent GPU."""

    parent_index: int
    slice_index: int
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent_index": self.parent_index,
            "slice_index": self.slice_index,
            "gpu_instance_id": self.gpu_instance_id,
            "compute_instance_id": self.compute_instance_id,
        }


@dataclass
class GpuDevice:
    """One CUDA-capable device: a physical GPU or a MIG slice. ``None`` means unknown."""

    index: int
    name: str | None = None
    uuid: str | None = None
    bus_id: str | None = None
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    utilization_pct: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    compute_capability: str | None = None
    mig: MigSlice | None = None
    mig_enabled: bool = False
    processes: list[GpuProcess] = field(default_factory=list)
    gaps: dict[str, str] = field(default_factory=dict)
    cuda_visible: bool | None = None
    cuda_index: int | None = None

    @property
    def label(self) -> str:
        if self.mig is not None:
            return f"{self.mig.parent_index}:mig{self.mig.slice_index}"
        return str(self.index)

    @property
    def usable(self) -> bool:
        """Whether CUDA code can run on it: a MIG-enabled parent only runs through its slices."""
        return not self.mig_enabled and self.cuda_visible is not False

    def gap(self, name: str) -> str | None:
        return self.gaps.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "label": self.label,
            "name": self.name,
            "uuid": self.uuid,
            "bus_id": self.bus_id,
            "memory_total_mib": self.memory_total_mib,
            "memory_used_mib": self.memory_used_mib,
            "utilization_pct": self.utilization_pct,
            "temperature_c": self.temperature_c,
            "power_w": self.power_w,
            "power_limit_w": self.power_limit_w,
            "compute_capability": self.compute_capability,
            "mig": self.mig.to_dict() if self.mig is not None else None,
            "mig_enabled": self.mig_enabled,
            "cuda_visible": self.cuda_visible,
            "cuda_index": self.cuda_index,
            "processes": [p.to_dict() for p in self.processes],
            "unavailable": dict(self.gaps),
        }


@dataclass
class ProbeResult:
    """What one GPU backend found."""

    backend: str
    driver_version: str | None = None
    cuda_version: str | None = None
    devices: list[GpuDevice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def no_gpu(*notes: str, fixes: list[str] | None = None) -> ProbeResult:
    return ProbeResult(backend="none", notes=list(notes), fixes=list(fixes or []))
