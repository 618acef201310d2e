"""Progress sinks: tqdm byte and file bars, thread safety, recording for tests, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from mlenv_magics.progress import RecordingProgress, TqdmProgress, tqdm_progress


def test_tqdm_bars_show_bytes_with_totals_and_files(capsys: pytest.CaptureFixture[str]) -> None:
    sink = tqdm_progress("alice/tiny")
    sink.start(2, 3 * 1024 * 1024)
    sink.file_started("a", 1024 * 1024)
    sink.advance("a", 1024 * 1024)
    sink.file_done("a")
    sink.advance("b", 2 * 1024 * 1024)
    sink.file_done("b")
    sink.close()
    sink.close()  # closing twice is harmless
    err = capsys.readouterr().err
    assert "alice/tiny" in err and "3.00M/3.00M" in err
    assert "2/2" in err  # the files bar


def test_single_file_has_only_a_byte_bar(capsys: pytest.CaptureFixture[str]) -> None:
    sink = TqdmProgress("one")
    sink.start(1, None)  # unknown total still shows bytes
    sink.advance("a", 5000)
    sink.close()
    err = capsys.readouterr().err
    assert "4.88k" in err and "file" not in err


def test_a_size_learned_from_the_server_fills_in_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink = TqdmProgress("archive")
    sink.start(1, None)
    sink.file_started("a.zip", None)
    sink.file_started("a.zip", 5000)  # Content-Length arrived
    sink.advance("a.zip", 5000)
    sink.close()
    assert "100%" in capsys.readouterr().err


def test_the_total_stays_unknown_while_a_size_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink = TqdmProgress("two")
    sink.start(2, None)
    sink.file_started("a", 100)
    sink.file_started("b", None)
    sink.advance("a", 100)
    sink.close()
    byte_bar_lines = [line for line in capsys.readouterr().err.split("\r") if "B/s" in line]
    assert byte_bar_lines and not any("%" in line for line in byte_bar_lines)


def test_tqdm_progress_is_thread_safe(capsys: pytest.CaptureFixture[str]) -> None:
    sink = TqdmProgress("threads")
    sink.start(8, 8 * 1000)

    def work(index: int) -> None:
        for _ in range(100):
            sink.advance(str(index), 10)
        sink.file_done(str(index))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sink._bytes_bar.n == 8000 and sink._files_bar.n == 8
    sink.close()
    capsys.readouterr()


def test_recording_progress_records_and_can_press_ctrl_c() -> None:
    sink = RecordingProgress(interrupt_after_bytes=15)
    sink.start(1, 20)
    sink.advance("a", 10)
    with pytest.raises(KeyboardInterrupt):
        sink.advance("a", 10)
    sink.advance("a", 10)  # fires once
    sink.file_done("a")
    assert sink.bytes_advanced == 30 and sink.done_files() == ["a"]
    assert sink.calls("start") == [("start", 1, 20)]


def test_heavy_modules_load_only_when_used() -> None:
    code = (
        "import sys, mlenv_magics.progress, mlenv_magics.transfer, mlenv_magics.cache,"
        " mlenv_magics.archives, mlenv_magics.checksums, mlenv_magics.cache_command;"
        " print(sorted(m for m in ('tqdm', 'requests', 'filelock', 'urllib3', 'ipywidgets')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
