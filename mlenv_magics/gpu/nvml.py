"""NVIDIA GPUs through NVML (``nvidia-ml-py``), in-process.

NVML is initialised once per process and kept open: with persistence mode off (Colab,
Kaggle) every init/shutdown pair re-initialises the GPU. The first init runs in a worker
thread with a timeout because some drivers hang there. Every per-device field is
optional; a field that the device refuses (not supported, no permission, missing in the
driver) is remembered per device so a refresh does not ask again.

The module object is injectable: tests pass an object with the same function names
that replays recorded values and raises the real ``pynvml`` error classes, so the code
below is the same for the real library and for the replay.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from .model import MIB, GpuDevice, GpuProcess, MigSlice, ProbeResult, available

INIT_TIMEOUT_S = 10.0

# NVML return codes (see nvml.h); named here so a foreign module cannot confuse us.
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
RM_VERSION_MISMATCH = 18
UNKNOWN = 999

_GAP_REASONS = {
    NOT_SUPPORTED: "not supported",
    NO_PERMISSION: "no permission",
    FUNCTION_NOT_FOUND: "driver too old",
    UNKNOWN: "unknown error (WSL?)",
}


class NvmlUnavailable(Exception):
    """NVML cannot be used in this process; ``reason`` says why, ``fix`` what to do."""

    def __init__(self, reason: str, fix: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def import_pynvml() -> Any:
    """Import the official ``pynvml`` (from nvidia-ml-py) or raise :class:`NvmlUnavailable`."""
    try:
        with warnings.catch_warnings():
            # The deprecated ``pynvml`` distribution warns on import and forwards to us.
            warnings.simplefilter("ignore")
            import pynvml
    except ImportError:
        raise NvmlUnavailable(
            "nvidia-ml-py is not installed",
            fix="Install NVML's Python binding: `pip install nvidia-ml-py`.",
        ) from None
    check_official(pynvml)
    return pynvml


def check_official(module: Any) -> None:
    """Refuse a foreign ``pynvml.py`` (nvidia-ml-py3, old pynvml) that shadows the official one."""
    needed = ("_nvmlGetFunctionPointer", "nvmlInit", "NVMLError", "nvmlDeviceGetHandleByIndex")
    missing = [name for name in needed if not hasattr(module, name)]
    if missing:
        where = getattr(module, "__file__", None) or "an unknown location"
        raise NvmlUnavailable(
            f"the pynvml module at {where} is not the one from nvidia-ml-py"
            f" (missing {', '.join(missing)})",
            fix="Replace it: `pip uninstall -y nvidia-ml-py3 pynvml`, then"
            " `pip install -U nvidia-ml-py`.",
        )


class NvmlSession:
    """One initialised NVML library, kept for the life of the process."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self._lock = threading.Lock()
        self._ready = False
        self._failure: NvmlUnavailable | None = None
        self._init_thread: threading.Thread | None = None
        self.unsupported: dict[tuple[str, str], str] = {}

    def ensure_initialised(self, timeout_s: float = INIT_TIMEOUT_S) -> None:
        with self._lock:
            if self._ready:
                return
            if self._failure is not None:
                raise self._failure
            if self._init_thread is not None and self._init_thread.is_alive():
                raise NvmlUnavailable(
                    "NVML initialisation is still hanging from an earlier call",
                    fix="Restart the kernel; if it persists, update or reinstall the driver.",
                )
            outcome: dict[str, BaseException | None] = {}

            def initialise() -> None:
                try:
                    self.module.nvmlInit()
                    outcome["error"] = None
                except BaseException as exc:  # delivered to the calling thread below
                    outcome["error"] = exc

            self._init_thread = threading.Thread(
                target=initialise, name="mlenv-nvml-init", daemon=True
            )
            self._init_thread.start()
            self._init_thread.join(timeout_s)
            if "error" not in outcome:
                raise NvmlUnavailable(
                    f"NVML initialisation did not finish within {timeout_s:g} s",
                    fix="Restart the kernel; some drivers hang in nvmlInit (update the driver).",
                )
            error = outcome["error"]
            if error is None:
                self._ready = True
                return
            if not isinstance(error, Exception):
                raise error
            self._failure = _explain_init_error(self.module, error)
            raise self._failure

    def optional(self, key: str, field: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        """Call an optional NVML getter; ``None`` (and a remembered gap) when refused."""
        if (key, field) in self.unsupported:
            return None
        try:
            return call(*args, **kwargs)
        except self.module.NVMLError as exc:
            code = getattr(exc, "value", None)
            reason = _GAP_REASONS.get(code) if isinstance(code, int) else None
            self.unsupported[(key, field)] = reason or str(exc) or "error"
            return None
        except (AttributeError, TypeError):
            self.unsupported[(key, field)] = "not in this nvidia-ml-py"
            return None

    def gap(self, key: str, field: str) -> str | None:
        return self.unsupported.get((key, field))


_SESSIONS: dict[int, NvmlSession] = {}
_SESSIONS_LOCK = threading.Lock()


def session_for(module: Any) -> NvmlSession:
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(id(module))
        if session is None or session.module is not module:
            session = _SESSIONS[id(module)] = NvmlSession(module)
        return session


def _explain_init_error(module: Any, error: Exception) -> NvmlUnavailable:
    code = getattr(error, "value", None)
    if isinstance(error, module.NVMLError):
        if code == LIBRARY_NOT_FOUND:
            return NvmlUnavailable("no NVIDIA driver (the NVML library libnvidia-ml was not found)")
        if code == DRIVER_NOT_LOADED:
            return NvmlUnavailable(
                "the NVIDIA library is installed but no driver is loaded (no GPU attached?)"
            )
        if code == RM_VERSION_MISMATCH:
            return NvmlUnavailable(
                "the NVIDIA driver was upgraded without a reboot (NVML/RM version mismatch)",
                fix="Reboot the machine (or reload the `nvidia` kernel modules).",
            )
        if code == NO_PERMISSION:
            return NvmlUnavailable(
                "no permission to open the NVIDIA devices",
                fix="Add the user to the group that owns `/dev/nvidia*`, or run the container"
                " with `--gpus all`.",
            )
        return NvmlUnavailable(f"NVML failed to start: {error}")
    return NvmlUnavailable(f"NVML failed to start: {type(error).__name__}: {error}")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str | bytes):
        return available(value)
    return available(str(value))


