"""What a remote run is asked to do: accelerators, durations, kernel references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import RemoteOptionError

HOUR = 3600.0
DEFAULT_TIMEOUT = 12 * HOUR  # Kaggle's longest notebook session
SESSION_CEILING = {"cpu": 12 * HOUR, "gpu": 12 * HOUR, "tpu": 9 * HOUR}


@dataclass(frozen=True)
class Accelerator:
    name: str  # what the user typed: none, gpu, t4x2, l4, a100, h100, tpu
    shape: str | None  # Kaggle's machineShape; None runs on CPU
    kind: str  # "cpu", "gpu" or "tpu"
    label: str


ACCELERATORS = {
    "none": Accelerator("none", None, "cpu", "CPU"),
    "gpu": Accelerator("gpu", "NvidiaTeslaT4", "gpu", "GPU T4 x2"),
    "t4x2": Accelerator("t4x2", "NvidiaTeslaT4", "gpu", "GPU T4 x2"),
    "l4": Accelerator("l4", "NvidiaL4", "gpu", "GPU L4"),
    "a100": Accelerator("a100", "NvidiaTeslaA100", "gpu", "GPU A100"),
    "h100": Accelerator("h100", "NvidiaH100", "gpu", "GPU H100"),
    "tpu": Accelerator("tpu", "TpuV5E8", "tpu", "TPU v5e-8"),
}

# Shapes Kaggle retired. Kaggle still accepts a push asking for one and runs it elsewhere, so
# asking for one is refused here with the reason rather than sent (or quietly renamed).
RETIRED = {
    "p100": "the P100 GPU was retired: Kaggle runs such a push on T4 x2 instead, and the"
    " PyTorch in Kaggle's image has no kernels for the P100 anyway",
    "nvidiateslap100": "the P100 GPU was retired: Kaggle runs such a push on T4 x2 instead",
    "t4": "a single T4 is not offered: Kaggle's T4 machine has two (--accelerator gpu)",
    "tpuv38": "TPU v3-8 was retired: Kaggle runs such a push on TPU v5e-8 instead",
    "tpu1vmv38": "TPU v3-8 was retired: Kaggle runs such a push on TPU v5e-8 instead",
    "tpuv232": "TPU v2 pods were retired: Kaggle runs such a push on a CPU instead",
    "tpuv2256": "TPU v2 pods were retired: Kaggle runs such a push on a CPU instead",
}


def shape_label(shape: str | None) -> str:
    """What a machine shape Kaggle reports is called here (``NvidiaTeslaT4`` -> GPU T4 x2)."""
    if not shape:
        return ACCELERATORS["none"].label
    return next((a.label for a in ACCELERATORS.values() if a.shape == shape), shape)


def accelerator(name: str | None) -> Accelerator:
    key = (name or "none").strip().lower().replace("-", "").replace("_", "")
    if key in ACCELERATORS:
        return ACCELERATORS[key]
    choices = ", ".join(ACCELERATORS)
    if key in RETIRED:
        raise RemoteOptionError(
            f"--accelerator {name}: {RETIRED[key]}.",
            fix=f"Choose one of {choices} (gpu is Kaggle's default GPU, T4 x2).",
        )
    raise RemoteOptionError(f"--accelerator {name!r} is not one of {choices}.")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": HOUR, "d": 24 * HOUR}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``30m``, ``2h``, ``1h30m``, ``90s`` or a bare number of seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = text.strip().lower().replace(" ", "")
        parts = _DURATION.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise RemoteOptionError(
                f"--timeout {text!r} is not a duration.", fix="Write it like 30m, 2h or 1h30m."
            )
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise RemoteOptionError(f"--timeout {text!r} must be longer than zero.")
    return seconds


_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_REF = re.compile(rf"^(?P<owner>{_PART})/(?P<slug>{_PART})(?:/(?:versions/)?(?P<version>\d+))?$")


@dataclass(frozen=True)
class KernelRef:
    owner: str
    slug: str
    version: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/code/{self.ref}"

    @property
    def version_label(self) -> str | None:
        # Kaggle wants "v<N>"; a bare number answers 404.
        return f"v{self.version}" if self.version is not None else None


def kernel_ref(text: str) -> KernelRef:
    raw = text.strip().strip("'\"")
    for prefix in ("https://www.kaggle.com/code/", "https://kaggle.com/code/", "kaggle.com/code/"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    match = _REF.match(raw.strip("/"))
    if not match or ".." in raw:
        raise RemoteOptionError(
            f"{text!r} is not a Kaggle notebook.", fix="Write it OWNER/SLUG (or OWNER/SLUG/N)."
        )
    slug = match.group("slug")
    if len(slug) < 5:
        raise RemoteOptionError(f"{text!r}: Kaggle notebook slugs have at least 5 characters.")
    version = match.group("version")
    return KernelRef(match.group("owner"), slug, int(version) if version else None)


@dataclass(frozen=True)
class RunOptions:
    accelerator: str = "none"
    data: tuple[str, ...] = ()
    out: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    kernel: str | None = None
    internet: bool = True
    detach: bool = False
    quiet: bool = False
    include_hidden: bool = False
    session_timeout: float | None = None  # Kaggle stops the session after this; default ceiling

    @property
    def machine(self) -> Accelerator:
        return accelerator(self.accelerator)

    def session_seconds(self) -> int:
        ceiling = SESSION_CEILING[self.machine.kind]
        wanted = self.session_timeout if self.session_timeout is not None else ceiling
        return int(min(wanted, ceiling))
