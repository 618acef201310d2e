"""``%mlenv_gpu --live``: the background monitor, with NVML replayed through the real call
names and the fake nvidia-smi replaying captures whose values change between refreshes."""

from __future__ import annotations

import gc
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpu_kit import T4, changing_t4, fake_path, no_packages, smi_env, with_nvidia_files
from IPython.core.error import UsageError
from nvml_replay import ReplayNvml, t4

from mlenv_magics import gpu_command
from mlenv_magics.cli import main
from mlenv_magics.gpu import gpu_report, refresh_report
from mlenv_magics.gpu.live import GpuMonitor, LiveRefresh, current, replace_current, stop_current

WAIT_S = 30.0  # an upper bound for events that come within milliseconds


@pytest.fixture(autouse=True)
def no_monitor_left() -> Iterator[None]:
    yield
    stop_current()


def _replayed(sysfs: Path, recording: Any = None) -> tuple[Any, Callable[[Any], Any], Any]:
    """A report read through a replayed NVML, and the refresh that reads it again."""
    recording = recording or t4()
    nvml = ReplayNvml(recording)
    env = {"PATH": "/nonexistent"}
    report = gpu_report(
        env=env,
        nvml=nvml,
        path_exists=with_nvidia_files,
        sysfs_root=str(sysfs),
        find_spec=no_packages,
        modules={},
        system="linux",
        pid=5762,
    )

    def refresh(previous: Any) -> Any:
        return refresh_report(
            previous, env=env, nvml=nvml, path_exists=with_nvidia_files, system="linux"
        )

    return report, refresh, recording


def test_refreshes_in_the_background_and_keeps_history_and_peaks(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, read, recording = _replayed(sysfs)
    used = iter(range(2000, 100000, 1000))

    def refresh(previous: Any) -> Any:
        recording.devices[0]["memory"] = (15360, next(used))
        recording.devices[0]["util"] = 40
        return read(previous)

    monitor = GpuMonitor(report, refresh, interval_s=0.01).start()
    try:
        assert monitor.wait_for_refreshes(3, WAIT_S)
    finally:
        monitor.stop()
    history = monitor.history
    assert len(history) >= 4  # the first report plus every refresh
    assert history[0].devices["0"].memory_used_mib == 1032
    assert [s.devices["0"].memory_used_mib for s in history[1:4]] == [2000, 3000, 4000]
    assert history[1].devices["0"].utilization_pct == 40
    assert monitor.peaks["0"] == history[-1].devices["0"].memory_used_mib
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(history))
    spark = monitor.sparklines()["0"]
    assert spark["memory"].startswith("<svg") and spark["util"].startswith("<svg")
    data = json.loads(json.dumps(monitor.to_dict()))
    assert data["running"] is False and data["refreshes"] == monitor.refreshes >= 3
    assert data["history"][1]["devices"]["0"]["memory_used_mib"] == 2000
    assert data["report"]["devices"][0]["name"] == "Tesla T4"


