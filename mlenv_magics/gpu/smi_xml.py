"""The fallback when NVML cannot load: ``nvidia-smi -q -x`` from the first one on ``PATH``.

Handles every XML layout seen in real captures (DTD v9 to v13: ``<power_readings>``,
``<gpu_power_readings>`` with ``power_draw`` or only ``average_``/``instant_power_draw``),
values with embedded units (``15360 MiB``, ``40 C``, ``26.78 W``) and every "no value"
form (``N/A``, ``[N/A]``, ``[Not Supported]``, ``Not Found``, ``Unknown Error``,
``Requested functionality has been deprecated``), which become ``None``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from .model import GpuDevice, GpuProcess, MigSlice, ProbeResult, available

SMI_TIMEOUT_S = 15.0
_QUANTITY = re.compile(r"^(-?\d+(?:\.\d+)?)\s*([A-Za-z%]*)$")
_MIB_PER = {"kib": 1 / 1024, "mib": 1.0, "gib": 1024.0, "kb": 1 / 1024, "mb": 1.0, "gb": 1024.0}


class SmiUnavailable(Exception):
    """``nvidia-smi`` is missing or failed; the message says which."""


def value_text(element: ET.Element | None, path: str) -> str | None:
    """The text at ``path`` below ``element``; ``None`` for missing and every N/A form."""
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return available(found.text)


def quantity(element: ET.Element | None, unit: str, *paths: str) -> float | None:
    """The first present value among ``paths`` that is a number in ``unit``.

    ``unit`` is ``MiB`` (``KiB``/``GiB`` are converted), ``%``, ``C`` or ``W``; a number
    with another unit (or none where one is due) is not trusted and reads as ``None``.
    """
    for path in paths:
        text = value_text(element, path)
        if text is None:
            continue
        match = _QUANTITY.match(text)
        if not match:
            continue
        value, found = float(match.group(1)), match.group(2)
        if unit == "MiB" and found.lower() in _MIB_PER:
            return value * _MIB_PER[found.lower()]
        if found == unit or (unit == "" and not found):
            return value
    return None


def number(element: ET.Element | None, *paths: str) -> float | None:
    """The first present value among ``paths`` that is a plain number (ids, counts)."""
    return quantity(element, "", *paths)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def parse_smi_xml(text: str) -> ProbeResult:
    """Parse the output of ``nvidia-smi -q -x`` into a :class:`ProbeResult`."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SmiUnavailable(f"nvidia-smi printed XML that could not be read ({exc})") from None
    if root.tag != "nvidia_smi_log":
        raise SmiUnavailable(f"nvidia-smi printed an unexpected XML document <{root.tag}>")
    result = ProbeResult(
        backend="nvidia-smi",
        driver_version=value_text(root, "driver_version"),
        cuda_version=value_text(root, "cuda_version"),
    )
    for index, gpu in enumerate(root.findall("gpu")):
        device = _device(gpu, index)
        result.devices.append(device)
        if device.mig_enabled:
            slices = _mig_devices(gpu, device)
            claimed = {p.pid for s in slices for p in s.processes}
            device.processes = [p for p in device.processes if p.pid not in claimed]
            result.devices.extend(slices)
    attached = _int(number(root, "attached_gpus"))
    if attached is not None and attached > len(root.findall("gpu")):
        result.notes.append(
            f"nvidia-smi reports {attached} attached GPUs but described {len(root.findall('gpu'))}"
        )
    return result


def _device(gpu: ET.Element, index: int) -> GpuDevice:
    # nvidia-smi lists GPUs in PCI bus order, like NVML, so the position is the NVML index.
    device = GpuDevice(index=index)
    device.name = value_text(gpu, "product_name")
    device.uuid = value_text(gpu, "uuid")
    device.bus_id = gpu.get("id") or value_text(gpu, "pci/pci_bus_id")
    device.mig_enabled = (value_text(gpu, "mig_mode/current_mig") or "").lower() == "enabled"
    device.memory_total_mib = _int(quantity(gpu, "MiB", "fb_memory_usage/total"))
    device.memory_used_mib = _int(quantity(gpu, "MiB", "fb_memory_usage/used"))
    device.utilization_pct = _int(quantity(gpu, "%", "utilization/gpu_util"))
    if device.utilization_pct is None:
        device.gaps["utilization_pct"] = "MIG" if device.mig_enabled else "not reported"
    device.temperature_c = _int(quantity(gpu, "C", "temperature/gpu_temp"))
    device.power_w = quantity(
        gpu,
        "W",
        "gpu_power_readings/power_draw",
        "gpu_power_readings/average_power_draw",
        "gpu_power_readings/instant_power_draw",
        "power_readings/power_draw",
        "power_readings/average_power_draw",
        "power_readings/instant_power_draw",
    )
    device.power_limit_w = quantity(
        gpu,
        "W",
        "gpu_power_readings/current_power_limit",
        "gpu_power_readings/enforced_power_limit",
        "power_readings/enforced_power_limit",
        "power_readings/power_limit",
        "power_readings/current_power_limit",
    )
    for attr in ("temperature_c", "power_w", "power_limit_w", "memory_total_mib"):
        if getattr(device, attr) is None:
            device.gaps.setdefault(attr, "not reported")
    device.processes = _processes(gpu)
    return device


