"""TPUs (PCI scan for Google's vendor id, plus host hints), Apple MPS and AMD ROCm, briefly.

Nothing here imports jax, torch or libtpu; everything is read from sysfs, ``/dev`` and the
environment, each injectable.
"""

from __future__ import annotations

import glob
import os
import platform as platform_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

GOOGLE_VENDOR = "0x1ae0"
TPU_DEVICE_IDS = {
    "0x0027": "v2/v3",
    "0x005e": "v4",
    "0x0062": "v5p",
    "0x0063": "v5e",
    "0x006f": "v6e",
    "0x0076": "tpu7x",
}
TPU_ENV_HINTS = ("TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID", "ISTPUVM", "COLAB_TPU_ADDR")


@dataclass
class TpuInfo:
    """TPU chips on this machine (``chips`` is ``None`` when only hints were found)."""

    chips: int | None
    generation: str | None
    accelerator_type: str | None
    source: str
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chips": self.chips,
            "generation": self.generation,
            "accelerator_type": self.accelerator_type,
            "source": self.source,
            "hints": list(self.hints),
        }


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def scan_pci_tpus(sysfs_root: str = "/sys") -> tuple[int, str | None]:
    """``(chips, generation)`` from ``<sysfs>/bus/pci/devices/*/{vendor,device}``."""
    chips = 0
    generation: str | None = None
    for device_dir in sorted(glob.glob(os.path.join(sysfs_root, "bus/pci/devices/*"))):
        if (_read(os.path.join(device_dir, "vendor")) or "").lower() != GOOGLE_VENDOR:
            continue
        device_id = (_read(os.path.join(device_dir, "device")) or "").lower()
        if device_id in TPU_DEVICE_IDS:
            chips += 1
            generation = TPU_DEVICE_IDS[device_id]
    return chips, generation


def detect_tpu(env: Mapping[str, str], sysfs_root: str = "/sys") -> TpuInfo | None:
    chips, generation = scan_pci_tpus(sysfs_root)
    hints = [name for name in TPU_ENV_HINTS if env.get(name)]
    accelerator_type = env.get("TPU_ACCELERATOR_TYPE") or None
    if chips:
        return TpuInfo(chips, generation, accelerator_type, "pci", hints)
    if env.get("COLAB_TPU_ADDR"):
        return TpuInfo(None, None, accelerator_type, "legacy Colab TPU node", hints)
    if env.get("ISTPUVM") == "1" or accelerator_type:
        return TpuInfo(None, None, accelerator_type, "environment", hints)
    return None


@dataclass
class OtherAccelerator:
    """An Apple MPS or AMD ROCm device, reported briefly."""

    kind: str
    name: str
    count: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "count": self.count, "detail": self.detail}


def detect_other_accelerators(
    sysfs_root: str = "/sys",
    path_exists: Callable[[str], bool] = os.path.exists,
    system: str | None = None,
    machine: str | None = None,
    run_sysctl: Callable[[str], str | None] | None = None,
) -> list[OtherAccelerator]:
    system = platform_module.system() if system is None else system
    machine = platform_module.machine() if machine is None else machine
    found: list[OtherAccelerator] = []
    if system == "Darwin":
        translated = (run_sysctl or _sysctl)("sysctl.proc_translated")
        if machine == "arm64" and translated != "1":
            found.append(OtherAccelerator("mps", "Apple GPU (MPS)", 1, "unified memory"))
    if path_exists("/dev/kfd"):
        targets = []
        pattern = os.path.join(sysfs_root, "class/kfd/kfd/topology/nodes/*/properties")
        for properties in sorted(glob.glob(pattern)):
            for line in (_read(properties) or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "gfx_target_version" and value.strip() not in {"", "0"}:
                    targets.append(_gfx_name(int(value)))
        if targets:
            found.append(
                OtherAccelerator("rocm", "AMD GPU (ROCm)", len(targets), ", ".join(targets))
            )
    return found


def _gfx_name(version: int) -> str:
    major, minor, step = version // 10000, (version // 100) % 100, version % 100
    return f"gfx{major}{minor:x}{step:x}"


def _sysctl(name: str) -> str | None:
    import subprocess

    try:
        completed = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() or None
