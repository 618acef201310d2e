"""``%%on_kaggle --remote`` in a real IPython kernel: what a notebook receives, with and
without widgets, and Ctrl-C (a kernel interrupt) during the wait."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mlenv_magics.testing import notebook_runner
from mlenv_magics.testing.kaggle_fake import KaggleFake

pytestmark = pytest.mark.kernel

HERE = Path(__file__).resolve().parent
SETUP = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from fake_time import install
install({{url!r}})
%load_ext mlenv_magics
"""
CELL = """%%on_kaggle --remote --out results
from IPython.display import HTML, display
print("hello from kaggle")
display(HTML("<b id='remote-html'>remote html</b>"))
open("model.pt", "w").write("weights")
"""


def kernel_env(fake: KaggleFake, tmp_path: Path, widgets: bool) -> dict[str, str]:
    env = notebook_runner.kernel_environment(tmp_path / "kernel", fake.env())
    env["MLENV_RUNTIME"] = "local"
    env["MLENV_WIDGETS"] = "1" if widgets else "0"
    env["JPY_SESSION_NAME"] = str(tmp_path / "train-model.ipynb")
    return env


def execute(client: Any, code: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    client.execute_interactive(code, timeout=120, output_hook=messages.append)
    return messages


def test_remote_cell_in_a_kernel_shows_log_outputs_and_the_run(
    fake: KaggleFake, tmp_path: Path
) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    with notebook_runner.own_kernel(
        tmp_path / "spec", env=kernel_env(fake, tmp_path, widgets=False), cwd=work
    ) as client:
        assert not [
            m for m in execute(client, SETUP.format(url=fake.url)) if m["msg_type"] == "error"
        ]
        messages = execute(client, CELL)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert "hello from kaggle" in printed and ": complete" in printed
    assert "/mlenv-train-model-" in printed  # named after the notebook
    shown = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
    assert any(d.get("text/html") == "<b id='remote-html'>remote html</b>" for d in shown)
    [result] = [m["content"]["data"] for m in messages if m["msg_type"] == "execute_result"]
    assert result["text/plain"].startswith("kaggle run fake-user/mlenv-train-model-")
    assert "complete" in result["text/html"]
    assert (work / "results" / "model.pt").read_text() == "weights"
    for message in messages:
        assert fake.token not in str(message["content"])


def test_the_widget_view_carries_status_and_log(fake: KaggleFake, tmp_path: Path) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    env = kernel_env(fake, tmp_path, widgets=True)
    env["MLENV_RUNTIME"] = "local"
    env["VSCODE_PID"] = "1"  # a widget frontend
    with notebook_runner.own_kernel(tmp_path / "spec", env=env, cwd=work) as client:
        execute(client, SETUP.format(url=fake.url))
        messages = execute(client, CELL)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert not errors, errors
    values = [
        str(m["content"]["data"].get("state", {}).get("value", ""))
        for m in messages
        if m["msg_type"] in ("comm_open", "comm_msg")
    ]
    states = [v for v in values if "mlenv-kaggle-state" in v]
    assert any(">queued<" in v for v in states) and ">complete<" in states[-1]
    assert any("hello from kaggle" in v and "mlenv-kaggle-log" in v for v in values)
    views = [m for m in messages if m["msg_type"] == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in m["content"]["data"] for m in views)


def test_interrupting_the_kernel_stops_the_wait_and_the_run_goes_on(
    fake: KaggleFake, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    work = tmp_path / "nb"
    work.mkdir()
    cell = (
        "%%on_kaggle --remote\nimport os, time\nprint('started', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
    )
    env = kernel_env(fake, tmp_path, widgets=False)
    manager = notebook_runner._kernel_manager(tmp_path / "spec", blocking=True)
    manager.start_kernel(env=env, cwd=str(work))
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        execute(client, SETUP.format(url=fake.url))

        def interrupt_once_started() -> None:
            for _ in range(600):
                kernel = next(iter(fake.kernels.kernels.values()), None)
                if kernel and kernel.latest and "started" in kernel.latest.log_path.read_text():
                    break
                threading.Event().wait(0.05)
            manager.interrupt_kernel()

        interrupter = threading.Thread(target=interrupt_once_started)
        interrupter.start()
        messages = execute(client, cell)
        interrupter.join(30)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert error["ename"] == "KeyboardInterrupt"
    printed = "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    assert "Stopped waiting (Ctrl-C). The run goes on at https://www.kaggle.com/code/" in printed
    ref = next(iter(fake.kernels.kernels))
    assert fake.kernels.kernel(ref).latest.status == "RUNNING"
    gate.touch()
    assert fake.kernels.wait_until(ref, {"COMPLETE"})
