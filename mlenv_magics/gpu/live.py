"""``%mlenv_gpu --live``: one GPU view that keeps refreshing from a background thread.

The probe (NVML calls, or one ``nvidia-smi -q -x``) and the widget updates run in a daemon
thread, so a training cell keeps the main thread; what the thread does with the GIL held per
refresh is small (reading a few values, building a few KB of HTML, one comm message per
changed card). The thread holds the monitor only through a weak reference and waits on an
``Event``, so ``stop()`` ends it at once, a dropped monitor ends it, and a dying kernel never
waits for it. A probe that raises is shown in the view and retried with a growing delay.

Widget state sent from a thread needs the parent message of a cell: ipykernel 6 keeps one per
kernel, ipykernel 7 keeps it in a context variable per thread, so the thread runs its updates
inside a copy of the context of the cell that started the view.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import html as gpu_html
from .model import GpuDevice

HISTORY_LENGTH = 120  # samples kept; the sparklines show the last SPARK_POINTS
SPARK_POINTS = 60
MAX_BACKOFF_S = 60.0
STOP_JOIN_S = 0.5


@dataclass(frozen=True)
class DevicePoint:
    utilization_pct: int | None
    memory_used_mib: int | None
    memory_total_mib: int | None
    power_w: float | None
    power_limit_w: float | None
    temperature_c: int | None

    @classmethod
    def of(cls, device: GpuDevice) -> DevicePoint:
        return cls(
            device.utilization_pct,
            device.memory_used_mib,
            device.memory_total_mib,
            device.power_w,
            device.power_limit_w,
            device.temperature_c,
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Sample:
    """One refresh: seconds since the view started, wall-clock time, values per device label."""

    elapsed_s: float
    wall_time: float
    devices: dict[str, DevicePoint]

    def to_dict(self) -> dict[str, Any]:
        return {
            "elapsed_s": round(self.elapsed_s, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.wall_time)),
            "devices": {label: point.to_dict() for label, point in self.devices.items()},
        }


Refresh = Callable[[Any], Any]


class GpuMonitor:
    """A live GPU view: ``.stop()``, ``.history`` (samples), ``.peaks``, ``to_dict()``.

    ``refresh(previous_report) -> report`` is called from the background thread every
    ``interval_s``; ``view`` (a :class:`~mlenv_magics.gpu.widget.GpuWidgetView`) is updated
    after each call. Without a view it still samples (tests, benchmarks, ``to_dict``).
    """

    def __init__(
        self,
        report: Any,
        refresh: Refresh,
        interval_s: float,
        view: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = float(interval_s)
        self.report = report
        self.view = view
        self.error: str | None = None
        self.refreshes = 0
        self.failures = 0
        self._refresh = refresh
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_backoff_s = max_backoff_s
        self._started = clock()
        self._started_wall = wall_clock()
        self._history: deque[Sample] = deque(maxlen=HISTORY_LENGTH)
        self._peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._render_lock = threading.Lock()
        self._next_retry_s: float | None = None
        self._context = contextvars.copy_context()
        self._thread: threading.Thread | None = None
        close = getattr(refresh, "close", None)
        if close is not None:  # also when the monitor is dropped without stop()
            self._finalizer = weakref.finalize(self, close)
        self._record(report)
        self._render()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> GpuMonitor:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=_run,
            args=(weakref.ref(self), self._stop, self.interval_s),
            name="mlenv-gpu-live",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def stop(self) -> None:
        """Stop refreshing now; the view stays, marked as stopped."""
        already = self._stop.is_set()
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_JOIN_S)  # a probe in flight finishes alone; nothing waits on it
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        events = getattr(self, "_events", None)
        if events is not None:
            self._events = None
            with contextlib.suppress(ValueError):
                events.unregister("post_run_cell", self.resend)
        if not already:
            self._render()
        with self._changed:
            self._changed.notify_all()

    def resend(self, *_: Any) -> None:
        """Send the view's state again from the calling thread (the main one, after a cell).

        Colab's frontend ignores widget updates sent from a background thread
        (colabtools#3373) but shows state sent while a cell runs, so there the view catches
        up at the end of every cell.
        """
        if self.view is None or self._stop.is_set():
            return
        self._render()
        with self._render_lock:
            for widget in (self.view.header, *self.view.cards.children, self.view.footer):
                widget.send_state()

    def follow_cells(self, events: Any) -> None:
        """Call :meth:`resend` after every cell (IPython's ``post_run_cell``) until stopped."""
        events.register("post_run_cell", self.resend)
        self._events = events

    # -- what it has seen --------------------------------------------------------------
    @property
    def history(self) -> list[Sample]:
        with self._changed:
            return list(self._history)

    @property
    def peaks(self) -> dict[str, int]:
        """The highest memory use per device label since the view started, in MiB."""
        with self._changed:
            return dict(self._peaks)

    def wait_for_refreshes(self, count: int, timeout: float) -> bool:
        """Block until ``count`` refreshes (successful or not) have happened, or ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.refreshes + self.failures >= count or self._stop.is_set(),
                timeout,
            ) and (self.refreshes + self.failures >= count)

    # -- one refresh (called by the thread) ----------------------------------------------
    def tick(self) -> float:
        """Probe once and update the view; the delay until the next refresh."""
        try:
            report = self._refresh(self.report)
        except Exception as exc:  # shown in the view; the thread backs off and retries
            with self._changed:
                self.failures += 1
                self.error = f"{type(exc).__name__}: {exc}"
                delay = min(self.interval_s * 2 ** min(self.failures, 16), self._max_backoff_s)
                self._next_retry_s = delay
                self._changed.notify_all()
            if not self._stop.is_set():
                self._render()
            return delay
        with self._changed:
            self.report = report
            self.error = None
            self._next_retry_s = None
            self.failures = 0
            self._record(report)
            self.refreshes += 1
            self._changed.notify_all()
        if not self._stop.is_set():
            self._render()
        return self.interval_s

    def _record(self, report: Any) -> None:
        points = {d.label: DevicePoint.of(d) for d in report.devices}
        self._history.append(Sample(self._clock() - self._started, self._wall_clock(), points))
        for label, point in points.items():
            if point.memory_used_mib is not None:
                self._peaks[label] = max(self._peaks.get(label, 0), point.memory_used_mib)

    # -- rendering ---------------------------------------------------------------------
    def live_line(self) -> str:
        every = f"every {self.interval_s:g} s"
        if self._stop.is_set():
            return f"stopped · {self.refreshes} refreshes"
        if self.error is not None:
            retry = f" · retrying in {self._next_retry_s:g} s" if self._next_retry_s else ""
            return f"live · probe failed: {self.error}{retry}"
        stamp = time.strftime("%H:%M:%S", time.localtime(self._wall_clock()))
        return f"live · {every} · updated {stamp}"

    def sparklines(self) -> dict[str, dict[str, str]]:
        samples = list(self._history)[-SPARK_POINTS:]
        found: dict[str, dict[str, str]] = {}
        for device in self.report.devices:
            points = [s.devices.get(device.label) for s in samples]
            memory = [p.memory_used_mib if p else None for p in points]
            util = [p.utilization_pct if p else None for p in points]
            power = [p.power_w if p else None for p in points]
            found[device.label] = {
                "memory": gpu_html.sparkline(memory, device.memory_total_mib, "memory"),
                "util": gpu_html.sparkline(util, 100, "util"),
                "power": gpu_html.sparkline(power, device.power_limit_w, "power"),
            }
        return found

    def peak_lines(self) -> dict[str, list[str]]:
        lines: dict[str, list[str]] = {}
        for device in self.report.devices:
            peak = self._peaks.get(device.label)
            if peak is not None and device.mig is None:
                used = f"{peak} MiB" if peak < 1024 else f"{peak / 1024:.1f} GiB"
                lines[device.label] = [f"peak {used} used since the view started"]
        return lines

    def html_parts(self) -> tuple[str, list[str], str]:
        with self._changed:
            return self.report.html_parts(self.sparklines(), self.live_line(), self.peak_lines())

    def _render(self) -> None:
        view = self.view
        if view is None:
            return
        with self._render_lock:
            with self._changed:
                report, sparks = self.report, self.sparklines()
                live, extra = self.live_line(), self.peak_lines()
            if threading.current_thread() is threading.main_thread():
                view.refresh(report, sparks, live, extra)
            else:
                self._context.copy().run(view.refresh, report, sparks, live, extra)

    # -- result object -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        with self._changed:
            return {
                "interval_s": self.interval_s,
                "running": self.running,
                "refreshes": self.refreshes,
                "failures": self.failures,
                "error": self.error,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self._started_wall)),
                "peak_memory_mib": dict(self._peaks),
                "history": [s.to_dict() for s in self._history],
                "report": self.report.to_dict(),
            }

    def __repr__(self) -> str:
        with self._changed:
            peaks = ", ".join(f"GPU {k} {v} MiB" for k, v in self._peaks.items())
            lines = [f"GPU live view · {self.live_line()}"]
            if peaks:
                lines.append(f"peak memory since start: {peaks}")
            return "\n".join([*lines, repr(self.report)])

    def _repr_html_(self) -> str:
        head, cards, foot = self.html_parts()
        return gpu_html.container(head + "".join(cards) + foot)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if self.view is not None:
            from .widget import WIDGET_MIME

            bundle[WIDGET_MIME] = self.view.mime_data()
        return bundle


class LiveRefresh:
    """The refresh a live view uses by default: NVML again, or one running nvidia-smi loop."""

    def __init__(self, interval_s: float, env: Mapping[str, str] | None = None) -> None:
        self.interval_s = interval_s
        self.env = env
        self._stream: Any = None

    def __call__(self, previous: Any) -> Any:
        from . import refresh_report

        if previous.backend != "nvidia-smi":
            return refresh_report(previous, env=self.env)
        if self._stream is None:
            from .smi_stream import SmiStream
            from .smi_xml import SmiUnavailable, find_nvidia_smi

            env = os.environ if self.env is None else self.env
            executable = find_nvidia_smi(env.get("PATH", ""))
            if executable is None:
                raise SmiUnavailable("nvidia-smi is no longer on PATH")
            self._stream = SmiStream(executable, self.interval_s, self.env)
        return refresh_report(previous, env=self.env, smi_stream=self._stream)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def _run(ref: weakref.ref[GpuMonitor], stop: threading.Event, interval_s: float) -> None:
    delay = interval_s
    while not stop.wait(delay):
        monitor = ref()
        if monitor is None:  # nobody holds the view any more
            return
        delay = monitor.tick()
        del monitor


# -- one monitor per kernel --------------------------------------------------------------
_current: GpuMonitor | None = None
_current_lock = threading.Lock()
_atexit_registered = False


def replace_current(monitor: GpuMonitor) -> GpuMonitor:
    """Make ``monitor`` the kernel's live view (the previous one stops) and start it."""
    global _current, _atexit_registered
    with _current_lock:
        previous, _current = _current, monitor
        if not _atexit_registered:
            atexit.register(stop_current)
            _atexit_registered = True
    if previous is not None:
        previous.stop()
    return monitor.start()


def current() -> GpuMonitor | None:
    return _current


def stop_current() -> GpuMonitor | None:
    """Stop the kernel's live view; the stopped monitor, or ``None`` when none was running."""
    global _current
    with _current_lock:
        monitor, _current = _current, None
    if monitor is not None:
        monitor.stop()
    return monitor
