"""Waiting for a run: adaptive polling never faster than 5 s, the stale-status guard, 404 or
``{}`` right after a push, --timeout, and Ctrl-C (which stops the wait, never the run)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlenv_magics.kaggle_run import RunOptions, WaitTimeoutError, kaggle_output, run_on_kaggle
from mlenv_magics.kaggle_run.client import KernelsClient
from mlenv_magics.kaggle_run.options import KernelRef
from mlenv_magics.kaggle_run.protocol import StatusAnswer
from mlenv_magics.kaggle_run.wait import MIN_INTERVAL, wait_for_end
from mlenv_magics.testing.kaggle_fake import KaggleFake

from .remote_kit import FakeTime, Recorder


def blocked_code(gate: Path, before: str = "waiting") -> str:
    return (
        f"import os, time\nprint({before!r}, flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
        "open('done.txt', 'w').write('finished')"
    )


def test_polling_grows_from_5_s_and_is_bounded_by_the_timeout(
    fake: KaggleFake, client: KernelsClient, recorder: Recorder
) -> None:
    fake.kernels.queue_seconds = 3600  # stays queued for the whole wait
    time = FakeTime()  # sleeps only move the clock: nothing will change on the fake
    with pytest.raises(WaitTimeoutError) as caught:
        run_on_kaggle(
            "print(1)",
            RunOptions(timeout=600),
            reporter=recorder,
            client=client,
            timing=time.timing(),
        )
    assert time.pauses[:4] == [5.0, 7.5, 11.25, 16.875]
    assert min(time.sleeps) >= MIN_INTERVAL and max(time.pauses) <= 30.0
    assert sum(time.pauses) <= 600
    polls = len(fake.calls_to("GetKernelSessionStatus")) - 1  # one before the push
    assert polls == len(time.sleeps) + 1 and polls < 600 / MIN_INTERVAL
    message = str(caught.value)
    assert "goes on on Kaggle" in message and "%mlenv_kaggle output fake-user/mlenv-" in message
    assert fake.kernels.kernel(next(iter(fake.kernels.kernels))).latest.status == "QUEUED"


@pytest.mark.parametrize("knob", ["not_found_calls", "empty_status_calls"])
def test_404_or_empty_status_right_after_a_push_means_queued(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder, knob: str
) -> None:
    setattr(fake.kernels, knob, 2)
    result = run_on_kaggle(
        "print('ran')", RunOptions(), reporter=recorder, client=client, timing=fake_time.timing()
    )
    assert result.status == "complete" and "ran" in result.log
    assert recorder.statuses[:3] == ["queued", "queued", "queued"]


def test_a_stale_status_of_the_previous_run_is_not_taken_for_this_one(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder
) -> None:
    code = "import os\nopen('version.txt', 'w').write(os.environ.get('RUN_MARK', 'x'))\nprint(1)"
    first = run_on_kaggle(
        code, RunOptions(), reporter=recorder, client=client, timing=fake_time.timing()
    )
    fake.kernels.stale_status_calls = 3  # the next push is answered COMPLETE (of v1) 3 times
    fake.kernels.queue_seconds = 0.3
    second = run_on_kaggle(
        code, RunOptions(), reporter=recorder, client=client, timing=fake_time.timing()
    )
    assert (first.version, second.version) == (1, 2)
    assert second.out is not None and second.out.name == "v2"
    assert fake.kernels.session(second.ref, 2).status == "COMPLETE"
    # the three stale COMPLETE answers were shown as queued, and the wait went on
    statuses = recorder.statuses[recorder.statuses.index("complete") + 1 :]
    assert statuses[:4] == ["queued", "queued", "queued", "queued"]


def test_a_finished_status_after_the_grace_period_is_trusted(
    fake: KaggleFake, client: KernelsClient
) -> None:
    fake.kernels.add_finished(f"{fake.username}/quick-run", {"a.txt": b"a"})
    kernel = KernelRef(fake.username, "quick-run")
    time = FakeTime()
    polls: list[str] = []
    final = wait_for_end(
        client,
        kernel,
        StatusAnswer("complete", ""),  # the same as before the push: possibly stale
        timeout=3600,
        on_poll=lambda poll: polls.append(poll.answer.state),
        timing=time.timing(),
    )
    assert final.answer.state == "complete" and final.elapsed >= 60
    assert polls[0] == "queued" and polls[-1] == "complete"


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Ctrl-C must raise KeyboardInterrupt even where SIGINT is ignored (nohup, CI)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_the_wait_not_the_run_and_says_how_to_fetch_later(
    fake: KaggleFake,
    client: KernelsClient,
    fake_time: FakeTime,
    recorder: Recorder,
    tmp_path: Path,
    default_sigint: None,
) -> None:
    gate = tmp_path / "gate"

    def press_ctrl_c_once_running() -> None:
        if recorder.wait_for_log("waiting"):
            os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_once_running)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        run_on_kaggle(
            blocked_code(gate),
            RunOptions(),
            reporter=recorder,
            client=client,
            timing=fake_time.timing(),
        )
    presser.join(10)
    ref = next(iter(fake.kernels.kernels))
    hint = [n for n in recorder.notices if n.startswith("Stopped waiting (Ctrl-C)")]
    assert hint and f"%mlenv_kaggle output {fake.kernels.kernel(ref).ref}" in hint[0]
    session = fake.kernels.kernel(ref).latest
    assert session.status == "RUNNING"  # the run goes on
    gate.touch()
    assert fake.kernels.wait_until(ref, {"COMPLETE"})
    later = kaggle_output(fake.kernels.kernel(ref).ref, client=client)
    assert later.out is not None and (later.out / "done.txt").read_text() == "finished"


def test_a_cut_log_stream_reconnects_and_nothing_is_shown_twice(
    fake: KaggleFake, client: KernelsClient, fake_time: FakeTime, recorder: Recorder, tmp_path: Path
) -> None:
    from mlenv_magics.kaggle_run.wait import LogFollower

    gate = tmp_path / "gate"
    pushed = run_on_kaggle(
        blocked_code(gate, before="first line") + "\nprint('second line')",
        RunOptions(detach=True),
        client=client,
    )
    kernel = KernelRef(*pushed.ref.split("/"))
    assert fake.kernels.wait_until(pushed.ref, {"RUNNING"})
    # a read timeout far below the run's silence: the stream is cut and reopened (replayed)
    follower = LogFollower(client, kernel, recorder.log, read_timeout=0.3).start()
    assert recorder.wait_for_log("first line")
    for _ in range(600):
        if len(fake.calls_to("LogStream")) >= 3:
            break
        threading.Event().wait(0.05)
    gate.touch()
    assert recorder.wait_for_log("second line")
    assert follower.ended.wait(30)
    follower.stop()
    assert len(fake.calls_to("LogStream")) >= 3
    assert recorder.log_text == "first line\nsecond line\n"
