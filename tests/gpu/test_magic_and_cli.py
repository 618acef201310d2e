"""``%mlenv_gpu`` through a real IPython shell and ``mlenv gpu`` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpu_kit import T4, fake_path
from IPython.utils.capture import capture_output

from mlenv_magics import gpu_command
from mlenv_magics.cli import main
from mlenv_magics.errors import AcceleratorMissingError
from mlenv_magics.gpu import GpuReport


@pytest.fixture
def fake_t4(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The real probe path, answered by the fake nvidia-smi replaying the T4 capture."""
    log = tmp_path / "smi.log"
    monkeypatch.setenv("PATH", fake_path())
    monkeypatch.setenv("MLENV_FAKE_SMI_FIXTURE", str(T4))
    monkeypatch.setenv("MLENV_FAKE_SMI_LOG", str(log))
    monkeypatch.setenv("MLENV_GPU_BACKEND", "nvidia-smi")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return log


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLENV_GPU_BACKEND", "none")


def test_assignment_returns_the_report_and_shows_nothing(ip, fake_t4) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        ip.run_cell("gpus = %mlenv_gpu")
    assert captured.stdout == "" and captured.outputs == []
    report = ip.user_ns["gpus"]
    assert isinstance(report, GpuReport)
    assert report.backend == "nvidia-smi" and report.devices[0].name == "Tesla T4"


def test_last_line_shows_once(ip, fake_t4) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        ip.run_cell("%mlenv_gpu", store_history=True)
    assert captured.stdout.count("GPU report") == 1
    assert "Tesla T4" in captured.stdout


def test_json_prints_and_returns_nothing(ip, fake_t4) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        assert ip.run_line_magic("mlenv_gpu", "--json") is None
    data = json.loads(captured.stdout)
    assert data["backend"] == "nvidia-smi" and data["devices"][0]["memory_total_mib"] == 15360


def test_require_stops_the_cell_with_a_short_message(ip, no_gpu, capsys) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%mlenv_gpu --require gpu\nafter = 1\n")
    out = capsys.readouterr()
    assert isinstance(result.error_in_exec, AcceleratorMissingError)
    assert "after" not in ip.user_ns
    assert "AcceleratorMissingError: No GPU is available" in out.out
    assert "Traceback" not in out.out + out.err


def test_min_memory_through_the_magic(ip, fake_t4) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(ip.run_line_magic("mlenv_gpu", "--min-memory 15GiB"), GpuReport)
    with pytest.raises(AcceleratorMissingError, match=r"--min-memory 20\.0 GiB"):
        ip.run_line_magic("mlenv_gpu", "--min-memory 20GiB")


def test_watch_refreshes_in_the_foreground_and_stops_after_count(ip, fake_t4) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        assert ip.run_line_magic("mlenv_gpu", "--watch 0.01 --count 3") is None
    shown = [output.data["text/plain"] for output in captured.outputs]
    assert len(shown) == 3 and all(text.startswith("GPU report") for text in shown)
    assert fake_t4.read_text().splitlines().count("-q -x") == 3


def test_watch_interrupt_is_re_raised() -> None:
    shown: list[object] = []

    class Display:
        def update(self, obj: object) -> None:
            shown.append(obj)

    class Report:
        _widget_view = None

        def check(self, **_: object) -> None:
            pass

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    options = gpu_command.GpuOptions(watch=1.0)
    with pytest.raises(KeyboardInterrupt):
        gpu_command.watch(options, Display(), sleep=interrupted, probe=Report)
    assert len(shown) == 1


def test_cli_text_and_json(clean_env, fake_t4, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu"]) == 0
    assert "Tesla T4" in capsys.readouterr().out
    assert main(["gpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["devices"][0]["uuid"].startswith("GPU-d37e")


def test_cli_require_fails_with_exit_1(clean_env, no_gpu, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu", "--require", "accelerator"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: No GPU or TPU was found")
    assert "Install the NVIDIA driver" in captured.err


def test_cli_min_memory_and_bad_usage(clean_env, fake_t4, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu", "--min-memory", "8GiB", "--require", "gpu"]) == 0
    assert main(["gpu", "--min-memory", "32GiB"]) == 1
    assert main(["gpu", "--require", "cpu"]) == 2
    assert main(["gpu", "--watch", "-1"]) == 2


def test_cli_watch_json_prints_one_line_per_refresh(clean_env, fake_t4, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu", "--watch", "0.01", "--count", "2", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["backend"] == "nvidia-smi" for line in lines)


def test_magic_watch_json_prints_one_document_per_refresh(ip, fake_t4, capsys) -> None:  # type: ignore[no-untyped-def]
    assert ip.run_line_magic("mlenv_gpu", "--watch 0.01 --count 2 --json") is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["devices"][0]["name"] == "Tesla T4" for line in lines)
