"""TPU/ROCm/MPS detection from injected sysfs trees, and framework builds read from files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gpu_kit import P100, T4

from mlenv_magics.gpu.frameworks import detect_frameworks, runs_on
from mlenv_magics.gpu.tpu import detect_other_accelerators, detect_tpu


def pci_device(sysfs: Path, slot: str, vendor: str, device: str) -> None:
    folder = sysfs / "bus/pci/devices" / slot
    folder.mkdir(parents=True)
    (folder / "vendor").write_text(vendor + "\n")
    (folder / "device").write_text(device + "\n")


def test_tpu_chips_from_google_pci_ids(sysfs: Path) -> None:
    for n in range(4):
        pci_device(sysfs, f"0000:00:0{n}.0", "0x1ae0", "0x0063")
    pci_device(sysfs, "0000:00:1f.0", "0x10de", "0x1eb8")  # an NVIDIA device is not a TPU
    tpu = detect_tpu({"TPU_ACCELERATOR_TYPE": "v5litepod-4"}, str(sysfs))
    assert tpu is not None
    assert (tpu.chips, tpu.generation, tpu.source) == (4, "v5e", "pci")
    assert tpu.accelerator_type == "v5litepod-4"


def test_google_vendor_with_unknown_device_is_not_a_tpu(sysfs: Path) -> None:
    pci_device(sysfs, "0000:00:04.0", "0x1ae0", "0x0042")
    assert detect_tpu({}, str(sysfs)) is None


@pytest.mark.parametrize(
    ("env", "source"),
    [({"ISTPUVM": "1"}, "environment"), ({"COLAB_TPU_ADDR": "10.0.0.2:8470"}, "legacy")],
)
def test_host_tpu_signals(sysfs: Path, env: dict[str, str], source: str) -> None:
    tpu = detect_tpu(env, str(sysfs))
    assert tpu is not None and tpu.chips is None and tpu.source.startswith(source)


def test_tpu_report_requires_and_warns_about_torch_without_xla(report_for, sysfs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pci_device(sysfs, "0000:00:04.0", "0x1ae0", "0x006f")
    torch = fake_package(
        tmp_path, "torch", "version.py", "__version__ = '2.11.0+cpu'\ncuda = None\n"
    )
    report = report_for(None, env={"PATH": str(tmp_path)}, find_spec=finder({"torch": torch}))
    report.check(require="tpu")
    report.check(require="accelerator")
    assert report.guidance == ""
    assert any("torch_xla" in w for w in report.warnings)
    assert report.to_dict()["tpu"]["generation"] == "v6e"


def test_rocm_and_mps(sysfs: Path) -> None:
    node = sysfs / "class/kfd/kfd/topology/nodes"
    (node / "0").mkdir(parents=True)
    (node / "0/properties").write_text("cpu_cores_count 16\ngfx_target_version 0\n")
    (node / "1").mkdir()
    (node / "1/properties").write_text("simd_count 80\ngfx_target_version 110501\n")
    [rocm] = detect_other_accelerators(str(sysfs), lambda p: p == "/dev/kfd", "Linux", "x86_64")
    assert (rocm.kind, rocm.count, rocm.detail) == ("rocm", 1, "gfx1151")
    [mps] = detect_other_accelerators(str(sysfs), lambda p: False, "Darwin", "arm64", lambda n: "0")
    assert mps.kind == "mps"
    assert (
        detect_other_accelerators(str(sysfs), lambda p: False, "Darwin", "arm64", lambda n: "1")
        == []
    )


# Frameworks, read from their files without importing them.


def fake_package(root: Path, name: str, relative: str, text: str) -> Path:
    folder = root / "site" / name
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_text(text)
    return folder


def finder(packages: dict[str, Path]) -> Any:
    def find_spec(name: str) -> Any:
        folder = packages.get(name)
        return SimpleNamespace(submodule_search_locations=[str(folder)]) if folder else None

    return find_spec


TORCH_CU128 = (
    "from typing import Optional\n"
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n"
    "__version__ = '2.11.0+cu128'\n"
    "debug = False\n"
    "cuda: Optional[str] = '12.8'\n"
    "git_version = 'abc'\n"
    "hip: Optional[str] = None\n"
    "xpu: Optional[str] = None\n"
)
TF_BUILD_INFO = (
    "import platform as _platform\n"
    "build_info = {'cuda_version': '12.5.1', 'cudnn_version': '9',"
    " 'cuda_compute_capabilities': ['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90'],"
    " 'is_cuda_build': True, 'is_rocm_build': False}\n"
)


def test_torch_tensorflow_and_jax_from_package_files(tmp_path: Path) -> None:
    packages = {
        "torch": fake_package(tmp_path, "torch", "version.py", TORCH_CU128),
        "tensorflow": fake_package(
            tmp_path, "tensorflow", "python/platform/build_info.py", TF_BUILD_INFO
        ),
        "jax": fake_package(tmp_path, "jax", "version.py", "_version = '0.7.2'\n"),
        "jax_cuda12_plugin": fake_package(tmp_path, "jax_cuda12_plugin", "__init__.py", ""),
    }
    found = {f.name: f for f in detect_frameworks(finder(packages), {})}
    assert (found["torch"].version, found["torch"].cuda, found["torch"].accelerator) == (
        "2.11.0+cu128",
        "12.8",
        "cuda",
    )
    assert found["tensorflow"].cuda == "12.5.1" and "sm_60" in (found["tensorflow"].arch_list or [])
    assert (found["jax"].version, found["jax"].accelerator) == ("0.7.2", "cuda")
    assert runs_on(found["torch"], "6.0") is False
    assert runs_on(found["torch"], "7.5") is True
    assert runs_on(found["torch"], "12.0") is True
    assert runs_on(found["tensorflow"], "6.0") is True
    assert runs_on(found["tensorflow"], "9.0") is True  # PTX of compute_90
    assert runs_on(found["tensorflow"], "8.6") is True  # sm_80 cubins run on 8.6


def test_an_imported_framework_is_asked_directly(tmp_path: Path) -> None:
    torch = fake_package(tmp_path, "torch", "version.py", TORCH_CU128)
    imported = SimpleNamespace(
        cuda=SimpleNamespace(is_available=lambda: True, get_arch_list=lambda: ["sm_50", "sm_60"]),
        backends=SimpleNamespace(),
    )
    [info] = detect_frameworks(finder({"torch": torch}), {"torch": imported})
    assert info.imported and info.available
    assert info.arch_list == ["sm_50", "sm_60"] and runs_on(info, "6.0") is True


def test_kaggle_p100_with_cu128_torch_warns(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch = fake_package(tmp_path, "torch", "version.py", TORCH_CU128)
    report = report_for(
        P100, env={"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, find_spec=finder({"torch": torch})
    )
    assert report.host == "kaggle" and report.has_gpu
    [warning] = [w for w in report.warnings if "no kernels" in w]
    assert "Tesla P100-PCIE-16GB" in warning and "sm_60" in warning
    assert "no kernel image is available" in warning
    assert "no kernels" in repr(report)


def test_t4_with_the_same_torch_has_no_warning(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch = fake_package(tmp_path, "torch", "version.py", TORCH_CU128)
    report = report_for(T4, find_spec=finder({"torch": torch}))
    # The T4 capture's driver supports CUDA 11.7 only: older than the cu128 build.
    assert not any("no kernels" in w for w in report.warnings)
    assert any("only supports CUDA 11.7" in w for w in report.warnings)


def test_cpu_only_torch_on_a_gpu_machine_says_how_to_fix(report_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch = fake_package(
        tmp_path, "torch", "version.py", "__version__ = '2.13.0+cpu'\ncuda = None\nhip = None\n"
    )
    report = report_for(T4, find_spec=finder({"torch": torch}))
    assert any("CPU-only build" in w and "download.pytorch.org" in w for w in report.warnings)
