"""``%mlenv``: what this runtime is, in one report."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import credentials, render
from .runtime import PathExists, Runtime, data_roots, detect_runtime

# Distribution names, read from package metadata; nothing here is imported.
PACKAGES = (
    "ipython",
    "ipykernel",
    "ipywidgets",
    "tqdm",
    "kaggle",
    "kagglehub",
    "pydrive2",
    "nvidia-ml-py",
    "torch",
    "tensorflow",
    "jax",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass(frozen=True)
class RuntimeReport:
    runtime: Runtime
    python: str
    platform: str
    packages: dict[str, str | None]
    accelerators: list[str]
    data_roots: dict[str, str]
    credentials: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.runtime.to_dict(),
            "python": self.python,
            "platform": self.platform,
            "packages": dict(self.packages),
            "accelerators": list(self.accelerators),
            "data_roots": dict(self.data_roots),
            "credentials": {k: list(v) for k, v in self.credentials.items()},
        }

    def _pairs(self) -> list[tuple[str, object]]:
        rt = self.runtime
        host = rt.host_label + (f", {rt.run_type} run" if rt.run_type else "")
        if rt.forced:
            host += " (forced by MLENV_RUNTIME)"
        installed = ", ".join(f"{k} {v}" for k, v in self.packages.items() if v) or "none"
        missing = ", ".join(k for k, v in self.packages.items() if not v)
        pairs: list[tuple[str, object]] = [
            ("host", host),
            ("frontend", rt.frontend_label),
            ("python", f"{self.python} ({self.platform})"),
            ("packages", installed),
        ]
        if missing:
            pairs.append(("not installed", missing))
        pairs.append(("accelerators", ", ".join(self.accelerators) or "none found"))
        pairs += [(f"data: {k}", v) for k, v in self.data_roots.items()]
        for service, names in self.credentials.items():
            pairs.append((f"{service} credentials", ", ".join(names) or "none found"))
        return pairs

    def __repr__(self) -> str:
        return "mlenv runtime\n" + render.key_values_text(self._pairs())

    def _repr_html_(self) -> str:
        return render.box("mlenv runtime", render.key_values_html(self._pairs()))


def quick_accelerators(path_exists: PathExists = os.path.exists) -> list[str]:
    """Cheap file-system signs of accelerators, without loading any library."""
    found = []
    if path_exists("/dev/nvidiactl") or path_exists("/dev/nvidia0"):
        found.append("NVIDIA GPU device files")
    if path_exists("/dev/dxg"):
        found.append("WSL GPU (/dev/dxg)")
    if path_exists("/dev/kfd"):
        found.append("AMD ROCm (/dev/kfd)")
    if path_exists("/dev/accel0") or path_exists("/dev/vfio/0"):
        found.append("TPU or accel device files")
    return found


def runtime_report(env: Mapping[str, str] | None = None, shell: Any = None) -> RuntimeReport:
    env = os.environ if env is None else env
    runtime = detect_runtime(env, shell=shell)
    return RuntimeReport(
        runtime=runtime,
        python=platform.python_version(),
        platform=f"{sys.platform}-{platform.machine()}",
        packages=package_versions(),
        accelerators=quick_accelerators(),
        data_roots=data_roots(runtime, env),
        credentials={
            "kaggle": [s.name for s in credentials.kaggle_sources(env)],
            "drive": [s.name for s in credentials.drive_sources(env)],
        },
    )
