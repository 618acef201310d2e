"""What the GPU view says, decided once for the text table, the static HTML and the widgets.

Pure functions of a :class:`~mlenv_magics.gpu.report.GpuReport`: the status line (what you
have, in one glance), one card per device with its meters, the processes, and the sections
below, each fact said once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..render import NA
from .model import GpuDevice, GpuProcess

if TYPE_CHECKING:
    from .report import GpuReport

BACKEND_LABELS = {"nvml": "NVML", "nvidia-smi": "nvidia-smi", "none": "no GPU backend"}


@dataclass(frozen=True)
class Status:
    kind: str  # "ok", "warn" or "missing"
    headline: str
    context: str
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class Meter:
    """One measured quantity: its text, and how full its bar is (``None``: no bar)."""

    text: str
    fraction: float | None = None

    @property
    def percent(self) -> float | None:
        if self.fraction is None:
            return None
        return round(100 * max(0.0, min(1.0, self.fraction)), 1)


@dataclass(frozen=True)
class Card:
    label: str
    title: str
    name: str
    badges: tuple[str, ...]
    memory: Meter
    utilization: Meter
    power: Meter
    temperature: str
    usable: bool
    slices: tuple[Card, ...] = field(default=())
    processes: tuple[tuple[str, bool], ...] = field(default=())  # (text, this kernel's own)


def gib(mib: int | None) -> str:
    if mib is None:
        return NA
    value = mib / 1024
    return f"{value:.0f} GiB" if abs(value - round(value)) < 0.05 else f"{value:.1f} GiB"


def _mig_profile(device: GpuDevice) -> str | None:
    name = device.name or ""
    if " MIG " in name:
        profile = name.rsplit(" MIG ", 1)[1].strip()
        if profile and profile != "slice":
            return profile
    return None


def _what(report: GpuReport) -> str:
    gpus = report.gpus
    slices = [d for d in gpus if d.mig is not None]
    whole = [d for d in gpus if d.mig is None]
    parts = []
    if whole:
        names: dict[str, int] = {}
        for device in whole:
            names[device.name or "NVIDIA GPU"] = names.get(device.name or "NVIDIA GPU", 0) + 1
        parts += [name if n == 1 else f"{n} x {name}" for name, n in names.items()]
    if slices:
        parents = {d.index: d for d in report.devices if d.mig is None}
        for index in dict.fromkeys(d.index for d in slices):
            parent = parents.get(index)
            count = sum(1 for d in slices if d.index == index)
            noun = "MIG slice" if count == 1 else "MIG slices"
            parts.append(f"{count} {noun} of {parent.name if parent else 'a GPU'}")
    return " + ".join(parts)


def _memory_phrase(devices: Sequence[GpuDevice]) -> str | None:
    totals = {d.memory_total_mib for d in devices if d.memory_total_mib is not None}
    if not totals:
        return None
    if len(totals) == 1:
        return gib(totals.pop()) + (" each" if len(devices) > 1 else "")
    return " / ".join(gib(d.memory_total_mib) for d in devices)


def _framework_phrase(report: GpuReport) -> tuple[str | None, bool]:
    """``("torch can use it", False)``; the flag says the phrase is a problem."""
    torch = next((f for f in report.frameworks if f.name == "torch"), None)
    if torch is None:
        return None, False
    if torch.accelerator != "cuda":
        return "torch is a CPU-only build", True
    if any(w.startswith(f"torch {torch.version}") for w in report.warnings):
        return "torch cannot use it (see below)", True
    return "torch can use it", False


def context_line(report: GpuReport) -> str:
    parts = ["GPU report", report.host_label]
    if report.backend != "none":
        parts.append(BACKEND_LABELS.get(report.backend, report.backend))
    if report.driver_version:
        parts.append(f"driver {report.driver_version}")
    return " · ".join(parts)


def status(report: GpuReport) -> Status:
    context = context_line(report)
    if report.has_gpu:
        parts = [_what(report)]
        memory = _memory_phrase(report.gpus)
        if memory:
            parts.append(memory)
        if report.cuda_version:
            parts.append(f"CUDA {report.cuda_version}")
        phrase, problem = _framework_phrase(report)
        if phrase:
            parts.append(phrase)
        kind = "warn" if problem or report.warnings else "ok"
        return Status(kind, " · ".join(parts), context)
    if report.tpu is not None:
        t = report.tpu
        kind_name = t.accelerator_type or (f"TPU {t.generation}" if t.generation else "TPU")
        chips = f"{t.chips} chip{'s' if t.chips != 1 else ''}" if t.chips else "detected"
        return Status("warn" if report.warnings else "ok", f"{kind_name} · {chips}", context)
    if report.other:
        names = " + ".join(a.name for a in report.other)
        return Status("ok", names, context)
    hidden = [d for d in report.devices if d.cuda_visible is False]
    if hidden:
        noun = "GPU" if len(hidden) == 1 else "GPUs"
        return Status(
            "missing",
            f"No GPU visible to CUDA: CUDA_VISIBLE_DEVICES hides {len(hidden)} {noun}",
            context,
        )
    return Status("missing", "No NVIDIA GPU found", context, tuple(dict.fromkeys(report.notes)))


def _memory_meter(device: GpuDevice) -> Meter:
    used, total = device.memory_used_mib, device.memory_total_mib
    if total and used is not None:
        return Meter(f"{gib_pair(used, total)} ({round(100 * used / total)} %)", used / total)
    if total:
        return Meter(f"{NA} / {gib(total)}")
    return Meter(NA)


def gib_pair(used_mib: int, total_mib: int) -> str:
    """``"1.0 / 15.0 GiB"``; under 1 GiB used, ``"12 MiB / 19.5 GiB"``."""
    if used_mib < 1024:
        return f"{used_mib} MiB / {total_mib / 1024:.1f} GiB"
    return f"{used_mib / 1024:.1f} / {total_mib / 1024:.1f} GiB"


def _gap_text(device: GpuDevice, attr: str) -> str:
    return f"{NA} (MIG)" if (device.gap(attr) or "").startswith("MIG") else NA


def _utilization_meter(device: GpuDevice) -> Meter:
    if device.utilization_pct is None:
        return Meter(_gap_text(device, "utilization_pct"))
    return Meter(f"{device.utilization_pct} %", device.utilization_pct / 100)


def _power_meter(device: GpuDevice) -> Meter:
    draw, limit = device.power_w, device.power_limit_w
    if draw is None and limit is None:
        return Meter(_gap_text(device, "power_w"))
    if draw is None:
        return Meter(f"{NA} / {limit:.0f} W")
    if not limit:
        return Meter(f"{draw:.0f} W")
    return Meter(f"{draw:.0f} / {limit:.0f} W", draw / limit)


def _temperature(device: GpuDevice) -> str:
    if device.temperature_c is None:
        return _gap_text(device, "temperature_c")
    return f"{device.temperature_c} °C"


def _badges(device: GpuDevice) -> tuple[str, ...]:
    badges = []
    if device.compute_capability and device.mig is None:
        badges.append(f"sm {device.compute_capability}")
    if device.mig_enabled:
        badges.append("MIG on")
    if device.cuda_visible is False:
        badges.append("hidden by CUDA_VISIBLE_DEVICES")
    elif device.cuda_index is not None and device.cuda_index != device.index:
        badges.append(f"cuda:{device.cuda_index}")
    return tuple(badges)


def card(device: GpuDevice, slices: Sequence[GpuDevice] = ()) -> Card:
    if device.mig is not None:
        profile = _mig_profile(device)
        gi = device.mig.gpu_instance_id
        title = f"MIG {device.mig.slice_index}"
        name = profile or (f"GPU instance {gi}" if gi is not None else "slice")
    else:
        title, name = f"GPU {device.index}", device.name or "NVIDIA GPU"
    return Card(
        label=device.label,
        title=title,
        name=name,
        badges=_badges(device),
        memory=_memory_meter(device),
        utilization=_utilization_meter(device),
        power=_power_meter(device),
        temperature=_temperature(device),
        usable=device.usable,
        slices=tuple(card(s) for s in slices),
        processes=tuple(
            (_process_text(p, where), p.owner == "this kernel")
            for where, d in ((None, device), *((s.label, s) for s in slices))
            for p in d.processes
        ),
    )


def _process_text(process: GpuProcess, where: str | None) -> str:
    used = NA if process.used_memory_mib is None else f"{process.used_memory_mib} MiB"
    name = f" {process.name}" if process.name else ""
    on = f" on MIG {where}" if where else ""
    return f"pid {process.pid}{name} · {used}{on} · {process.owner}"


def cards(report: GpuReport) -> list[Card]:
    """One card per physical GPU; its MIG slices are rows inside it."""
    found = []
    for device in report.devices:
        if device.mig is not None:
            continue
        slices = [d for d in report.devices if d.mig is not None and d.index == device.index]
        found.append(card(device, slices))
    return found


def process_lines(report: GpuReport) -> list[str]:
    lines = []
    for d in report.devices:
        for p in d.processes:
            used = NA if p.used_memory_mib is None else f"{p.used_memory_mib} MiB"
            name = f" {p.name}" if p.name else ""
            where = f"GPU {d.label}" if d.mig is None else f"MIG {d.label}"
            lines.append(f"pid {p.pid}{name} · {used} on {where} · {p.owner}")
    return lines


def sections(report: GpuReport, status_why: Sequence[str] = ()) -> list[tuple[str, list[str]]]:
    """The blocks below the cards, each fact once (the status line's reasons are not repeated)."""
    found: list[tuple[str, list[str]]] = []
    if report.tpu is not None and report.has_gpu:
        t = report.tpu
        what = f"{t.chips} chip(s)" if t.chips else "detected"
        kind = t.accelerator_type or (f"TPU {t.generation}" if t.generation else "TPU")
        found.append(("TPU", [f"{kind}: {what} (from {t.source})"]))
    if report.other:
        found.append(("Other accelerators", [f"{a.name}: {a.detail or NA}" for a in report.other]))
    procs = process_lines(report)
    if procs:
        found.append(("Processes holding GPU memory", procs))
    if report.frameworks:
        found.append(("Frameworks", [f.summary for f in report.frameworks]))
    if report.warnings:
        found.append(("Warnings", list(dict.fromkeys(report.warnings))))
    shown = set(status_why)
    notes = [n for n in dict.fromkeys(report.notes) if n not in shown]
    if notes:
        found.append(("Notes", notes))
    return found
