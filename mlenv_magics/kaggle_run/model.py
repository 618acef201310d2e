"""Result objects of remote runs: ``KaggleRun`` and ``QuotaReport`` (text, HTML, to_dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import render
from .protocol import QuotaNumbers

STATUS_WORDS = {
    "queued": "queued",
    "new_script": "queued",
    "running": "running",
    "complete": "complete",
    "error": "error",
    "cancel_requested": "cancelled",
    "cancel_acknowledged": "cancelled",
}


def public_status(state: str) -> str:
    """Kaggle's status as one of queued, running, complete, error, cancelled."""
    return STATUS_WORDS.get(state, "queued" if state in ("", "unknown") else state)


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return render.NA
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@dataclass
class KaggleRun:
    ref: str  # owner/slug
    url: str
    version: int | None
    status: str  # queued, running, complete, error, cancelled
    accelerator: str | None = None
    out: Path | None = None
    files: list[str] = field(default_factory=list)
    log: str = ""
    failure: str | None = None
    elapsed: float | None = None
    skipped: list[str] = field(default_factory=list)  # hidden files left on Kaggle
    outputs: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def fetch_hint(self) -> str:
        return f"%mlenv_kaggle output {self.ref}"

    def _headline(self) -> str:
        version = f" v{self.version}" if self.version else ""
        parts = [f"kaggle run {self.ref}{version}", self.status]
        if self.accelerator:
            parts.append(self.accelerator)
        if self.elapsed is not None:
            parts.append(human_duration(self.elapsed))
        return " · ".join(parts)

    def _rows(self) -> list[tuple[str, object]]:
        rows: list[tuple[str, object]] = [("url", self.url)]
        if self.out is not None:
            shown = ", ".join(self.files[:6]) + (", ..." if len(self.files) > 6 else "")
            count = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
            rows.append(("out", f"{self.out} ({count}{': ' + shown if shown else ''})"))
        elif self.status in ("queued", "running"):
            rows.append(("fetch later", self.fetch_hint))
        if self.skipped:
            rows.append(
                ("left on Kaggle", f"{len(self.skipped)} hidden files ({self.skipped[0]}, ...)")
            )
        if self.failure:
            rows.append(("failure", self.failure.splitlines()[-1]))
        return rows

    def __repr__(self) -> str:
        return self._headline() + "\n" + render.key_values_text(self._rows())

    def _repr_html_(self) -> str:
        return render.box(self._headline(), render.key_values_html(self._rows()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "url": self.url,
            "version": self.version,
            "status": self.status,
            "accelerator": self.accelerator,
            "out": str(self.out) if self.out is not None else None,
            "files": list(self.files),
            "log": self.log,
            "failure": self.failure,
            "elapsed_s": self.elapsed,
            "skipped": list(self.skipped),
        }


def _hours(seconds: float | None) -> str:
    return render.NA if seconds is None else f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class QuotaReport:
    refresh: str | None
    gpu: QuotaNumbers | None
    tpu: QuotaNumbers | None

    def line(self, kind: str) -> str:
        numbers = self.gpu if kind == "gpu" else self.tpu
        name = kind.upper()
        if numbers is None:
            return f"Kaggle {name} quota: not reported"
        left = f"{_hours(numbers.remaining_s)} of {_hours(numbers.total_s)} left this week"
        reserved = (
            f", {_hours(numbers.reserved_s)} held by running sessions" if numbers.reserved_s else ""
        )
        refresh = f" (resets {self.refresh})" if self.refresh else ""
        return f"Kaggle {name} quota: {left}{reserved}{refresh}"

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for name, numbers in (("GPU", self.gpu), ("TPU", self.tpu)):
            if numbers is not None:
                rows.append(
                    (
                        name,
                        _hours(numbers.used_s),
                        _hours(numbers.reserved_s),
                        _hours(numbers.remaining_s),
                        _hours(numbers.total_s),
                    )
                )
        return rows

    _HEADERS = ("accelerator", "used", "reserved", "left", "weekly total")

    def _headline(self) -> str:
        return "Kaggle accelerator quota" + (f" · resets {self.refresh}" if self.refresh else "")

    def __repr__(self) -> str:
        return self._headline() + "\n" + render.text_table(self._HEADERS, self._rows())

    def _repr_html_(self) -> str:
        return render.box(self._headline(), render.html_table(self._HEADERS, self._rows()))

    def to_dict(self) -> dict[str, Any]:
        def numbers(value: QuotaNumbers | None) -> dict[str, Any] | None:
            if value is None:
                return None
            return {
                "used_s": value.used_s,
                "reserved_s": value.reserved_s,
                "total_s": value.total_s,
                "remaining_s": value.remaining_s,
                "pay_to_scale": value.pay_to_scale,
            }

        return {"refresh": self.refresh, "gpu": numbers(self.gpu), "tpu": numbers(self.tpu)}