def _processes(element: ET.Element, gpu_instance: int | None = None) -> list[GpuProcess]:
    found: list[GpuProcess] = []
    for info in element.findall("processes/process_info"):
        pid = _int(number(info, "pid"))
        if pid is None:
            continue
        instance = _int(number(info, "gpu_instance_id"))
        if gpu_instance is not None and instance != gpu_instance:
            continue
        found.append(
            GpuProcess(
                pid=pid,
                used_memory_mib=_int(quantity(info, "MiB", "used_memory")),
                name=value_text(info, "process_name"),
            )
        )
    return found


def _mig_devices(gpu: ET.Element, parent: GpuDevice) -> list[GpuDevice]:
    slices: list[GpuDevice] = []
    for position, mig in enumerate(gpu.findall("mig_devices/mig_device")):
        gpu_instance = _int(number(mig, "gpu_instance_id"))
        device = GpuDevice(index=parent.index, bus_id=parent.bus_id)
        device.mig = MigSlice(
            parent_index=parent.index,
            slice_index=_int(number(mig, "index")) or position,
            gpu_instance_id=gpu_instance,
            compute_instance_id=_int(number(mig, "compute_instance_id")),
        )
        device.name = f"{parent.name} MIG slice" if parent.name else None
        device.uuid = value_text(mig, "uuid")
        device.memory_total_mib = _int(quantity(mig, "MiB", "fb_memory_usage/total"))
        device.memory_used_mib = _int(quantity(mig, "MiB", "fb_memory_usage/used"))
        device.processes = _processes(gpu, gpu_instance) if gpu_instance is not None else []
        for attr in ("utilization_pct", "temperature_c", "power_w", "power_limit_w"):
            device.gaps[attr] = "MIG (shown on the parent GPU)"
        slices.append(device)
    return slices


def find_nvidia_smi(path: str | None = None) -> str | None:
    """The first ``nvidia-smi`` on ``path`` (default: ``$PATH``)."""
    return shutil.which("nvidia-smi", path=path if path is not None else os.environ.get("PATH"))


def run_nvidia_smi(executable: str, args: list[str], env: Mapping[str, str] | None = None) -> str:
    """Run ``nvidia-smi`` once with a timeout; raise :class:`SmiUnavailable` on any failure."""
    try:
        completed = subprocess.run(
            [executable, *args],
            capture_output=True,
            text=True,
            timeout=SMI_TIMEOUT_S,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SmiUnavailable(f"nvidia-smi did not answer within {SMI_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise SmiUnavailable(f"nvidia-smi could not be started: {exc.strerror}") from None
    if completed.returncode != 0:
        message = (completed.stdout.strip() or completed.stderr.strip()).splitlines()
        first = message[0] if message else "no message"
        raise SmiUnavailable(f"nvidia-smi failed (exit {completed.returncode}): {first}")
    return completed.stdout


def compute_capabilities(executable: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``uuid → "7.5"`` from the CSV query; empty when this nvidia-smi lacks ``compute_cap``."""
    try:
        output = run_nvidia_smi(
            executable, ["--query-gpu=uuid,compute_cap", "--format=csv,noheader,nounits"], env
        )
    except SmiUnavailable:
        return {}
    capabilities: dict[str, str] = {}
    for line in output.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 2 and re.fullmatch(r"\d+\.\d+", parts[1]):
            capabilities[parts[0]] = parts[1]
    return capabilities


def probe_nvidia_smi(
    executable: str, env: Mapping[str, str] | None = None, capabilities: bool = True
) -> ProbeResult:
    result = parse_smi_xml(run_nvidia_smi(executable, ["-q", "-x"], env))
    if result.devices and capabilities:
        known = compute_capabilities(executable, env)
        for device in result.devices:
            if device.uuid and device.mig is None:
                device.compute_capability = known.get(device.uuid)
        parents = {d.index: d for d in result.devices if d.mig is None}
        for device in result.devices:
            if device.mig is not None:
                device.compute_capability = parents[device.index].compute_capability
    return result
