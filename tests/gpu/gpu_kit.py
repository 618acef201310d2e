"""GPU test helpers: the fake nvidia-smi on PATH, injected environments, fixture paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mlenv_magics.runtime import Runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SMI_DIR = FIXTURES / "nvidia-smi"
FAKE_BIN = FIXTURES / "bin"

T4 = SMI_DIR / "t4-from-influxdata-telegraf.xml"
A100_MIG = SMI_DIR / "a100-sxm4-80gb-mig-x4-from-influxdata-telegraf.xml"
H100 = SMI_DIR / "h100-80gb-hbm3-capture-from-utkuozdemir-nvidia_gpu_exporter.txt"
H100_MIG = SMI_DIR / "h100-mig-capture-from-utkuozdemir-nvidia_gpu_exporter.txt"
P100 = SMI_DIR / "p100-kaggle-synthetic.xml"

NVIDIA_FILES = {"/dev/nvidiactl", "/dev/nvidia0"}


def fake_path() -> str:
    """PATH with the fake nvidia-smi first and a python3 for its shebang."""
    return os.pathsep.join([str(FAKE_BIN), os.path.dirname(sys.executable), "/usr/bin", "/bin"])


def smi_env(fixture: Path | None, **extra: str) -> dict[str, str]:
    env = {"PATH": fake_path(), "HOME": "/nonexistent"}
    if fixture is not None:
        env["MLENV_FAKE_SMI_FIXTURE"] = str(fixture)
    env.update(extra)
    return env


def with_nvidia_files(path: str) -> bool:
    return path in NVIDIA_FILES


def no_nvidia_files(path: str) -> bool:
    return False


def no_packages(name: str) -> Any:
    return None


def local_runtime(frontend: str = "python") -> Runtime:
    return Runtime(host="local", frontend=frontend)


def changing_t4(folder: Path, steps: int = 4) -> str:
    """``steps`` (at most 8) variants of the real T4 capture whose memory use, utilization
    and power climb from one to the next; for ``MLENV_FAKE_SMI_FIXTURE`` (os.pathsep-joined)."""
    assert 1 <= steps <= 8
    text = T4.read_text(encoding="utf-8")
    paths = []
    for step in range(steps):
        variant = (
            text.replace("<used>1032 MiB</used>", f"<used>{1032 + 1800 * step} MiB</used>")
            .replace("<gpu_util>0 %</gpu_util>", f"<gpu_util>{12 * step} %</gpu_util>")
            .replace(
                "<power_draw>26.78 W</power_draw>", f"<power_draw>{27 + 5 * step} W</power_draw>"
            )
        )
        target = folder / f"t4-step{step}.xml"
        target.write_text(variant, encoding="utf-8")
        paths.append(str(target))
    return os.pathsep.join(paths)
