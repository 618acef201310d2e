"""``GpuReport``: one result object with a text table, static HTML, JSON and a widget view."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import render
from ..errors import AcceleratorMissingError
from . import html as gpu_html
from . import present
from .frameworks import FrameworkInfo
from .guidance import Guidance, Situation, batch_note, guidance, plain
from .model import MIB, GpuDevice
from .tpu import OtherAccelerator, TpuInfo

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _fmt_mib(value: int | None) -> str:
    return render.NA if value is None else f"{value} MiB"


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
        """The steps to get an accelerator here as plain text (empty when there is one)."""
        if self.has_accelerator:
            return ""
        return self._guidance_for("gpu")

    def _guidance_for(self, wants: str) -> str:
        text = guidance(Situation(**{**self.situation.__dict__, "wants": wants})).text()
        note = batch_note(self.host, self.run_type)
        return f"{text}\n{plain(note)}" if note else text

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
        return present.context_line(self)

    def status(self) -> present.Status:
        return present.status(self)

    def guide(self, wants: str = "gpu") -> Guidance | None:
        """The steps for this host when no accelerator was found (``None`` otherwise)."""
        if self.has_accelerator and wants == "gpu":
            return None
        return guidance(Situation(**{**self.situation.__dict__, "wants": wants}))

    def device_rows(self) -> list[list[str]]:
        rows = []
        for d in self.devices:
            memory = (
                f"{_num(d.memory_used_mib)} / {_fmt_mib(d.memory_total_mib)}"
                if d.memory_total_mib is not None or d.memory_used_mib is not None
                else render.NA
            )
            card = present.card(d)
            name = d.name or render.NA
            if d.mig is not None:
                name = f"MIG {card.name}"
            rows.append(
                [
                    d.label,
                    name,
                    memory,
                    card.utilization.text,
                    card.temperature,
                    card.power.text,
                    d.compute_capability or render.NA,
                    _cuda_cell(d),
                ]
            )
        return rows

    HEADERS = ("gpu", "name", "memory used / total", "util", "temp", "power", "sm", "cuda")

    def process_lines(self) -> list[str]:
        return present.process_lines(self)

    def _sections(self) -> list[tuple[str, list[str]]]:
        return present.sections(self, self.status().why)

    def _text_table(self) -> str:
        rows = self.device_rows()
        headers = list(self.HEADERS)
        if all(row[-1] == "yes" for row in rows):
            headers, rows = headers[:-1], [row[:-1] for row in rows]
        return render.text_table(headers, rows)

    def __repr__(self) -> str:
        status = self.status()
        lines = [status.context, status.headline]
        lines += [f"  {reason}" for reason in status.why]
        if self.devices:
            lines.append(self._text_table())
        for title, items in self._sections():
            lines.append(f"{title}:")
            lines.extend(f"  {item}" for item in items)
        guide = self.guide()
        if guide is not None:
            lines.append(f"How to get an accelerator here ({self.host_label}):")
            for number, step in enumerate(guide.steps, 1):
                lines += _wrapped(plain(step), f"  {number}. ", "     ")
            note = batch_note(self.host, self.run_type)
            for fact in (*guide.facts, *([note] if note else [])):
                lines += _wrapped(plain(fact), "  ", "  ")
        return "\n".join(lines)

    # -- HTML ----------------------------------------------------------------------------
    def _repr_html_(self) -> str | None:
        if self.batch:
            return None  # nobody watches a batch run: plain text only
        return self.html()

    def html_parts(
        self,
        sparks: dict[str, dict[str, str]] | None = None,
        live: str | None = None,
        extra: dict[str, list[str]] | None = None,
    ) -> tuple[str, list[str], str]:
        """Header, one fragment per device card, and the footer (sections and steps)."""
        head = gpu_html.header(self.status(), live)
        extra = extra or {}
        cards = [
            gpu_html.card_html(card, sparks, extra.get(card.label, ()))
            for card in present.cards(self)
        ]
        foot = ""
        for title, items in self._sections():
            if title == "Processes holding GPU memory":
                continue  # shown inside each device's card
            tone = "warn" if title == "Warnings" else None
            foot += gpu_html.section(title, items, tone)
        guide = self.guide()
        if guide is not None:
            note = batch_note(self.host, self.run_type)
            foot += gpu_html.steps(guide, [note] if note else [])
        return head, cards, foot

    def html(self) -> str:
        head, cards, foot = self.html_parts()
        return gpu_html.container(head + "".join(cards) + foot)

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


def _num(value: int | None) -> str:
    return render.NA if value is None else str(value)


def _cuda_cell(device: GpuDevice) -> str:
    if device.mig_enabled:
        return "via MIG"
    return {True: "yes", False: "hidden", None: "yes"}[device.cuda_visible]


def _wrapped(text: str, first: str, rest: str, width: int = 96) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest) or [first]
