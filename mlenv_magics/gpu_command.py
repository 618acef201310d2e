"""``%mlenv_gpu`` and ``mlenv gpu`` share this: options, the requirement check, the watch loop."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str) -> int:
    """``15GiB`` → bytes. ``GB`` is decimal, ``GiB`` binary; a bare number is GiB."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 15GiB or 16000MiB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "":
        return int(number * 1024**3)
    prefix = unit[0] if unit[0] in "kmgt" else ""
    factor = 1024 ** ("kmgt".index(prefix) + 1) if "i" in unit and prefix else _FACTORS[prefix]
    return int(number * factor)


@dataclass(frozen=True)
class GpuOptions:
    require: str | None = None
    min_memory_bytes: int | None = None
    watch: float | None = None
    count: int | None = None

    @classmethod
    def from_args(cls, args: Any, error: Callable[[str], Exception]) -> GpuOptions:
        min_memory = None
        if args.min_memory:
            try:
                min_memory = parse_size(args.min_memory)
            except ValueError as exc:
                raise error(f"--min-memory: {exc}") from None
        if args.watch is not None and args.watch <= 0:
            raise error("--watch takes a positive number of seconds")
        if args.count is not None:
            if args.watch is None:
                raise error("--count goes with --watch")
            if args.count < 1:
                raise error("--count takes a positive whole number")
        return cls(args.require, min_memory, args.watch, args.count)


if TYPE_CHECKING:  # typing.Protocol classes cost milliseconds to create at import
    from typing import Protocol

    class Display(Protocol):
        def update(self, obj: Any) -> None: ...


def run(options: GpuOptions) -> Any:
    from .gpu import gpu_report

    report = gpu_report()
    report.check(require=options.require, min_memory_bytes=options.min_memory_bytes)
    return report


def watch(
    options: GpuOptions,
    display: Display,
    sleep: Callable[[float], None] = time.sleep,
    probe: Callable[[], Any] | None = None,
) -> None:
    """Refresh one view in the foreground; Ctrl-C ends it (and is re-raised).

    The first report is shown through ``display``. When it rendered as a widget, later
    reports update that widget in place; otherwise ``display.update`` replaces the output
    (a notebook display id) or prints again (text mode).
    """
    if probe is None:
        from .gpu import gpu_report

        probe = gpu_report
    assert options.watch is not None
    shown = 0
    first: Any = None
    while options.count is None or shown < options.count:
        report = probe()
        report.check(require=options.require, min_memory_bytes=options.min_memory_bytes)
        view = getattr(first, "_widget_view", None)
        if view is not None:
            view.refresh(report)
        else:
            display.update(report)
            first = first or report
        shown += 1
        if options.count is not None and shown >= options.count:
            break
        sleep(options.watch)
