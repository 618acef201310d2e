"""``%%on_local`` in a real kernel: the body is the cell (await, AST transformers, Out, errors)."""

from __future__ import annotations

from typing import Any

import pytest

from mlenv_magics.testing.notebook_runner import own_kernel

pytestmark = pytest.mark.kernel

TIMEOUT_S = 60

SETUP = """
import ast
class FortyOneIsFortyTwo(ast.NodeTransformer):
    def visit_Constant(self, node):
        return ast.copy_location(ast.Constant(42), node) if node.value == 41 else node
get_ipython().ast_transformers.append(FortyOneIsFortyTwo())
%load_ext mlenv_magics
"""


class Cell:
    def __init__(self, reply: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        self.reply = reply["content"]
        self.messages = messages

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] == msg_type]

    @property
    def stdout(self) -> str:
        return "".join(c["text"] for c in self.of_type("stream") if c["name"] == "stdout")


def run(client: Any, code: str, *, fails: bool = False) -> Cell:
    # A failing cell is sent as "Run all" would not: the kernel must not drop the next one.
    messages: list[dict[str, Any]] = []
    reply = client.execute_interactive(
        code, timeout=TIMEOUT_S, output_hook=messages.append, stop_on_error=not fails
    )
    return Cell(reply, messages)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with own_kernel(tmp_path_factory.mktemp("kernel")) as client:
        assert run(client, SETUP).reply["status"] == "ok"
        yield client


def test_await_ast_transformers_and_the_last_expression(kernel: Any) -> None:
    cell = run(kernel, "%%on_local\nimport asyncio\nawait asyncio.sleep(0)\nvalue = 41\nvalue\n")
    assert cell.reply["status"] == "ok", cell.reply
    [result] = cell.of_type("execute_result")
    assert result["data"]["text/plain"] == "42"
    assert result["execution_count"] == cell.reply["execution_count"]
    count = cell.reply["execution_count"]
    assert run(kernel, f"print(Out[{count}], _)").stdout.split() == ["42", "42"]


def test_a_skipped_cell_prints_one_line_and_returns_nothing(kernel: Any) -> None:
    cell = run(kernel, "%%on_kaggle\nprint('ran')\n")
    assert cell.reply["status"] == "ok"
    assert cell.of_type("execute_result") == []
    assert cell.stdout == (
        "skipped: %%on_kaggle runs this cell only on Kaggle; this is local machine.\n"
    )


def test_an_error_in_the_body_is_the_cells_error(kernel: Any) -> None:
    cell = run(kernel, "%%on_local\nbefore = 1\n1 / 0\nafter = 1\n", fails=True)
    assert cell.reply["status"] == "error" and cell.reply["ename"] == "ZeroDivisionError"
    assert run(kernel, "print('after' in dir(), before)").stdout.split() == ["False", "1"]


def test_interrupting_the_body_fails_the_cell(kernel: Any) -> None:
    # Short sleeps: the kernel's SIGINT may land on another thread, and Python acts on it at
    # the main thread's next step, which one long sleep would postpone.
    code = (
        "%%on_local\nimport time\nprint('started', flush=True)\n"
        "for _ in range(6000):\n    time.sleep(0.01)\nfinished = 1\n"
    )
    msg_id = kernel.execute(code, stop_on_error=False)
    while True:  # wait for the body to be running, then press the kernel's stop button
        message = kernel.get_iopub_msg(timeout=TIMEOUT_S)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream" and "started" in message["content"]["text"]:
            break
    kernel.parent.interrupt_kernel()
    reply = kernel.get_shell_msg(timeout=TIMEOUT_S)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.get_shell_msg(timeout=TIMEOUT_S)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert run(kernel, "print('finished' in dir())").stdout.strip() == "False"