def cuda_version_text(value: int | None) -> str | None:
    """``12040`` → ``"12.4"``."""
    if not value:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def probe_nvml(module: Any | None = None, timeout_s: float = INIT_TIMEOUT_S) -> ProbeResult:
    """Read every GPU through NVML; raise :class:`NvmlUnavailable` when NVML cannot be used."""
    if module is None:
        module = import_pynvml()
    else:
        check_official(module)
    session = session_for(module)
    session.ensure_initialised(timeout_s)
    nv = module
    try:
        count = nv.nvmlDeviceGetCount()
    except nv.NVMLError as exc:
        raise NvmlUnavailable(f"NVML could not count the GPUs: {exc}") from None
    result = ProbeResult(
        backend="nvml",
        driver_version=_text(session.optional("system", "driver", nv.nvmlSystemGetDriverVersion)),
        cuda_version=cuda_version_text(
            session.optional("system", "cuda", nv.nvmlSystemGetCudaDriverVersion)
        ),
    )
    for index in range(count):
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(index)
        except nv.NVMLError as exc:
            result.notes.append(f"GPU {index} could not be opened: {exc}")
            continue
        device = _read_device(session, handle, index)
        result.devices.append(device)
        if device.mig_enabled:
            slices = _read_mig_slices(session, handle, device)
            claimed = {p.pid for s in slices for p in s.processes}
            device.processes = [p for p in device.processes if p.pid not in claimed]
            result.devices.extend(slices)
    return result


def _read_device(session: NvmlSession, handle: Any, index: int) -> GpuDevice:
    nv = session.module
    key = f"gpu{index}"
    device = GpuDevice(index=index)
    device.name = _text(session.optional(key, "name", nv.nvmlDeviceGetName, handle))
    device.uuid = _text(session.optional(key, "uuid", nv.nvmlDeviceGetUUID, handle))
    pci = session.optional(key, "pci", _pci_info, nv, handle)
    device.bus_id = _text(getattr(pci, "busId", None)) if pci is not None else None
    capability = session.optional(key, "cc", nv.nvmlDeviceGetCudaComputeCapability, handle)
    if capability:
        device.compute_capability = f"{capability[0]}.{capability[1]}"
    mode = session.optional(key, "mig", nv.nvmlDeviceGetMigMode, handle)
    device.mig_enabled = bool(mode) and mode[0] == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1)
    _read_memory(session, key, handle, device)
    if device.mig_enabled:
        device.gaps["utilization_pct"] = "MIG"
    else:
        rates = session.optional(key, "util", nv.nvmlDeviceGetUtilizationRates, handle)
        device.utilization_pct = _int_or_none(getattr(rates, "gpu", None))
    device.temperature_c = _int_or_none(session.optional(key, "temp", _temperature, nv, handle))
    draw = session.optional(key, "power", nv.nvmlDeviceGetPowerUsage, handle)
    limit = session.optional(key, "power_limit", nv.nvmlDeviceGetEnforcedPowerLimit, handle)
    device.power_w = round(draw / 1000, 2) if draw is not None else None
    device.power_limit_w = round(limit / 1000, 2) if limit is not None else None
    device.processes = _processes(session, key, handle)
    for field, attr in (
        ("util", "utilization_pct"),
        ("temp", "temperature_c"),
        ("power", "power_w"),
        ("power_limit", "power_limit_w"),
        ("memory", "memory_total_mib"),
        ("cc", "compute_capability"),
    ):
        reason = session.gap(key, field)
        if reason and attr not in device.gaps:
            device.gaps[attr] = reason
    return device


