"""Remote-run waits driven by the Kaggle fake's events instead of real seconds, for a client in
another process (the CLI, a kernel): ``install(FAKE_URL)`` replaces the default timing with a
clock that moves only when the poller sleeps, and a sleep that returns once the fake's
test-kit endpoint says something changed."""

from __future__ import annotations

import json
import urllib.request

from mlenv_magics.kaggle_run import wait

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def install(fake_url: str) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        url = f"{fake_url}/_fake/kernels/wait-for-change?timeout=60"
        with DIRECT.open(url, timeout=90) as answer:
            if not json.load(answer)["changed"]:
                raise RuntimeError("the fake did not change within the safety timeout")

    wait.default_timing = lambda: wait.WaitClock(clock=lambda: now[0], sleep=sleep)
