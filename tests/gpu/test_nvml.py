"""NVML paths: recorded values replayed through the real pynvml call names and error classes."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from gpu_kit import T4, no_packages, smi_env, with_nvidia_files
from nvml_replay import (
    DRIVER_NOT_LOADED,
    FUNCTION_NOT_FOUND,
    LIBRARY_NOT_FOUND,
    NO_PERMISSION,
    NOT_SUPPORTED,
    RM_MISMATCH,
    UNKNOWN,
    ReplayNvml,
    a100_mig,
    h100,
    t4,
)

from mlenv_magics.gpu import gpu_report
from mlenv_magics.gpu.nvml import NvmlUnavailable, check_official, cuda_version_text, probe_nvml


def report(module, sysfs, **kwargs):  # type: ignore[no-untyped-def]
    options = {
        "env": smi_env(None),
        "sysfs_root": str(sysfs),
        "path_exists": with_nvidia_files,
        "nvml": module,
        "find_spec": no_packages,
        "modules": {},
        "system": "linux",
        "pid": 5762,
    }
    options.update(kwargs)
    return gpu_report(**options)


def test_t4_through_nvml(sysfs) -> None:  # type: ignore[no-untyped-def]
    result = report(ReplayNvml(t4()), sysfs)
    assert (result.backend, result.driver_version, result.cuda_version) == (
        "nvml",
        "515.105.01",
        "11.7",
    )
    [gpu] = result.devices
    assert (gpu.name, gpu.compute_capability, gpu.bus_id) == ("Tesla T4", "7.5", "00000000:00:1E.0")
    assert (gpu.memory_total_mib, gpu.memory_used_mib) == (15360, 1032)
    assert (gpu.power_w, gpu.power_limit_w, gpu.temperature_c) == (26.78, 70.0, 40)
    owners = {p.pid: (p.owner, p.used_memory_mib) for p in gpu.processes}
    assert owners[5762] == ("this kernel", 1005)
    assert owners[675][0] != "this kernel"


def test_nvml_is_initialised_once_and_kept(sysfs) -> None:  # type: ignore[no-untyped-def]
    module = ReplayNvml(h100())
    for _ in range(3):
        report(module, sysfs)
    assert module.count("nvmlInit") == 1


def test_unsupported_fields_are_na_and_not_asked_again(sysfs) -> None:  # type: ignore[no-untyped-def]
    recording = h100()
    device = recording.devices[0]
    device.update(util=UNKNOWN, temp=NO_PERMISSION, power_mw=NOT_SUPPORTED)
    module = ReplayNvml(recording)
    first = report(module, sysfs).devices[0]
    report(module, sysfs)
    assert first.utilization_pct is None and first.temperature_c is None and first.power_w is None
    assert first.gaps["utilization_pct"].startswith("unknown error")
    assert first.gaps["temperature_c"] == "no permission"
    assert module.count("util") == 1 and module.count("temp") == 1 and module.count("power_mw") == 1
    assert module.count("memory") == 2  # supported fields are read on every refresh
    data = report(module, sysfs).to_dict()["devices"][0]
    assert data["utilization_pct"] is None and data["temperature_c"] is None


def test_old_driver_falls_back_to_memory_v1(sysfs) -> None:  # type: ignore[no-untyped-def]
    recording = t4()
    recording.devices[0]["memory_v2"] = FUNCTION_NOT_FOUND
    gpu = report(ReplayNvml(recording), sysfs).devices[0]
    assert gpu.memory_total_mib == 15360


def test_mig_slices_through_nvml(sysfs) -> None:  # type: ignore[no-untyped-def]
    result = report(ReplayNvml(a100_mig()), sysfs)
    parent, *slices = result.devices
    assert parent.mig_enabled and parent.gap("utilization_pct") == "MIG"
    assert parent.temperature_c == 27 and parent.power_w == 67.03
    assert [s.mig.gpu_instance_id for s in slices] == [3, 4, 5, 6]
    assert slices[0].name == "NVIDIA A100-SXM4-80GB MIG 1g.20gb"
    assert all(s.memory_total_mib == 19968 and s.compute_capability == "8.0" for s in slices)
    assert all(s.usable for s in slices) and not parent.usable


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (LIBRARY_NOT_FOUND, "no NVIDIA driver"),
        (DRIVER_NOT_LOADED, "no driver is loaded"),
        (RM_MISMATCH, "without a reboot"),
    ],
)
def test_init_failure_falls_back_to_nvidia_smi(sysfs, failure, words) -> None:  # type: ignore[no-untyped-def]
    recording = t4()
    recording.init = failure
    module = ReplayNvml(recording)
    result = report(module, sysfs, env=smi_env(T4))
    assert result.backend == "nvidia-smi" and result.devices[0].name == "Tesla T4"
    assert any(words in note for note in result.notes)
    report(module, sysfs, env=smi_env(T4))
    assert module.count("nvmlInit") == 1  # the failure is remembered too


def test_init_failure_without_nvidia_smi_explains_itself(sysfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    recording = t4()
    recording.init = RM_MISMATCH
    result = report(ReplayNvml(recording), sysfs, env={"PATH": str(tmp_path)})
    assert result.backend == "none"
    assert result.guidance.splitlines()[1].startswith("1. Reboot the machine")
    assert any("without a reboot" in note for note in result.notes)
    text = repr(result)
    assert text.count("without a reboot") == 1 and text.count("Reboot the machine") == 1


def test_hanging_init_times_out() -> None:
    gate = threading.Event()
    module = ReplayNvml(t4(), init_gate=gate)
    try:
        with pytest.raises(NvmlUnavailable, match="did not finish"):
            probe_nvml(module, timeout_s=0.05)
        with pytest.raises(NvmlUnavailable, match="still hanging"):
            probe_nvml(module, timeout_s=0.05)
    finally:
        gate.set()


def test_foreign_pynvml_module_is_refused() -> None:
    foreign = SimpleNamespace(nvmlInit=lambda: None, __file__="/site/pynvml.py")
    with pytest.raises(NvmlUnavailable, match="not the one from nvidia-ml-py") as info:
        check_official(foreign)
    assert "pip install -U nvidia-ml-py" in (info.value.fix or "")


def test_foreign_module_report_falls_back(sysfs) -> None:  # type: ignore[no-untyped-def]
    foreign = SimpleNamespace(nvmlInit=lambda: None, __file__="/site/pynvml.py")
    result = report(foreign, sysfs, env=smi_env(T4))
    assert result.backend == "nvidia-smi"
    assert "not the one from nvidia-ml-py" in result.notes[0]


def test_the_real_library_without_a_driver_says_so() -> None:
    import os

    import pynvml

    if os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg"):
        result = probe_nvml(pynvml)
        assert result.backend == "nvml" and result.devices
        return
    with pytest.raises(NvmlUnavailable, match="driver"):
        probe_nvml(pynvml)


def test_bytes_from_old_bindings_are_decoded(sysfs) -> None:  # type: ignore[no-untyped-def]
    recording = t4()
    recording.driver = b"470.82.01"
    recording.devices[0]["name"] = b"Tesla T4"
    result = report(ReplayNvml(recording), sysfs)
    assert result.driver_version == "470.82.01" and result.devices[0].name == "Tesla T4"


def test_cuda_version_text() -> None:
    assert cuda_version_text(12040) == "12.4" and cuda_version_text(13010) == "13.1"
    assert cuda_version_text(None) is None