def test_a_refresh_reads_only_the_gpus_not_the_frameworks(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, refresh, _ = _replayed(sysfs)
    fresh = refresh(report)
    assert fresh.frameworks is report.frameworks and fresh.host == report.host
    assert fresh.devices[0].compute_capability == "7.5"
    assert fresh.devices is not report.devices


def test_stop_is_immediate_even_with_a_long_interval(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, refresh, _ = _replayed(sysfs)
    monitor = GpuMonitor(report, refresh, interval_s=3600).start()
    thread = monitor._thread
    assert thread is not None and thread.is_alive()
    started = time.monotonic()
    monitor.stop()
    assert not thread.is_alive()
    assert time.monotonic() - started < 0.5
    assert not monitor.running and monitor.live_line().startswith("stopped")


def test_a_failing_probe_shows_its_reason_and_backs_off(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, _, _ = _replayed(sysfs)

    def broken(previous: Any) -> Any:
        raise RuntimeError("NVML went away")

    monitor = GpuMonitor(report, broken, interval_s=1.0, max_backoff_s=8.0)
    assert [monitor.tick() for _ in range(4)] == [2.0, 4.0, 8.0, 8.0]
    assert monitor.error == "RuntimeError: NVML went away" and monitor.failures == 4
    assert "probe failed: RuntimeError: NVML went away · retrying in 8 s" in monitor.live_line()
    assert "NVML went away" in monitor._repr_html_()
    assert monitor.history[-1].devices["0"].memory_used_mib == 1032  # the last good values


def test_a_failing_probe_in_the_thread_leaves_no_thread_spinning(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, _, _ = _replayed(sysfs)
    calls: list[float] = []

    def broken(previous: Any) -> Any:
        calls.append(time.monotonic())
        raise OSError("nvidia-smi vanished")

    monitor = GpuMonitor(report, broken, interval_s=0.01, max_backoff_s=3600).start()
    assert monitor.wait_for_refreshes(2, WAIT_S)
    # After two failures the delay is 0.04 s, then 0.08 s...: a few calls, not a spin.
    assert len(calls) <= 8
    monitor.stop()
    assert monitor._thread is not None and not monitor._thread.is_alive()


def test_a_dropped_monitor_ends_its_thread(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, refresh, _ = _replayed(sysfs)
    monitor = GpuMonitor(report, refresh, interval_s=0.01).start()
    assert monitor.wait_for_refreshes(1, WAIT_S)
    thread = monitor._thread
    assert thread is not None and thread.daemon
    del monitor
    gc.collect()
    thread.join(WAIT_S)
    assert not thread.is_alive()


def test_one_monitor_per_kernel(sysfs) -> None:  # type: ignore[no-untyped-def]
    report, refresh, _ = _replayed(sysfs)
    first = replace_current(GpuMonitor(report, refresh, interval_s=3600))
    second = replace_current(GpuMonitor(report, refresh, interval_s=3600))
    assert current() is second and not first.running and second.running
    assert stop_current() is second and not second.running and current() is None
    assert stop_current() is None


def test_refreshes_from_the_fake_nvidia_smi_follow_changing_captures(
    sysfs: Path, tmp_path: Path
) -> None:
    env = smi_env(None)
    env["MLENV_FAKE_SMI_FIXTURE"] = changing_t4(tmp_path)
    env["MLENV_FAKE_SMI_STATE"] = str(tmp_path / "position")
    env["MLENV_FAKE_SMI_LOG"] = str(tmp_path / "calls.log")
    options: dict[str, Any] = {"env": env, "path_exists": with_nvidia_files, "system": "linux"}
    report = gpu_report(
        **options, nvml=False, sysfs_root=str(sysfs), find_spec=no_packages, modules={}
    )
    monitor = GpuMonitor(
        report, lambda prev: refresh_report(prev, nvml=False, **options), interval_s=0.01
    ).start()
    try:
        assert monitor.wait_for_refreshes(3, WAIT_S)
    finally:
        monitor.stop()
    used = [s.devices["0"].memory_used_mib for s in monitor.history[:4]]
    assert used == [1032, 2832, 4632, 6432]
    assert [s.devices["0"].power_w for s in monitor.history[1:4]] == [32.0, 37.0, 42.0]
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[:2] == ["-q -x", "--query-gpu=uuid,compute_cap --format=csv,noheader,nounits"]
    assert set(calls[2:]) == {"-q -x"}  # a refresh asks nvidia-smi once
    assert monitor.report.devices[0].compute_capability == "7.5"


def test_live_options_are_checked() -> None:
    class Args:
        require = min_memory = watch = count = None
        json = stop = False
        live: float | None = 0.01

    with pytest.raises(UsageError, match="at least"):
        gpu_command.GpuOptions.from_args(Args(), UsageError)
    Args.live, Args.json = 2.0, True
    with pytest.raises(UsageError, match="without --watch and --json"):
        gpu_command.GpuOptions.from_args(Args(), UsageError)
    Args.json, Args.stop = False, True
    with pytest.raises(UsageError, match="--stop takes no other option"):
        gpu_command.GpuOptions.from_args(Args(), UsageError)


def test_magic_live_without_widgets_points_to_watch(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", fake_path())
    monkeypatch.setenv("MLENV_GPU_BACKEND", "nvidia-smi")
    monkeypatch.setenv("MLENV_FAKE_SMI_FIXTURE", str(T4))
    with pytest.raises(UsageError, match="--watch SECONDS"):
        ip.run_line_magic("mlenv_gpu", "--live")
    assert current() is None
    assert not [t for t in threading.enumerate() if t.name == "mlenv-gpu-live"]


def test_magic_stop_without_a_view_says_so(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    assert ip.run_line_magic("mlenv_gpu", "--stop") is None
    assert capsys.readouterr().out.strip() == "No live GPU view is running."


def test_cli_live_is_a_usage_error_pointing_to_watch(clean_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu", "--live"]) == 2
    assert "--watch" in capsys.readouterr().err
    assert main(["gpu", "--live", "1", "--watch", "1"]) == 2


def test_with_nvidia_smi_one_looping_process_serves_every_refresh(
    sysfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = smi_env(None)
    env["MLENV_FAKE_SMI_FIXTURE"] = changing_t4(tmp_path)
    env["MLENV_FAKE_SMI_STATE"] = str(tmp_path / "position")
    env["MLENV_FAKE_SMI_LOG"] = str(tmp_path / "calls.log")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report = gpu_report(
        env=env, nvml=False, path_exists=with_nvidia_files, system="linux",
        sysfs_root=str(sysfs), find_spec=no_packages, modules={},
    )  # fmt: skip
    refresh = LiveRefresh(0.1, env)
    monitor = GpuMonitor(report, refresh, interval_s=0.1).start()
    try:
        assert monitor.wait_for_refreshes(3, WAIT_S), monitor.error
    finally:
        monitor.stop()
    process = refresh._stream
    assert process is not None and process._process is None  # closed with the view
    assert monitor.failures == 0, monitor.error
    used = [s.devices["0"].memory_used_mib for s in monitor.history]
    assert len(set(used)) >= 3, used
    starts = [c for c in (tmp_path / "calls.log").read_text().splitlines() if "--loop-ms" in c]
    assert starts == ["-q -x --loop-ms=100"]
    assert monitor.report.devices[0].compute_capability == "7.5"


def test_unloading_the_extension_stops_the_live_view(ip, sysfs) -> None:  # type: ignore[no-untyped-def]
    report, refresh, _ = _replayed(sysfs)
    monitor = replace_current(GpuMonitor(report, refresh, interval_s=3600))
    assert monitor.running
    ip.run_line_magic("unload_ext", "mlenv_magics")
    try:
        assert not monitor.running and current() is None
    finally:
        ip.run_line_magic("load_ext", "mlenv_magics")


def test_on_colab_the_view_catches_up_after_every_cell(ip, sysfs) -> None:  # type: ignore[no-untyped-def]
    import ipywidgets

    if int(ipywidgets.__version__.split(".")[0]) < 8:
        pytest.skip("ipywidgets 7 opens comms only inside a kernel")
    from mlenv_magics.runtime import Runtime

    recording = t4()
    nvml = ReplayNvml(recording)
    report = gpu_report(
        env={"PATH": "/nonexistent"}, nvml=nvml, path_exists=with_nvidia_files,
        sysfs_root=str(sysfs), find_spec=no_packages, modules={}, system="linux",
        runtime=Runtime(host="colab", frontend="colab"),
    )  # fmt: skip
    options = gpu_command.GpuOptions(live=3600)
    monitor = gpu_command.start_live(
        options, UsageError, refresh=lambda previous: previous, report=report, events=ip.events
    )
    whole_states: list[None] = []

    def record(key: Any = None) -> None:
        if key is None:  # the whole state, not one changed trait
            whole_states.append(key)

    monitor.view.header.send_state = record
    ip.run_cell("x = 1")
    assert len(whole_states) == 1
    stop_current()
    ip.run_cell("x = 2")
    assert len(whole_states) == 1  # stopped: no longer follows the cells
