"""``%mlenv_gpu --live`` in a real kernel of this interpreter (ipykernel 7 and ipywidgets 8 on
the latest stack, ipykernel 6.17 and ipywidgets 7.7.1 on Colab's pins): the widget state that
the background thread sends reaches the frontend while another cell runs, carrying a parent
message, and ``--stop`` leaves no thread behind. The fake nvidia-smi replays a T4 capture
whose memory use climbs from one call to the next, and NVML replayed through the real call
names (tests/gpu/nvml_replay.py)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from gpu_kit import changing_t4, fake_path

from mlenv_magics.gpu.report import WIDGET_MIME
from mlenv_magics.testing.notebook_runner import own_kernel

pytestmark = pytest.mark.kernel

DEADLINE_S = 90.0
START = "%load_ext mlenv_magics\nmonitor = %mlenv_gpu --live 0.2\nmonitor"
TRAIN = (
    "import time\n"
    "assert monitor.wait_for_refreshes(4, 60), monitor.to_dict()['error']\n"
    "print('REFRESHES', monitor.refreshes)"
)
STOP = (
    "%mlenv_gpu --stop\n"
    "import threading\n"
    "print('THREADS', sorted(t.name for t in threading.enumerate()))"
)


def _run(client: Any, code: str) -> list[dict[str, Any]]:
    """Every IOPub message from sending ``code`` until the kernel is idle again."""
    msg_id = client.execute(code)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=DEADLINE_S)
        seen.append(message)
        parent = message["parent_header"].get("msg_id")
        if (
            parent == msg_id
            and message["msg_type"] == "status"
            and message["content"]["execution_state"] == "idle"
        ):
            return seen
    raise AssertionError(f"no idle status within {DEADLINE_S} s: {seen[-3:]}")


def _errors(messages: list[dict[str, Any]]) -> list[Any]:
    return [m["content"] for m in messages if m["msg_type"] == "error"]


def _printed(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


REPLAYED_NVML = f"""
%load_ext mlenv_magics
import sys
sys.path[:0] = [{str(Path(__file__).resolve().parent)!r}]
from gpu_kit import no_packages, with_nvidia_files
from nvml_replay import ReplayNvml, t4
from IPython.core.error import UsageError
from mlenv_magics import gpu_command
from mlenv_magics.gpu import gpu_report, refresh_report
from mlenv_magics.runtime import detect_runtime
nvml = ReplayNvml(t4())
used = iter(range(2000, 15000, 500))
options = dict(env={{"PATH": "/nonexistent"}}, nvml=nvml, path_exists=with_nvidia_files,
               system="linux")
def read(previous):
    nvml.recording.devices[0]["memory"] = (15360, next(used))
    return refresh_report(previous, **options)
report = gpu_report(**options, runtime=detect_runtime(shell=get_ipython()),
                    find_spec=no_packages, modules={{}})
monitor = gpu_command.start_live(gpu_command.GpuOptions(live=0.2), UsageError,
                                 refresh=read, report=report)
monitor
"""


def _check_live_view(client: Any, start: str) -> None:
    started = _run(client, start)
    assert not _errors(started), _errors(started)
    [shown] = [m["content"]["data"] for m in started if m["msg_type"] == "execute_result"]
    assert shown["text/plain"].startswith("GPU live view · live · every 0.2 s")
    assert WIDGET_MIME in shown and 'data-mlenv-card="0"' in shown["text/html"]
    opened = {m["content"]["comm_id"] for m in started if m["msg_type"] == "comm_open"}

    training = _run(client, TRAIN)
    assert not _errors(training), _errors(training)
    assert "REFRESHES" in _printed(training)
    updates = [
        m
        for m in training
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] in opened
        and m["content"]["data"].get("method") == "update"
        and "value" in m["content"]["data"].get("state", {})
    ]
    values = [u["content"]["data"]["state"]["value"] for u in updates]
    cards = [v for v in values if 'data-mlenv-card="0"' in v]
    used = [m.group(1) for v in cards for m in [re.search(r"([\d.]+ / 15\.0 GiB)", v)] if m]
    assert len(set(used)) >= 2, used  # the memory shown changed between refreshes
    assert any("<svg" in v for v in cards)  # the history, as a sparkline
    assert all(u["parent_header"].get("msg_id") for u in updates)  # routable

    stopped = _run(client, STOP)
    assert not _errors(stopped), _errors(stopped)
    printed = _printed(stopped)
    assert re.search(r"Stopped the live GPU view after \d+ refreshes\.", printed), printed
    assert "mlenv-gpu-live" not in printed.split("THREADS", 1)[1]


def test_live_view_from_the_fake_nvidia_smi_updates_while_a_cell_runs(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "PATH": fake_path(),
            "MLENV_GPU_BACKEND": "nvidia-smi",
            "MLENV_FAKE_SMI_FIXTURE": changing_t4(tmp_path, steps=8),
            "MLENV_FAKE_SMI_STATE": str(tmp_path / "position"),
        }
    )
    with own_kernel(tmp_path / "kernel", env=env) as client:
        _check_live_view(client, START)


def test_live_view_from_replayed_nvml_updates_while_a_cell_runs(tmp_path: Path) -> None:
    with own_kernel(tmp_path / "kernel") as client:
        _check_live_view(client, REPLAYED_NVML)
