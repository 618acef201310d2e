"""How a remote run shows while it runs: a widget view (status, elapsed time, the run's URL,
the streamed log) in frontends that render widgets, plain lines elsewhere. The remote
notebook's outputs are then shown as the cell's own outputs."""

from __future__ import annotations

import html
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from .model import KaggleRun, human_duration
from .notebook import strip_ansi
from .reporter import RunReporter, SilentReporter

LOG_KEEP = 20_000  # characters of log the widget keeps (the whole log is in the run's folder)
COLORS = {"queued": "#6b7280", "running": "#2563eb", "complete": "#15803d", "error": "#b91c1c"}


def show_outputs(outputs: list[dict[str, Any]], rich: bool, streams: bool = False) -> None:
    """Replay the remote notebook's outputs here: rich data through IPython's display
    (text/plain where nothing renders it), errors as their traceback text, and streams only
    when asked (the streamed log already showed them)."""
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream" and streams:
            stream = sys.stderr if output.get("name") == "stderr" else sys.stdout
            stream.write(_text(output.get("text")))
            stream.flush()
        elif kind in ("display_data", "execute_result"):
            data = output.get("data") or {}
            if not isinstance(data, Mapping):
                continue
            if rich:
                from IPython.display import publish_display_data

                publish_display_data(
                    {k: _text(v) if isinstance(v, list) else v for k, v in data.items()},
                    metadata=output.get("metadata") or {},
                )
            elif "text/plain" in data:
                print(_text(data["text/plain"]), flush=True)
        elif kind == "error":
            lines = [strip_ansi(str(line)) for line in output.get("traceback") or []]
            print("\n".join(lines), file=sys.stderr, flush=True)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


class TextView:
    """One line per status change, the remote log as it arrives, then the outputs."""

    def __init__(self, rich: bool = False, stream: TextIO | None = None) -> None:
        self.rich = rich
        self.stream = stream
        self._last: str | None = None
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def notice(self, text: str) -> None:
        self._print(text)

    def status(self, run: KaggleRun) -> None:
        if run.status == self._last:
            return
        first = self._last is None
        self._last = run.status
        version = f" v{run.version}" if run.version else ""
        elapsed = f" · {human_duration(run.elapsed)}" if run.elapsed is not None else ""
        where = f" · {run.url}" if first else ""
        self._print(f"kaggle run {run.ref}{version}: {run.status}{elapsed}{where}")

    def log(self, text: str) -> None:
        with self._lock:
            stream = self.stream or sys.stdout
            stream.write(text)
            stream.flush()

    def outputs(self, outputs: list[dict[str, Any]]) -> None:
        if outputs and self.stream in (None, sys.stdout):
            show_outputs(outputs, self.rich)

    def finished(self, run: KaggleRun) -> None:
        self.status(run)


class WidgetView:
    """A core-ipywidgets view (7.7.1 and 8.x): a status line and the streamed log."""

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.header = widgets.HTML(value="<b>kaggle run</b>: preparing")
        self.log_box = widgets.HTML(value="")
        self.root = widgets.VBox([self.header, self.log_box])
        self.root.add_class("mlenv-kaggle-run")
        self._log = ""
        self._lock = threading.Lock()
        self._shown = False
        self._started: float | None = None
        self._run: KaggleRun | None = None

    def _show(self) -> None:
        if not self._shown:
            from IPython.display import display

            display(self.root)
            self._shown = True

    def notice(self, text: str) -> None:
        print(text, flush=True)

    def _elapsed(self, run: KaggleRun) -> str:
        if self._started is None:
            self._started = time.monotonic()
        if run.status in ("queued", "running"):  # counted here between polls
            return human_duration(max(run.elapsed or 0.0, time.monotonic() - self._started))
        return human_duration(run.elapsed) if run.elapsed is not None else "0s"

    def status(self, run: KaggleRun) -> None:
        self._show()
        self._run = run
        color = COLORS.get(run.status, "#6b7280")
        version = f" v{run.version}" if run.version else ""
        elapsed = self._elapsed(run)
        out = f" · files in {html.escape(str(run.out))}" if run.out is not None else ""
        self.header.value = (
            f'<div class="mlenv-kaggle-status"><b>kaggle run</b> '
            f'<a href="{html.escape(run.url)}" target="_blank">{html.escape(run.ref)}{version}</a>'
            f' · <span class="mlenv-kaggle-state" style="color:{color};font-weight:600">'
            f"{html.escape(run.status)}</span> · {html.escape(run.accelerator or '')}"
            f' · <span class="mlenv-kaggle-elapsed">{elapsed}</span>{out}</div>'
        )

    def log(self, text: str) -> None:
        with self._lock:
            self._log = (self._log + strip_ansi(text))[-LOG_KEEP:]
            body = html.escape(self._log)
        self.log_box.value = (
            '<pre class="mlenv-kaggle-log" style="max-height:18em;overflow:auto;margin:2px 0;'
            f'font-size:12px">{body}</pre>'
        )
        if self._run is not None:
            self.status(self._run)  # the elapsed time moves on with the log

    def outputs(self, outputs: list[dict[str, Any]]) -> None:
        if outputs:
            show_outputs(outputs, rich=True)

    def finished(self, run: KaggleRun) -> None:
        self.status(run)


def make_view(quiet: bool, env: Mapping[str, str] | None = None) -> RunReporter:
    """The view for this frontend: silent with ``--quiet``, widgets where they render."""
    if quiet:
        return SilentReporter()
    from ..runtime import current_shell, detect_runtime

    env = os.environ if env is None else env
    shell = current_shell()
    runtime = detect_runtime(env, shell=shell)
    if runtime.widgets_useful and env.get("MLENV_WIDGETS", "").strip() != "0":
        try:
            return WidgetView()
        except ImportError:
            pass
    return TextView(rich=shell is not None)
