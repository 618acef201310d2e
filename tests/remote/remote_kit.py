"""Helpers for the remote-run tests: a fake clock whose sleeps wait on the fake's events, and
a reporter that records what a run showed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from mlenv_magics.kaggle_run.model import KaggleRun
from mlenv_magics.kaggle_run.wait import WaitClock

EVENT_TIMEOUT_S = 60.0  # only a safety net: a sleep returns as soon as the fake changes


@dataclass
class FakeTime:
    """Time that moves only when the poller sleeps. A sleep of N seconds adds N and, with
    ``fake`` set, returns once the fake has something new to report (never after real N s)."""

    fake: Any = None
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.fake is not None and not self.fake.kernels.wait_for_change(EVENT_TIMEOUT_S):
            raise AssertionError("the fake did not change within the safety timeout")

    def timing(self) -> WaitClock:
        return WaitClock(clock=self.clock, sleep=self.sleep)


class Recorder:
    """A RunReporter that keeps everything; ``wait_for_log(text)`` blocks until it arrived."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.statuses: list[str] = []
        self.runs: list[KaggleRun] = []
        self.shown_outputs: list[dict[str, Any]] = []
        self._log: list[str] = []
        self._changed = threading.Condition()

    @property
    def log_text(self) -> str:
        with self._changed:
            return "".join(self._log)

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def status(self, run: KaggleRun) -> None:
        self.statuses.append(run.status)

    def log(self, text: str) -> None:
        with self._changed:
            self._log.append(text)
            self._changed.notify_all()

    def outputs(self, outputs: list[dict[str, Any]]) -> None:
        self.shown_outputs.extend(outputs)

    def finished(self, run: KaggleRun) -> None:
        self.runs.append(run)

    def wait_for_log(self, text: str, timeout: float = EVENT_TIMEOUT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: text in "".join(self._log), timeout)