def _pci_info(nv: Any, handle: Any) -> Any:
    getter = getattr(nv, "nvmlDeviceGetPciInfo_v3", None) or nv.nvmlDeviceGetPciInfo
    return getter(handle)


def _temperature(nv: Any, handle: Any) -> Any:
    sensor = getattr(nv, "NVML_TEMPERATURE_GPU", 0)
    versioned = getattr(nv, "nvmlDeviceGetTemperatureV", None)
    if versioned is not None:
        try:
            return versioned(handle, sensor)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) != FUNCTION_NOT_FOUND:
                raise
    return nv.nvmlDeviceGetTemperature(handle, sensor)


def _memory_info(nv: Any, handle: Any) -> Any:
    version = getattr(nv, "nvmlMemory_v2", None)
    if version is not None:
        try:
            return nv.nvmlDeviceGetMemoryInfo(handle, version=version)
        except nv.NVMLError as exc:
            # Drivers older than 515 lack the v2 call; v1's "used" includes reserved memory.
            if getattr(exc, "value", None) != FUNCTION_NOT_FOUND:
                raise
    return nv.nvmlDeviceGetMemoryInfo(handle)


def _read_memory(session: NvmlSession, key: str, handle: Any, device: GpuDevice) -> None:
    info = session.optional(key, "memory", _memory_info, session.module, handle)
    if info is None:
        return
    total, used = getattr(info, "total", None), getattr(info, "used", None)
    device.memory_total_mib = int(total) // MIB if total is not None else None
    device.memory_used_mib = int(used) // MIB if used is not None else None


def _processes(session: NvmlSession, key: str, handle: Any) -> list[GpuProcess]:
    nv = session.module
    found: dict[int, GpuProcess] = {}
    for field, getter_name in (
        ("compute_procs", "nvmlDeviceGetComputeRunningProcesses"),
        ("graphics_procs", "nvmlDeviceGetGraphicsRunningProcesses"),
    ):
        getter = getattr(nv, getter_name, None)
        if getter is None:
            continue
        for item in session.optional(key, field, getter, handle) or []:
            pid = getattr(item, "pid", None)
            if not isinstance(pid, int):
                continue
            used = getattr(item, "usedGpuMemory", None)
            used_mib = int(used) // MIB if isinstance(used, int) else None
            known = found.get(pid)
            if known is None:
                found[pid] = GpuProcess(pid=pid, used_memory_mib=used_mib)
            elif used_mib is not None:
                known.used_memory_mib = max(known.used_memory_mib or 0, used_mib)
    return sorted(found.values(), key=lambda p: p.pid)


def _read_mig_slices(session: NvmlSession, parent: Any, device: GpuDevice) -> list[GpuDevice]:
    nv = session.module
    key = f"gpu{device.index}"
    slots = session.optional(key, "mig_count", nv.nvmlDeviceGetMaxMigDeviceCount, parent) or 0
    slices: list[GpuDevice] = []
    for slot in range(int(slots)):
        try:
            handle = nv.nvmlDeviceGetMigDeviceHandleByIndex(parent, slot)
        except nv.NVMLError:
            continue  # NotFound: an empty slot
        mig_key = f"{key}/mig{slot}"
        mig = GpuDevice(index=device.index, compute_capability=device.compute_capability)
        mig.mig = MigSlice(
            parent_index=device.index,
            slice_index=len(slices),
            gpu_instance_id=_int_or_none(
                session.optional(mig_key, "gi", nv.nvmlDeviceGetGpuInstanceId, handle)
            ),
            compute_instance_id=_int_or_none(
                session.optional(mig_key, "ci", nv.nvmlDeviceGetComputeInstanceId, handle)
            ),
        )
        mig.name = _text(session.optional(mig_key, "name", nv.nvmlDeviceGetName, handle))
        mig.uuid = _text(session.optional(mig_key, "uuid", nv.nvmlDeviceGetUUID, handle))
        mig.bus_id = device.bus_id
        _read_memory(session, mig_key, handle, mig)
        mig.processes = _processes(session, mig_key, handle)
        for attr in ("utilization_pct", "temperature_c", "power_w", "power_limit_w"):
            mig.gaps[attr] = "MIG (shown on the parent GPU)"
        slices.append(mig)
    return slices


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
