"""The nvidia-smi fallback: the fake nvidia-smi on PATH replays real captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpu_kit import A100_MIG, H100, H100_MIG, P100, T4, no_nvidia_files

from mlenv_magics.gpu.smi_xml import SmiUnavailable, parse_smi_xml


def test_t4_dtd_v11_power_readings_and_processes(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4)
    assert report.backend == "nvidia-smi"
    assert (report.driver_version, report.cuda_version) == ("515.105.01", "11.7")
    [gpu] = report.devices
    assert gpu.name == "Tesla T4"
    assert gpu.uuid == "GPU-d37e67a5-91dd-3774-a5cb-99096249601a"
    assert (gpu.memory_total_mib, gpu.memory_used_mib) == (15360, 1032)
    assert (gpu.utilization_pct, gpu.temperature_c) == (0, 40)
    assert (gpu.power_w, gpu.power_limit_w) == (26.78, 70.0)
    assert gpu.compute_capability == "7.5"  # this nvidia-smi has no compute_cap: from the name
    assert [(p.pid, p.used_memory_mib, p.name) for p in gpu.processes] == [
        (675, 22, "/usr/lib/xorg/Xorg"),
        (5762, 1005, "python"),
    ]
    owners = {p.pid: p.owner for p in gpu.processes}
    assert owners[5762] == "this kernel" and owners[675] != "this kernel"


def test_a100_mig_dtd_v12_slices_are_their_own_devices(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(A100_MIG)
    parent, *slices = report.devices
    assert parent.mig_enabled and parent.mig is None
    assert parent.utilization_pct is None and parent.gap("utilization_pct") == "MIG"
    assert (parent.power_w, parent.power_limit_w) == (67.03, 500.0)
    assert [s.mig.gpu_instance_id for s in slices] == [3, 4, 5, 6]
    assert {s.memory_total_mib for s in slices} == {19968}
    assert all(s.utilization_pct is None for s in slices)
    assert [s.label for s in slices] == ["0:mig0", "0:mig1", "0:mig2", "0:mig3"]
    assert [d.usable for d in report.devices] == [False, True, True, True, True]
    assert "4 attached GPUs but described 1" in " ".join(report.notes)
    text = repr(report)
    assert "n/a (MIG)" in text and " 0 %" not in text


@pytest.mark.parametrize("phase", ["load", "idle"])
def test_h100_text_capture_replayed_as_xml(report_for, phase: str) -> None:  # type: ignore[no-untyped-def]
    report = report_for(H100, env={"MLENV_FAKE_SMI_SECTION": phase})
    [gpu] = report.devices
    assert (report.driver_version, report.cuda_version) == ("590.48.01", "13.1")
    assert gpu.name == "NVIDIA H100 80GB HBM3" and gpu.memory_total_mib == 81559
    assert gpu.compute_capability == "9.0"  # from the CSV query this nvidia-smi answers
    assert gpu.power_limit_w == 700.0
    if phase == "load":
        assert (gpu.memory_used_mib, gpu.utilization_pct, gpu.power_w) == (19818, 100, 629.45)
        assert [p.pid for p in gpu.processes] == [11327, 11328, 11345]
    else:
        assert (gpu.memory_used_mib, gpu.utilization_pct, gpu.temperature_c) == (0, 0, 41)
        assert gpu.processes == []


def test_h100_mig_processes_land_on_their_slice(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(H100_MIG)
    parent, *slices = report.devices
    assert parent.mig_enabled and parent.temperature_c == 53
    assert [s.memory_total_mib for s in slices] == [40448, 20096, 9984, 9984]
    assert slices[0].memory_used_mib == 11091
    assert sorted(p.pid for p in slices[0].processes) == [21180, 21181, 21198]
    assert all(not s.processes for s in slices[1:])
    assert all(s.compute_capability == "9.0" for s in slices)


def test_p100_not_supported_power_is_unknown_not_zero(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(P100)
    [gpu] = report.devices
    assert gpu.power_w is None and gpu.power_limit_w == 250.0
    assert gpu.compute_capability == "6.0"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["devices"][0]["power_w"] is None


@pytest.mark.parametrize(
    "value", ["N/A", "[N/A]", "[Not Supported]", "[Requested functionality has been deprecated]"]
)
def test_every_no_value_form_becomes_none(value: str) -> None:
    xml = (
        "<nvidia_smi_log><driver_version>1</driver_version><gpu id='0'>"
        f"<product_name>X</product_name><temperature><gpu_temp>{value}</gpu_temp></temperature>"
        f"<fb_memory_usage><total>{value}</total><used>5 MiB</used></fb_memory_usage>"
        "</gpu></nvidia_smi_log>"
    )
    [gpu] = parse_smi_xml(xml).devices
    assert gpu.temperature_c is None and gpu.memory_total_mib is None
    assert gpu.memory_used_mib == 5


def test_broken_xml_is_reported_not_raised_raw() -> None:
    with pytest.raises(SmiUnavailable, match="could not be read"):
        parse_smi_xml("<nvidia_smi_log><gpu>")


def test_driver_failure_exit_code_gives_backend_none_with_the_message(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(T4, env={"MLENV_FAKE_SMI_EXIT": "9"})
    assert report.backend == "none" and report.devices == []
    assert any("exit 9" in n and "couldn't communicate" in n for n in report.notes)
    assert "couldn't communicate" not in report.guidance  # said once, as the reason
    assert repr(report).count("couldn't communicate") == 1


def test_missing_nvidia_smi_gives_backend_none(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = report_for(None, env={"PATH": str(tmp_path)})
    assert report.backend == "none"
    assert "nvidia-smi is not on PATH" in report.notes


def test_no_device_files_skip_nvml_not_nvidia_smi(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nvml_replay import ReplayNvml, t4

    log = tmp_path / "calls.log"
    nvml = ReplayNvml(t4())
    report = report_for(
        P100, env={"MLENV_FAKE_SMI_LOG": str(log)}, path_exists=no_nvidia_files, nvml=nvml
    )
    assert nvml.count("nvmlInit") == 0
    assert report.backend == "nvidia-smi" and "P100" in (report.devices[0].name or "")
    assert log.read_text().splitlines()[0] == "-q -x"
    assert not any("device files" in note for note in report.notes)


def test_no_device_files_nor_nvidia_smi(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = report_for(None, env={"PATH": str(tmp_path)}, path_exists=no_nvidia_files)
    assert report.backend == "none"
    assert "no NVIDIA device files" in report.notes[0]
    assert "nvidia-smi is not on PATH" in report.notes


def test_backend_switch_forces_nvidia_smi_without_device_files(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "calls.log"
    report = report_for(
        T4,
        env={"MLENV_GPU_BACKEND": "nvidia-smi", "MLENV_FAKE_SMI_LOG": str(log)},
        path_exists=no_nvidia_files,
        nvml=None,
    )
    assert report.backend == "nvidia-smi"
    assert log.read_text().splitlines()[0] == "-q -x"
