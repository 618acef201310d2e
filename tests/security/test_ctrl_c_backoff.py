"""Ctrl-C during a back-off (``429 Retry-After: 10``) surfaces at once, whether the download
runs in the main thread, in parallel files or in parallel ranges; the partial bytes stay."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlenv_magics import add_data
from mlenv_magics.testing.kaggle_fake import KaggleFake
from mlenv_magics.transfer import TransferPolicy

PROMPT = 1.0  # seconds from Ctrl-C to KeyboardInterrupt, at most


class CtrlC:
    """Presses a real Ctrl-C (SIGINT to the main thread) once ``ready()`` holds."""

    def __init__(self, ready: Callable[[], bool]) -> None:
        self.ready = ready
        self.pressed_at: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        main = threading.main_thread().ident
        assert main is not None
        deadline = time.monotonic() + 60
        while not self._done.is_set() and time.monotonic() < deadline:
            if self.ready():
                self.pressed_at = time.monotonic()
                signal.pthread_kill(main, signal.SIGINT)
                return
            self._done.wait(0.01)

    def __enter__(self) -> CtrlC:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


@pytest.fixture
def files(kaggle_fake: KaggleFake, tmp_path: Path, default_sigint: None) -> Iterator[list[str]]:
    folder = tmp_path / "served"
    folder.mkdir()
    names = ["a.bin", "b.bin"]
    for name in names:
        (folder / name).write_bytes(os.urandom(1_000_000))
    kaggle_fake.add_dataset("alice/slow", {name: folder / name for name in names})
    yield names


def _throttle(fake: KaggleFake, name: str, **more: object) -> str:
    blob = fake.dataset_file_blob("alice/slow", name)
    fake.blobs.faults(blob, status=429, retry_after="10", status_times=100, **more)
    return blob


def _answered_429(fake: KaggleFake, blobs: list[str]) -> Callable[[], bool]:
    return lambda: all(429 in fake.blobs.stats(blob).statuses for blob in blobs)


def _interrupted_after(press: CtrlC, fetch: Callable[[], object]) -> float:
    with press, pytest.raises(KeyboardInterrupt):
        fetch()
    surfaced = time.monotonic()
    assert press.pressed_at is not None
    return surfaced - press.pressed_at


def test_ctrl_c_during_a_back_off_in_the_main_thread(
    kaggle_fake: KaggleFake, files: list[str]
) -> None:
    blob = _throttle(kaggle_fake, files[0])
    press = CtrlC(_answered_429(kaggle_fake, [blob]))
    late = _interrupted_after(press, lambda: add_data("alice/slow", files=files[:1], quiet=True))
    assert late < PROMPT


def test_ctrl_c_during_a_back_off_of_parallel_files(
    kaggle_fake: KaggleFake, files: list[str]
) -> None:
    blobs = [_throttle(kaggle_fake, name) for name in files]
    press = CtrlC(_answered_429(kaggle_fake, blobs))
    late = _interrupted_after(press, lambda: add_data("alice/slow", files=files, quiet=True))
    assert late < PROMPT


def test_ctrl_c_during_a_back_off_of_parallel_ranges(
    kaggle_fake: KaggleFake, files: list[str]
) -> None:
    # the first GET is answered (and starts the ranges), the range requests are told to wait
    blob = _throttle(kaggle_fake, files[0], status_from=1, rate=2_000_000)
    ranged = TransferPolicy(parallel_ranges=4, range_threshold=100_000)
    press = CtrlC(_answered_429(kaggle_fake, [blob]))
    late = _interrupted_after(
        press, lambda: add_data("alice/slow", files=files[:1], quiet=True, policy=ranged)
    )
    assert late < PROMPT
    partial = Path(os.environ["MLENV_CACHE_DIR"]) / ".partial"
    assert any(p.stat().st_size for p in partial.rglob("*.part"))  # kept for the rerun
