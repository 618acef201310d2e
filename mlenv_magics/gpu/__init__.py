"""GPU and TPU probes (NVML, nvidia-smi XML, PCI scan) and the GpuReport."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .frameworks import (
    FindSpec,
    FrameworkInfo,
    capability_from_name,
    compatibility_warnings,
    detect_frameworks,
)
from .guidance import Situation
from .model import GpuDevice, ProbeResult, no_gpu
from .report import GpuReport, widgets_enabled
from .tpu import TpuInfo, detect_other_accelerators, detect_tpu

__all__ = ["GpuReport", "gpu_report", "probe_gpus", "refresh_report"]

BACKEND_CHOICES = ("auto", "nvml", "nvidia-smi", "none")
# Present whenever an NVIDIA driver serves this machine or container (native, Docker, WSL2).
NVIDIA_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/proc/driver/nvidia/version")


def probe_gpus(
    env: Mapping[str, str],
    path_exists: Callable[[str], bool],
    nvml: Any = None,
    system: str | None = None,
    precheck: bool = True,
    capabilities: bool = True,
) -> ProbeResult:
    """NVML first, then ``nvidia-smi -q -x``, else backend ``none`` with the reasons.

    ``capabilities=False`` skips nvidia-smi's second call (compute capabilities), for a
    refresh that already knows them.
    """
    system = sys.platform if system is None else system
    choice = (env.get("MLENV_GPU_BACKEND") or "auto").strip().lower()
    if choice not in BACKEND_CHOICES:
        from ..errors import MlenvError

        raise MlenvError(
            f"MLENV_GPU_BACKEND={choice!r} is not a GPU backend mlenv knows.",
            fix=f"Use one of: {', '.join(BACKEND_CHOICES)}, or unset MLENV_GPU_BACKEND.",
        )
    if choice == "none":
        return no_gpu("GPU probing is off (MLENV_GPU_BACKEND=none)")
    if choice == "nvidia-smi":
        nvml, precheck = False, False
    if system == "darwin":
        return no_gpu("macOS has no NVIDIA driver")
    linux = system.startswith("linux")
    reasons: list[str] = []
    fixes: list[str] = []
    if precheck and linux and not any(path_exists(p) for p in NVIDIA_DEVICE_FILES):
        # Loading NVML would fail; nvidia-smi on PATH is still asked (the contract), since a
        # driver can serve it without these files (a replay, an unusual container runtime).
        reasons.append("no NVIDIA device files (/dev/nvidia*, /dev/dxg): no GPU is attached")
        if choice == "nvml":
            return no_gpu(*reasons)
        nvml = False
    from .nvml import NvmlUnavailable, probe_nvml
    from .smi_xml import SmiUnavailable, find_nvidia_smi, probe_nvidia_smi

    if nvml is not False:
        try:
            return probe_nvml(nvml)
        except NvmlUnavailable as exc:
            reasons.append(f"NVML: {exc.reason}")
            if exc.fix:
                fixes.append(exc.fix)
        if choice == "nvml":
            return no_gpu(*reasons, fixes=fixes)
    executable = find_nvidia_smi(env.get("PATH", ""))
    if executable is None:
        reasons.append("nvidia-smi is not on PATH")
        return no_gpu(*reasons, fixes=fixes)
    try:
        result = probe_nvidia_smi(
            executable, None if env is os.environ else env, capabilities=capabilities
        )
    except SmiUnavailable as exc:
        reasons.append(str(exc))
        return no_gpu(*reasons, fixes=fixes)
    result.notes[:0] = [r for r in reasons if not r.startswith("no NVIDIA device files")]
    result.fixes[:0] = fixes
    return result


def _label_processes(devices: list[GpuDevice], own_pid: int, path_exists: Any) -> None:
    for device in devices:
        for process in device.processes:
            if process.pid == own_pid:
                process.owner = "this kernel"
            elif path_exists(f"/proc/{process.pid}"):
                process.owner = "another process"
            else:
                process.owner = "unknown (not in this container)"


def _framework_notes(
    frameworks: list[FrameworkInfo], has_gpu: bool, tpu: TpuInfo | None
) -> list[str]:
    warnings = []
    if has_gpu:
        for info in frameworks:
            if info.name == "torch" and info.accelerator == "cpu":
                warnings.append(
                    f"torch {info.version} is a CPU-only build and cannot use the GPU: install"
                    " the CUDA wheel (pip install torch --index-url"
                    " https://download.pytorch.org/whl/cu128 or the one matching your driver)."
                )
            if info.name == "tensorflow" and info.accelerator == "cpu":
                warnings.append(
                    f"tensorflow {info.version} is built without CUDA: pip install"
                    " 'tensorflow[and-cuda]'."
                )
    if tpu is not None:
        torch = next((f for f in frameworks if f.name == "torch"), None)
        jax = next((f for f in frameworks if f.name == "jax"), None)
        if (
            torch is not None
            and "torch_xla installed" not in torch.extras
            and (jax is None or jax.accelerator != "tpu")
        ):
            warnings.append(
                "This is a TPU machine: torch runs on the CPU here unless torch_xla is"
                " installed; JAX with libtpu uses the TPU directly."
            )
    return warnings


def gpu_report(
    *,
    env: Mapping[str, str] | None = None,
    sysfs_root: str = "/sys",
    path_exists: Callable[[str], bool] = os.path.exists,
    nvml: Any = None,
    shell: Any = None,
    runtime: Any = None,
    system: str | None = None,
    machine: str | None = None,
    pid: int | None = None,
    find_spec: FindSpec | None = None,
    modules: Mapping[str, Any] | None = None,
    precheck: bool = True,
) -> GpuReport:
    """Probe GPUs, TPUs and frameworks; every source of facts is injectable for tests.

    ``env`` is the environment (``PATH`` finds ``nvidia-smi``), ``nvml`` a ``pynvml``-like
    module (``False`` skips NVML), ``sysfs_root`` the ``/sys`` to scan for TPUs.
    """
    env = os.environ if env is None else env
    if runtime is None:
        from ..runtime import detect_runtime

        runtime = detect_runtime(env=env, path_exists=path_exists, shell=shell)
    own_pid = os.getpid() if pid is None else pid
    probe = probe_gpus(env, path_exists, nvml=nvml, system=system, precheck=precheck)
    notes = list(probe.notes)
    for device in probe.devices:
        if device.compute_capability is None and device.mig is None:
            guessed = capability_from_name(device.name)
            if guessed:
                device.compute_capability = guessed
    for device in probe.devices:
        if device.mig is not None and device.compute_capability is None:
            parent = next(d for d in probe.devices if d.mig is None and d.index == device.index)
            device.compute_capability = parent.compute_capability
    _label_processes(probe.devices, own_pid, path_exists)
    from .visible_devices import apply_visibility

    visibility = apply_visibility(probe.devices, env)
    tpu = detect_tpu(env, sysfs_root)
    other = detect_other_accelerators(
        sysfs_root, path_exists, system=_platform(system), machine=machine
    )
    frameworks = detect_frameworks(find_spec, modules)
    has_gpu = any(d.usable for d in probe.devices)
    warnings = list(visibility.warnings)
    warnings += compatibility_warnings(frameworks, probe.devices, probe.cuda_version)
    warnings += _framework_notes(frameworks, has_gpu, tpu)
    notes += visibility.notes
    if has_gpu and runtime.host == "kaggle" and sum(1 for d in probe.devices if d.usable) > 1:
        notes.append(
            "Kaggle T4 x2: frameworks use the first GPU unless the code spreads work over both"
            " (DataParallel, accelerate, device_map='auto')."
        )
    situation = Situation(
        host=runtime.host,
        frontend=runtime.frontend,
        wsl=path_exists("/dev/dxg"),
        container=path_exists("/.dockerenv"),
        driver_problem=probe.notes[0] if probe.backend == "none" and probe.notes else None,
        driver_fixes=tuple(probe.fixes) if probe.backend == "none" else (),
    )
    return GpuReport(
        host=runtime.host,
        host_label=runtime.host_label,
        run_type=runtime.run_type,
        backend=probe.backend,
        driver_version=probe.driver_version,
        cuda_version=probe.cuda_version,
        devices=probe.devices,
        tpu=tpu,
        other=other,
        frameworks=frameworks,
        warnings=warnings,
        notes=notes,
        situation=situation,
        own_pid=own_pid,
        widgets_allowed=runtime.widgets_useful and widgets_enabled(env),
        batch=runtime.is_batch,
    )


def refresh_report(
    previous: GpuReport,
    *,
    env: Mapping[str, str] | None = None,
    path_exists: Callable[[str], bool] = os.path.exists,
    nvml: Any = None,
    system: str | None = None,
    precheck: bool = True,
    smi_stream: Any = None,
) -> GpuReport:
    """``previous`` with fresh device readings: only the GPU probe runs again.

    With ``smi_stream`` (a :class:`~mlenv_magics.gpu.smi_stream.SmiStream`) and a report
    that came from nvidia-smi, the readings come from that running ``nvidia-smi`` loop.

    Host, frameworks and TPUs do not change while a kernel runs, so a live view asks only
    NVML (or one ``nvidia-smi -q -x``) per refresh; compute capabilities are carried over.
    """
    env = os.environ if env is None else env
    if smi_stream is not None and previous.backend == "nvidia-smi":
        probe = smi_stream.probe()
    else:
        probe = probe_gpus(
            env, path_exists, nvml=nvml, system=system, precheck=precheck, capabilities=False
        )
    known = {d.uuid: d.compute_capability for d in previous.devices if d.uuid}
    for device in probe.devices:
        if device.compute_capability is None:
            device.compute_capability = known.get(device.uuid or "") or capability_from_name(
                device.name
            )
    for device in probe.devices:
        if device.mig is not None and device.compute_capability is None:
            parent = next(d for d in probe.devices if d.mig is None and d.index == device.index)
            device.compute_capability = parent.compute_capability
    _label_processes(probe.devices, previous.own_pid, path_exists)
    from dataclasses import replace

    from .visible_devices import apply_visibility

    visibility = apply_visibility(probe.devices, env)
    return replace(
        previous,
        backend=probe.backend,
        driver_version=probe.driver_version,
        cuda_version=probe.cuda_version,
        devices=probe.devices,
        notes=list(dict.fromkeys(probe.notes + visibility.notes)),
        _widget_view=None,
    )


def _platform(system: str | None) -> str | None:
    if system is None:
        return None
    return {"darwin": "Darwin", "linux": "Linux", "win32": "Windows"}.get(system, system)
