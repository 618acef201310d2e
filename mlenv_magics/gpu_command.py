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


LIVE_MIN_SECONDS = 0.2
LIVE_NEEDS_WIDGETS = (
    "--live needs a notebook that shows widgets (JupyterLab, Notebook, VS Code, Colab, Kaggle)"
    " with ipywidgets installed; here use --watch SECONDS, which refreshes in the foreground"
)


@dataclass(frozen=True)
class GpuOptions:
    require: str | None = None
    min_memory_bytes: int | None = None
    watch: float | None = None
    count: int | None = None
    live: float | None = None
    stop: bool = False

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
        live, stop = getattr(args, "live", None), bool(getattr(args, "stop", False))
        if live is not None:
            if live < LIVE_MIN_SECONDS:
                raise error(f"--live takes at least {LIVE_MIN_SECONDS:g} seconds between refreshes")
            if args.watch is not None or getattr(args, "json", False):
                raise error("--live is a view of its own: use it without --watch and --json")
        if stop and (live is not None or args.watch is not None or args.require or min_memory):
            raise error("--stop takes no other option")
        return cls(args.require, min_memory, args.watch, args.count, live, stop)


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


def start_live(
    options: GpuOptions,
    error: Callable[[str], Exception],
    refresh: Callable[[Any], Any] | None = None,
    report: Any = None,
    events: Any = None,
) -> Any:
    """Start the kernel's live view (``--live``), replacing the one before; a ``GpuMonitor``.

    Raises ``error(...)`` pointing at ``--watch`` when widgets cannot be shown here. On Colab,
    whose frontend ignores updates from threads, ``events`` (the shell's ``events``) lets the
    view catch up after every cell.
    """
    from .gpu import gpu_report
    from .gpu.live import GpuMonitor, LiveRefresh, replace_current

    assert options.live is not None
    if report is None:
        report = gpu_report()
    report.check(require=options.require, min_memory_bytes=options.min_memory_bytes)
    view = report.widget_view() if report.widgets_allowed else None
    if view is None:
        raise error(LIVE_NEEDS_WIDGETS)
    monitor = GpuMonitor(report, refresh or LiveRefresh(options.live), options.live, view)
    if events is not None and report.host == "colab":
        monitor.follow_cells(events)
    return replace_current(monitor)


def stop_live() -> str:
    """Stop the kernel's live view (``--stop``); one line saying what happened."""
    from .gpu.live import stop_current

    monitor = stop_current()
    if monitor is None:
        return "No live GPU view is running."
    return f"Stopped the live GPU view after {monitor.refreshes} refreshes."
