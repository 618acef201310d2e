"""``GpuReport``: one result object with a text table, static HTML, JSON and a widget view."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import render
from ..errors import AcceleratorMissingError
from .frameworks import FrameworkInfo
from .guidance import Situation, batch_note, guidance_text
from .model import MIB, GpuDevice
from .tpu import OtherAccelerator, TpuInfo

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _fmt_mib(value: int | None) -> str:
    return render.NA if value is None else f"{value} MiB"


def _cell(device: GpuDevice, attr: str, text: str | None) -> str:
    if text is not None:
        return text
    reason = device.gap(attr) or ""
    return f"{render.NA} (MIG)" if reason.startswith("MIG") else render.NA


@dataclass
class GpuReport:
    """Accelerators of this machine as seen from this kernel. Unknown values are ``None``."""

    host: str
    host_label: str
    run_type: str | None
    backend: str
    driver_version: str | None
    cuda_version: str | None
    devices: list[GpuDevice]
    tpu: TpuInfo | None
    other: list[OtherAccelerator]
    frameworks: list[FrameworkInfo]
    warnings: list[str]
    notes: list[str]
    situation: Situation
    own_pid: int
    widgets_allowed: bool = False
    batch: bool = False
    _widget_view: Any = field(default=None, repr=False)

    # -- facts -------------------------------------------------------------------------
    @property
    def gpus(self) -> list[GpuDevice]:
        """Devices CUDA code can run on (GPUs without MIG, MIG slices), visible to CUDA."""
        return [d for d in self.devices if d.usable]

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    @property
    def has_tpu(self) -> bool:
        return self.tpu is not None

    @property
    def has_accelerator(self) -> bool:
        return self.has_gpu or self.has_tpu or bool(self.other)

    @property
    def guidance(self) -> str:
        if self.has_accelerator:
            return ""
        text = guidance_text(self.situation)
        note = batch_note(self.host, self.run_type)
        return f"{text}\n{note}" if note else text

    def _guidance_for(self, wants: str) -> str:
        situation = Situation(**{**self.situation.__dict__, "wants": wants})
        text = guidance_text(situation)
        note = batch_note(self.host, self.run_type)
        return f"{text}\n{note}" if note else text

    # -- the requirement check -----------------------------------------------------------
    def check(self, require: str | None = None, min_memory_bytes: int | None = None) -> None:
        """Raise :class:`AcceleratorMissingError` (message + steps) when a need is not met."""
        if require == "gpu" and not self.has_gpu:
            raise AcceleratorMissingError(
                f"No GPU is available to this kernel on {self.host_label}{self._why_no_gpu()}.",
                fix=self._guidance_for("gpu"),
            )
        if require == "tpu" and not self.has_tpu:
            raise AcceleratorMissingError(
                f"No TPU was found on {self.host_label}.", fix=self._guidance_for("tpu")
            )
        if require == "accelerator" and not self.has_accelerator:
            raise AcceleratorMissingError(
                f"No GPU or TPU was found on {self.host_label}{self._why_no_gpu()}.",
                fix=self._guidance_for("gpu"),
            )
        if min_memory_bytes is not None:
            self._check_memory(min_memory_bytes)

    def _why_no_gpu(self) -> str:
        if any(d.cuda_visible is False for d in self.devices) and self.devices:
            return " (CUDA_VISIBLE_DEVICES hides the GPUs)"
        for note in self.notes:
            return f" ({note})"
        return ""

    def _check_memory(self, min_bytes: int) -> None:
        wanted = render.human_bytes(min_bytes)
        if not self.gpus:
            raise AcceleratorMissingError(
                f"--min-memory {wanted}: no GPU is available to this kernel on"
                f" {self.host_label}{self._why_no_gpu()}.",
                fix=self._guidance_for("gpu"),
            )
        known = [d for d in self.gpus if d.memory_total_mib is not None]
        if any((d.memory_total_mib or 0) * MIB >= min_bytes for d in known):
            return
        if not known:
            raise AcceleratorMissingError(
                f"--min-memory {wanted}: the GPU's total memory could not be read here.",
                fix="Drop --min-memory, or check `nvidia-smi` in a terminal.",
            )
        largest = max(known, key=lambda d: d.memory_total_mib or 0)
        raise AcceleratorMissingError(
            f"--min-memory {wanted}: the largest GPU here, {largest.name}, has"
            f" {render.human_bytes((largest.memory_total_mib or 0) * MIB)}.",
            fix=self._memory_fix(),
        )

    def _memory_fix(self) -> str:
        if self.host == "colab":
            return (
                "Google Colab: Runtime → Change runtime type → choose a larger GPU (L4, A100 or"
                " H100 with a paid plan) → Save; or reduce the batch size or model size."
            )
        if self.host == "kaggle":
            return (
                "Kaggle offers at most 16 GB per GPU (T4 x2: two separate 16 GB GPUs); reduce"
                " the batch or model size, or shard across both T4s."
            )
        return "Use a machine with a larger GPU, or reduce the batch size or model size."

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "run_type": self.run_type,
            "backend": self.backend,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "devices": [d.to_dict() for d in self.devices],
            "tpu": self.tpu.to_dict() if self.tpu is not None else None,
            "other_accelerators": [a.to_dict() for a in self.other],
            "frameworks": [f.to_dict() for f in self.frameworks],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "guidance": self.guidance,
            "pid": self.own_pid,
        }

    # -- text ----------------------------------------------------------------------------
    def _headline(self) -> str:
        parts = [f"GPU report · {self.host_label}", f"backend {self.backend}"]
        if self.driver_version:
            parts.append(f"driver {self.driver_version}")
        if self.cuda_version:
            parts.append(f"CUDA (driver) {self.cuda_version}")
        return " · ".join(parts)

    def device_rows(self) -> list[list[str]]:
        rows = []
        for d in self.devices:
            memory = (
                f"{_fmt_mib(d.memory_used_mib)} / {_fmt_mib(d.memory_total_mib)}"
                if d.memory_total_mib is not None or d.memory_used_mib is not None
                else render.NA
            )
            power = None
            if d.power_w is not None or d.power_limit_w is not None:
                draw = render.NA if d.power_w is None else f"{d.power_w:.0f} W"
                limit = render.NA if d.power_limit_w is None else f"{d.power_limit_w:.0f} W"
                power = f"{draw} / {limit}"
            visible = {True: "yes", False: "hidden", None: render.NA}[d.cuda_visible]
            if d.mig_enabled:
                visible = "via MIG"
            rows.append(
                [
                    d.label,
                    d.name or render.NA,
                    memory,
                    _cell(
                        d,
                        "utilization_pct",
                        None if d.utilization_pct is None else f"{d.utilization_pct} %",
                    ),
                    _cell(
                        d,
                        "temperature_c",
                        None if d.temperature_c is None else f"{d.temperature_c} C",
                    ),
                    _cell(d, "power_w", power),
                    d.compute_capability or render.NA,
                    visible,
                ]
            )
        return rows

    HEADERS = ("gpu", "name", "memory used / total", "util", "temp", "power", "cc", "cuda")

    def process_lines(self) -> list[str]:
        lines = []
        for d in self.devices:
            for p in d.processes:
                used = _fmt_mib(p.used_memory_mib)
                name = f" {p.name}" if p.name else ""
                lines.append(f"pid {p.pid}{name} ({p.owner}): {used} on GPU {d.label}")
        return lines

    def _sections(self) -> list[tuple[str, list[str]]]:
        sections: list[tuple[str, list[str]]] = []
        if self.tpu is not None:
            t = self.tpu
            what = f"{t.chips} chip(s)" if t.chips else "detected"
            kind = t.accelerator_type or (f"TPU {t.generation}" if t.generation else "TPU")
            sections.append(("TPU", [f"{kind}: {what} (from {t.source})"]))
        if self.other:
            sections.append(
                ("Other accelerators", [f"{a.name}: {render.show(a.detail)}" for a in self.other])
            )
        procs = self.process_lines()
        if procs:
            sections.append(("Processes holding GPU memory", procs))
        if self.frameworks:
            sections.append(("Frameworks", [f.summary for f in self.frameworks]))
        if self.warnings:
            sections.append(("Warnings", list(self.warnings)))
        if self.notes:
            sections.append(("Notes", list(self.notes)))
        guidance = self.guidance
        if guidance:
            sections.append(("How to get an accelerator here", guidance.splitlines()))
        return sections

    def __repr__(self) -> str:
        lines = [self._headline()]
        if self.devices:
            lines.append(render.text_table(self.HEADERS, self.device_rows()))
        else:
            lines.append("No NVIDIA GPU found.")
        for title, items in self._sections():
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)

    # -- HTML ----------------------------------------------------------------------------
    def _repr_html_(self) -> str | None:
        if self.batch:
            return None  # nobody watches a batch run: plain text only
        return self.html()

    def html(self) -> str:
        parts = []
        if self.devices:
            head = "".join(render.th(render.esc(h)) for h in self.HEADERS)
            body = ""
            for d, row in zip(self.devices, self.device_rows(), strict=True):
                cells = [render.esc(v) for v in row]
                cells[2] = _memory_bar(d) + " " + cells[2]
                body += "<tr>" + "".join(render.td(c) for c in cells) + "</tr>"
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        else:
            parts.append(render.paragraph("No NVIDIA GPU found."))
        for title, items in self._sections():
            css = "mlenv-note" if title in {"Warnings", "How to get an accelerator here"} else ""
            parts.append(f"<b>{render.esc(title)}</b>")
            parts.append(render.paragraph("\n".join(items), css))
        return render.box(self._headline(), "".join(parts))

    # -- widgets -------------------------------------------------------------------------
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
        if self.batch:
            return {"text/plain": repr(self)}
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self.html()}
        view = self.widget_view()
        if view is not None:
            bundle[WIDGET_MIME] = view.mime_data()
        return bundle

    def widget_view(self) -> Any:
        """The ipywidgets view, built once, when a widget frontend can show it."""
        if self._widget_view is not None:
            return self._widget_view
        if not self.widgets_allowed:
            return None
        from .widget import build_view

        self._widget_view = build_view(self)
        return self._widget_view


def widgets_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("MLENV_WIDGETS", "").strip() != "0"


def _memory_bar(device: GpuDevice) -> str:
    if not device.memory_total_mib or device.memory_used_mib is None:
        return ""
    pct = max(0, min(100, round(100 * device.memory_used_mib / device.memory_total_mib)))
    return f'<span class="mlenv-bar" title="{pct}%"><span style="width:{pct}%"></span></span>'
