"""Which installed framework can use the GPU, read from package files without importing them.

``import torch`` costs seconds, so torch's ``version.py``, TensorFlow's ``build_info.py``
and the JAX plugin modules are located with ``find_spec`` and read as text. A framework
that the user already imported is asked directly.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FindSpec = Callable[[str], Any]

# Architectures in PyTorch's Linux CUDA wheels by their CUDA version (torch 2.8 build script).
_TORCH_WHEEL_ARCH_RANGES = {(12, 8): ("7.0", "12.0"), (12, 6): ("5.0", "9.0")}

# Compute capability by product name, for nvidia-smi builds too old to report compute_cap.
_CAPABILITY_BY_NAME = (
    ("RTX PRO 6000", "12.0"),
    ("B200", "10.0"),
    ("H200", "9.0"),
    ("H100", "9.0"),
    ("L40", "8.9"),
    ("L4", "8.9"),
    ("A10G", "8.6"),
    ("A100", "8.0"),
    ("T4", "7.5"),
    ("V100", "7.0"),
    ("P100", "6.0"),
    ("P4", "6.1"),
    ("K80", "3.7"),
)


def capability_from_name(name: str | None) -> str | None:
    if not name:
        return None
    for marker, capability in _CAPABILITY_BY_NAME:
        if marker in name:
            return capability
    return None


@dataclass
class FrameworkInfo:
    name: str
    version: str | None = None
    cuda: str | None = None
    hip: str | None = None
    arch_list: list[str] | None = None
    arch_source: str | None = None
    accelerator: str = "cpu"
    imported: bool = False
    available: bool | None = None
    extras: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "cuda": self.cuda,
            "hip": self.hip,
            "accelerator": self.accelerator,
            "arch_list": self.arch_list,
            "arch_source": self.arch_source,
            "imported": self.imported,
            "available": self.available,
            "extras": list(self.extras),
        }

    @property
    def summary(self) -> str:
        parts = [f"{self.name} {self.version or '?'}"]
        if self.accelerator == "cuda":
            parts.append(f"CUDA {self.cuda} build" if self.cuda else "CUDA build")
        elif self.accelerator == "rocm":
            parts.append(f"ROCm {self.hip} build")
        elif self.accelerator == "tpu":
            parts.append("TPU support")
        else:
            parts.append("CPU-only build")
        if self.available is not None:
            parts.append("sees a device" if self.available else "sees no device")
        parts.extend(self.extras)
        return ", ".join(parts)


def _package_dir(name: str, find_spec: FindSpec) -> str | None:
    try:
        spec = find_spec(name)
    except (ImportError, ValueError):
        return None
    locations = getattr(spec, "submodule_search_locations", None) if spec else None
    return next(iter(locations), None) if locations else None


def read_assignments(path: str) -> dict[str, Any]:
    """Top-level ``name = literal`` (and annotated) assignments of a Python file, unexecuted."""
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return {}
    values: dict[str, Any] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and value is not None:
                literal = _literal(value)
                if literal is not _MISSING:
                    values[target.id] = literal
    return values


_MISSING = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        pass
    if isinstance(node, ast.Call) and node.args and not node.keywords:  # OrderedDict([...])
        try:
            return dict(ast.literal_eval(node.args[0]))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return _MISSING
    return _MISSING


def _torch(find_spec: FindSpec, modules: Mapping[str, Any]) -> FrameworkInfo | None:
    package = _package_dir("torch", find_spec)
    if package is None:
        return None
    facts = read_assignments(os.path.join(package, "version.py"))
    info = FrameworkInfo("torch", version=facts.get("__version__"))
    info.cuda, info.hip = facts.get("cuda"), facts.get("hip")
    if info.cuda:
        info.accelerator = "cuda"
        arch_range = _wheel_arch_range(info.cuda)
        if arch_range:
            low, high = arch_range
            info.arch_list = [f"sm_{low.replace('.', '')}..sm_{high.replace('.', '')}"]
            info.arch_source = "expected for this CUDA version's wheels"
    elif info.hip:
        info.accelerator = "rocm"
    elif facts.get("xpu"):
        info.accelerator = "xpu"
    if _package_dir("torch_xla", find_spec):
        info.extras.append("torch_xla installed")
    torch = modules.get("torch")
    if torch is not None:
        info.imported = True
        try:
            info.available = bool(torch.cuda.is_available())
            if info.available:
                info.arch_list = list(torch.cuda.get_arch_list())
                info.arch_source = "torch.cuda.get_arch_list()"
            mps = getattr(getattr(torch, "backends", None), "mps", None)
            if mps is not None and mps.is_available():
                info.accelerator, info.available = "mps", True
        except Exception as exc:  # a broken CUDA setup must not break the report
            info.extras.append(f"torch.cuda failed: {type(exc).__name__}")
    return info


def _wheel_arch_range(cuda: str) -> tuple[str, str] | None:
    try:
        major, minor = (int(part) for part in cuda.split(".")[:2])
    except ValueError:
        return None
    if (major, minor) >= (12, 8):
        return _TORCH_WHEEL_ARCH_RANGES[(12, 8)]
    return _TORCH_WHEEL_ARCH_RANGES.get((major, minor))


def _tensorflow(find_spec: FindSpec, modules: Mapping[str, Any]) -> FrameworkInfo | None:
    package = _package_dir("tensorflow", find_spec)
    if package is None:
        return None
    version = read_assignments(os.path.join(package, "python/framework/versions.py")).get(
        "__version__"
    ) or read_assignments(os.path.join(package, "tools/pip_package/setup.py")).get("_VERSION")
    facts = read_assignments(os.path.join(package, "python/platform/build_info.py"))
    nested = facts.get("build_info")
    build: dict[str, Any] = nested if isinstance(nested, dict) else facts
    info = FrameworkInfo("tensorflow", version=version)
    if build.get("is_cuda_build"):
        info.accelerator = "cuda"
        info.cuda = build.get("cuda_version")
        capabilities = build.get("cuda_compute_capabilities")
        if isinstance(capabilities, list | tuple):
            info.arch_list = [str(c) for c in capabilities]
            info.arch_source = "build_info.py"
    elif build.get("is_rocm_build"):
        info.accelerator = "rocm"
    tf = modules.get("tensorflow")
    if tf is not None:
        info.imported = True
        try:
            info.available = bool(tf.config.list_physical_devices("GPU"))
        except Exception as exc:
            info.extras.append(f"tf.config failed: {type(exc).__name__}")
    return info


def _jax(find_spec: FindSpec, modules: Mapping[str, Any]) -> FrameworkInfo | None:
    package = _package_dir("jax", find_spec)
    if package is None:
        return None
    facts = read_assignments(os.path.join(package, "version.py"))
    info = FrameworkInfo("jax", version=facts.get("_version") or facts.get("__version__"))
    for major in (13, 12):
        if _package_dir(f"jax_cuda{major}_plugin", find_spec) or _module_exists(
            f"jax_plugins.xla_cuda{major}", find_spec
        ):
            info.accelerator, info.cuda = "cuda", f"{major}"
            info.extras.append(f"jax-cuda{major}-plugin")
            break
    else:
        if _package_dir("libtpu", find_spec):
            info.accelerator = "tpu"
            info.extras.append("libtpu")
        elif _package_dir("jax_rocm60_plugin", find_spec):
            info.accelerator = "rocm"
    jax = modules.get("jax")
    if jax is not None:
        info.imported = True
        try:
            info.available = jax.default_backend() != "cpu"
        except Exception as exc:
            info.extras.append(f"jax backend failed: {type(exc).__name__}")
    return info


def _module_exists(name: str, find_spec: FindSpec) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def detect_frameworks(
    find_spec: FindSpec | None = None, modules: Mapping[str, Any] | None = None
) -> list[FrameworkInfo]:
    find_spec = importlib.util.find_spec if find_spec is None else find_spec
    modules = sys.modules if modules is None else modules
    found = []
    for reader in (_torch, _tensorflow, _jax):
        info = reader(find_spec, modules)
        if info is not None:
            found.append(info)
    return found


def _capability_tuple(text: str) -> tuple[int, int] | None:
    try:
        major, minor = text.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def _arch_tuple(arch: str) -> tuple[str, tuple[int, int]] | None:
    kind, _, digits = arch.partition("_")
    if not digits.isdigit() or len(digits) < 2:
        return None
    return kind, (int(digits[:-1]), int(digits[-1]))


def runs_on(info: FrameworkInfo, capability: str) -> bool | None:
    """Whether the framework build has kernels for ``capability``; ``None`` when unknown."""
    target = _capability_tuple(capability)
    if target is None or not info.arch_list:
        return None
    if len(info.arch_list) == 1 and ".." in info.arch_list[0]:
        low_text, high_text = info.arch_list[0].split("..")
        low, high = _arch_tuple(low_text), _arch_tuple(high_text)
        if low is None or high is None:
            return None
        # Beyond the top architecture, PTX of the top one still JIT-compiles forward.
        return target >= low[1]
    for arch in info.arch_list:
        parsed = _arch_tuple(arch)
        if parsed is None:
            continue
        kind, version = parsed
        if kind == "sm" and version[0] == target[0] and version[1] <= target[1]:
            return True
        if kind == "compute" and version <= target:
            return True
    return False


def compatibility_warnings(
    frameworks: list[FrameworkInfo],
    devices: list[Any],
    driver_cuda: str | None,
) -> list[str]:
    """The framework-vs-GPU traps: missing kernels for this GPU, a driver older than the build."""
    warnings: list[str] = []
    usable = [d for d in devices if d.usable and d.compute_capability]
    seen: set[tuple[str, str]] = set()
    for info in frameworks:
        if info.accelerator != "cuda":
            continue
        for device in usable:
            key = (info.name, device.compute_capability)
            if key in seen:
                continue
            seen.add(key)
            if runs_on(info, device.compute_capability) is False:
                sm = "sm_" + device.compute_capability.replace(".", "")
                warnings.append(
                    f"{info.name} {info.version} has no kernels for {device.name} ({sm},"
                    f" compute capability {device.compute_capability}): CUDA reports the GPU,"
                    " then the first operation fails with 'no kernel image is available'."
                    f" Use a GPU this build supports, or install a {info.name} build for {sm}."
                )
        framework_major = _major(info.cuda)
        driver_major = _major(driver_cuda)
        if framework_major and driver_major and driver_major < framework_major and usable:
            warnings.append(
                f"{info.name} {info.version} is built for CUDA {info.cuda}, but the driver only"
                f" supports CUDA {driver_cuda}. Update the NVIDIA driver or install a build for"
                f" CUDA {driver_major}."
            )
    return warnings


def _major(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None
