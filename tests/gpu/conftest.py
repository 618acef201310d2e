"""GPU test fixtures: empty sysfs trees and reports built from the fake nvidia-smi."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gpu_kit import no_packages, smi_env, with_nvidia_files


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    (root / "bus/pci/devices").mkdir(parents=True)
    return root


@pytest.fixture
def report_for(sysfs: Path) -> Callable[..., Any]:
    """``report_for(fixture, **overrides)``: a report from the fake nvidia-smi (no NVML)."""
    from mlenv_magics.gpu import gpu_report

    def build(fixture: Path | None, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "env": smi_env(fixture, **(env or {})),
            "sysfs_root": str(sysfs),
            "path_exists": with_nvidia_files,
            "nvml": False,
            "find_spec": no_packages,
            "modules": {},
            "system": "linux",
            "pid": 5762,
        }
        options.update(kwargs)
        return gpu_report(**options)

    return build
