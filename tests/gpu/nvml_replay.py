"""A ``pynvml`` stand-in that replays recorded NVML values through the real call names.

Each recording holds what the real library returned on one machine (numbers taken from the
nvidia-smi fixtures of the same GPUs). A value of ``Fail(code)`` makes the call raise the
real ``pynvml.NVMLError`` subclass for that code, so the probe's error handling is the one
that runs against the real library.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

MIB = 1024 * 1024


@dataclass(frozen=True)
class Fail:
    code: int


NOT_SUPPORTED = Fail(pynvml.NVML_ERROR_NOT_SUPPORTED)
NO_PERMISSION = Fail(pynvml.NVML_ERROR_NO_PERMISSION)
FUNCTION_NOT_FOUND = Fail(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
UNKNOWN = Fail(pynvml.NVML_ERROR_UNKNOWN)
LIBRARY_NOT_FOUND = Fail(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
DRIVER_NOT_LOADED = Fail(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
RM_MISMATCH = Fail(pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH)


@dataclass
class Recording:
    driver: Any = "550.54.15"
    cuda: Any = 12040
    devices: list[dict[str, Any]] = field(default_factory=list)
    init: Any = None


def _check(value: Any) -> Any:
    if isinstance(value, Fail):
        raise pynvml.NVMLError(value.code)
    return value


class ReplayNvml:
    """Module-like object: ``pynvml``'s function names over a :class:`Recording`."""

    NVMLError = pynvml.NVMLError
    nvmlMemory_v2 = pynvml.nvmlMemory_v2
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    NVML_DEVICE_MIG_ENABLE = pynvml.NVML_DEVICE_MIG_ENABLE
    __file__ = "<replay>"

    def __init__(self, recording: Recording, init_gate: threading.Event | None = None) -> None:
        self.recording = recording
        self.init_gate = init_gate
        self.calls: list[tuple[str, Any]] = []

    def _nvmlGetFunctionPointer(self, name: str) -> None:  # marks the official module
        return None

    def _log(self, name: str, handle: Any = None) -> None:
        self.calls.append((name, handle))

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)

    def nvmlInit(self) -> None:
        self._log("nvmlInit")
        if self.init_gate is not None:
            self.init_gate.wait(5)
        _check(self.recording.init)

    def nvmlSystemGetDriverVersion(self) -> Any:
        return _check(self.recording.driver)

    def nvmlSystemGetCudaDriverVersion(self) -> Any:
        return _check(self.recording.cuda)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.recording.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        return self.recording.devices[index]

    def _field(self, handle: dict[str, Any], name: str) -> Any:
        self._log(name, handle.get("uuid"))
        return _check(handle.get(name, NOT_SUPPORTED))

    def nvmlDeviceGetName(self, h: dict[str, Any]) -> Any:
        return self._field(h, "name")

    def nvmlDeviceGetUUID(self, h: dict[str, Any]) -> Any:
        return self._field(h, "uuid")

    def nvmlDeviceGetPciInfo_v3(self, h: dict[str, Any]) -> Any:
        return SimpleNamespace(busId=self._field(h, "bus_id"))

    def nvmlDeviceGetCudaComputeCapability(self, h: dict[str, Any]) -> Any:
        return self._field(h, "cc")

    def nvmlDeviceGetMemoryInfo(self, h: dict[str, Any], version: Any = None) -> Any:
        if version is not None:
            _check(h.get("memory_v2"))
        total, used = self._field(h, "memory")
        return SimpleNamespace(total=total * MIB, used=used * MIB, free=(total - used) * MIB)

    def nvmlDeviceGetUtilizationRates(self, h: dict[str, Any]) -> Any:
        return SimpleNamespace(gpu=self._field(h, "util"), memory=0)

    def nvmlDeviceGetTemperatureV(self, h: dict[str, Any], sensor: int) -> Any:
        return self._field(h, "temp")

    def nvmlDeviceGetTemperature(self, h: dict[str, Any], sensor: int) -> Any:
        return self._field(h, "temp")

    def nvmlDeviceGetPowerUsage(self, h: dict[str, Any]) -> Any:
        return self._field(h, "power_mw")

    def nvmlDeviceGetEnforcedPowerLimit(self, h: dict[str, Any]) -> Any:
        return self._field(h, "limit_mw")

    def nvmlDeviceGetComputeRunningProcesses(self, h: dict[str, Any]) -> Any:
        procs = self._field(h, "procs") if "procs" in h else []
        return [SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in procs]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: dict[str, Any]) -> Any:
        return []

    def nvmlDeviceGetMigMode(self, h: dict[str, Any]) -> Any:
        return [1, 1] if h.get("mig") else self._field(h, "mig_mode")

    def nvmlDeviceGetMaxMigDeviceCount(self, h: dict[str, Any]) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: dict[str, Any], slot: int) -> Any:
        slices = h.get("mig") or []
        if slot >= len(slices):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return slices[slot]

    def nvmlDeviceGetGpuInstanceId(self, h: dict[str, Any]) -> Any:
        return self._field(h, "gi")

    def nvmlDeviceGetComputeInstanceId(self, h: dict[str, Any]) -> Any:
        return self._field(h, "ci")


# Recorded values, from the same GPUs as the nvidia-smi fixtures.
def t4() -> Recording:
    return Recording(
        driver="515.105.01",
        cuda=11070,
        devices=[
            {
                "name": "Tesla T4",
                "uuid": "GPU-d37e67a5-91dd-3774-a5cb-99096249601a",
                "bus_id": "00000000:00:1E.0",
                "cc": (7, 5),
                "memory": (15360, 1032),
                "util": 0,
                "temp": 40,
                "power_mw": 26780,
                "limit_mw": 70000,
                "mig_mode": NOT_SUPPORTED,
                "procs": [(675, 22 * MIB), (5762, 1005 * MIB)],
            }
        ],
    )


def a100_mig() -> Recording:
    parent_uuid = "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    return Recording(
        driver="535.54.03",
        cuda=12020,
        devices=[
            {
                "name": "NVIDIA A100-SXM4-80GB",
                "uuid": parent_uuid,
                "bus_id": "00000000:01:00.0",
                "cc": (8, 0),
                "memory": (81920, 50),
                "util": NOT_SUPPORTED,
                "temp": 27,
                "power_mw": 67030,
                "limit_mw": 500000,
                "mig": [
                    {
                        "name": "NVIDIA A100-SXM4-80GB MIG 1g.20gb",
                        "uuid": f"MIG-0000000{gi}-7d19-5c4e-a0e6-1e69664bb298",
                        "gi": gi,
                        "ci": 0,
                        "memory": (19968, 12),
                    }
                    for gi in (3, 4, 5, 6)
                ],
            }
        ],
    )


def h100(used_mib: int = 19818, procs: list[tuple[int, int]] | None = None) -> Recording:
    return Recording(
        driver="590.48.01",
        cuda=13010,
        devices=[
            {
                "name": "NVIDIA H100 80GB HBM3",
                "uuid": "GPU-00000000-0000-0000-0000-000000000000",
                "bus_id": "00000000:00:09.0",
                "cc": (9, 0),
                "memory": (81559, used_mib),
                "util": 100,
                "temp": 59,
                "power_mw": 629450,
                "limit_mw": 700000,
                "mig_mode": [0, 0],
                "procs": procs if procs is not None else [(11345, 15690 * MIB)],
            }
        ],
    )
