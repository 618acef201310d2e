"""``%%on_<host>`` cells in a real shell: on their host the body runs as the cell itself."""

from __future__ import annotations

import ast
import os
import signal
import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from mlenv_magics.host_cells import HostCellTransformer, plain_host_magic, rewrite_host_cell
from mlenv_magics.report import RuntimeReport
from mlenv_magics.runtime import Runtime

LOCAL = Runtime(host="local", frontend="python")
KAGGLE = Runtime(host="kaggle", frontend="kaggle", run_type="interactive")


class FortyOneIsFortyTwo(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if node.value == 41:
            return ast.copy_location(ast.Constant(42), node)
        return node


@pytest.fixture
def run(ip):  # type: ignore[no-untyped-def]
    def run_cell(source: str):  # type: ignore[no-untyped-def]
        return ip.run_cell(source, store_history=True)

    return run_cell


# The rewrite itself, without a shell.


@pytest.mark.parametrize(
    ("first_line", "magic"),
    [
        ("%%on_local\n", "on_local"),
        ("%%on_kaggle -q\n", "on_kaggle"),
        ("%%on_colab  --quiet  \n", "on_colab"),
        ("%%on_kaggle --remote\n", None),
        ("%%on_local --verbose\n", None),
        ("%%on_local {flag}\n", None),
        ("%%on_locally\n", None),
        ("x = 1\n", None),
    ],
)
def test_only_the_plain_form_is_recognised(first_line: str, magic: str | None) -> None:
    assert plain_host_magic(first_line) == magic


def test_on_its_host_the_cell_becomes_its_body() -> None:
    lines = ["%%on_local -q\n", "x = 1\n", "x\n"]
    assert rewrite_host_cell(lines, lambda: LOCAL) == ["x = 1\n", "x\n"]
    assert rewrite_host_cell(lines, lambda: KAGGLE) == lines


def test_a_failing_host_detection_leaves_the_cell_to_the_magic() -> None:
    def broken() -> Runtime:
        raise ValueError("bad MLENV_RUNTIME")

    lines = ["%%on_local\n", "x = 1\n"]
    assert rewrite_host_cell(lines, broken) == lines


# Through a real shell.


def test_top_level_await_runs_on_the_host(ip, run) -> None:  # type: ignore[no-untyped-def]
    result = run("%%on_local\nimport asyncio\nawait asyncio.sleep(0)\nawaited = 'yes'\n")
    assert result.success, result.error_in_exec
    assert ip.user_ns["awaited"] == "yes"


def test_the_shells_ast_transformers_apply_to_the_body(ip, run) -> None:  # type: ignore[no-untyped-def]
    transformer = FortyOneIsFortyTwo()
    ip.ast_transformers.append(transformer)
    try:
        result = run("%%on_local\nanswer = 41\n")
    finally:
        ip.ast_transformers.remove(transformer)
    assert result.success and ip.user_ns["answer"] == 42


def test_last_expression_is_displayed_and_kept_in_out_history(ip, run) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        result = run("%%on_local\nvalue = 6\nvalue * 7\n")
    assert result.result == 42
    assert "42" in captured.stdout
    assert ip.user_ns["Out"][result.execution_count] == 42
    assert ip.user_ns["_"] == 42
    # In[] holds the code that ran, the raw history the cell as typed, as for any cell.
    assert ip.user_ns["In"][result.execution_count].rstrip() == "value = 6\nvalue * 7"
    assert ip.history_manager.input_hist_raw[-1].startswith("%%on_local\n")


def test_a_trailing_semicolon_silences_the_last_expression(ip, run) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        result = run("%%on_local\n6 * 7;\n")
    assert result.success and "42" not in captured.stdout


def test_ipython_syntax_and_another_cell_magic_inside_the_body(ip, run) -> None:  # type: ignore[no-untyped-def]
    assert run("%%on_local\n!exit 3\ncode = _exit_code\nreport = %mlenv\n").success
    assert ip.user_ns["code"] == 3
    assert isinstance(ip.user_ns["report"], RuntimeReport)
    with capture_output() as captured:
        assert run("%%on_local\n%%capture kept\nprint('inside')\n").success
    assert "inside" not in captured.stdout
    assert ip.user_ns["kept"].stdout == "inside\n"


def test_an_error_in_the_body_fails_the_cell_where_it_happened(ip, run) -> None:  # type: ignore[no-untyped-def]
    result = run("%%on_local\nbefore = 1\n1 / 0\nafter = 1\n")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert "before" in ip.user_ns and "after" not in ip.user_ns


def test_ctrl_c_in_the_body_fails_the_cell(ip, run, default_sigint) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    ip.user_ns["started"] = started

    def press_ctrl_c() -> None:
        started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        result = run(
            "%%on_local\nimport time\nstarted.set()\nfor _ in range(1000):\n"
            "    time.sleep(0.01)\ndone_all = 1\n"
        )
    finally:
        presser.join()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert "done_all" not in ip.user_ns


def test_elsewhere_one_skip_line_and_the_body_never_runs(ip, run, capsys) -> None:  # type: ignore[no-untyped-def]
    result = run("%%on_kaggle\ntouched = True\n")
    assert result.success and result.result is None
    assert "touched" not in ip.user_ns
    assert capsys.readouterr().out.strip().splitlines() == [
        "skipped: %%on_kaggle runs this cell only on Kaggle; this is local machine."
    ]
    assert run("%%on_colab -q\ntouched = True\n").success
    assert capsys.readouterr().out == "" and "touched" not in ip.user_ns


def test_the_forced_host_decides_per_cell(ip, run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLENV_RUNTIME", "kaggle")
    assert run(
        "%%on_kaggle\nimport asyncio\nawait asyncio.sleep(0)\non_kaggle_ran = True\n"
    ).success
    assert run("%%on_local -q\non_local_ran = True\n").success
    assert ip.user_ns.get("on_kaggle_ran") is True and "on_local_ran" not in ip.user_ns


def test_a_bad_forced_host_fails_the_cell_with_the_fix(ip, run, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLENV_RUNTIME", "mars")
    result = run("%%on_local\nran = True\n")
    assert not result.success and "ran" not in ip.user_ns
    assert "MLENV_RUNTIME='mars' is not a host" in capsys.readouterr().out


def test_other_flags_reach_the_cell_magic_and_fail_as_usage_errors(ip, run) -> None:  # type: ignore[no-untyped-def]
    result = run("%%on_local --verbose\nran = True\n")
    assert type(result.error_in_exec) is UsageError
    assert "ran" not in ip.user_ns


def test_the_terminal_still_waits_for_the_body_after_the_magic_line(ip) -> None:  # type: ignore[no-untyped-def]
    status, _indent = ip.input_transformer_manager.check_complete("%%on_local\n")
    assert status == "incomplete"


def test_unload_removes_the_transformer_and_load_adds_it_once(_shell, clean_env) -> None:  # type: ignore[no-untyped-def]
    def ours() -> list[object]:
        return [t for t in _shell.input_transformers_cleanup if isinstance(t, HostCellTransformer)]

    _shell.run_line_magic("load_ext", "mlenv_magics")
    _shell.run_line_magic("reload_ext", "mlenv_magics")
    assert len(ours()) == 1
    _shell.run_line_magic("unload_ext", "mlenv_magics")
    assert ours() == []


# Called directly (not as a cell's first line), the magic runs the body as a cell of its own.


def test_direct_call_runs_the_body_and_raises_its_error(ip) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["base"] = 40
    ip.run_cell_magic("on_local", "", "answer = base + 2")
    assert ip.user_ns["answer"] == 42
    with pytest.raises(ZeroDivisionError):
        ip.run_cell_magic("on_local", "", "before = 1\n1 / 0\nafter = 1")
    assert "before" in ip.user_ns and "after" not in ip.user_ns


def test_direct_call_propagates_ctrl_c(ip, default_sigint) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    ip.user_ns["started"] = started

    def press_ctrl_c() -> None:
        started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    body = "import time\nstarted.set()\nfor _ in range(1000):\n    time.sleep(0.01)\ndone_all = 1\n"
    try:
        with pytest.raises(KeyboardInterrupt):
            ip.run_cell_magic("on_local", "", body)
    finally:
        presser.join()
    assert "done_all" not in ip.user_ns


def test_a_remote_cell_reaches_the_real_cell_magic_and_its_parser(ip, run) -> None:  # type: ignore[no-untyped-def]
    result = run("%%on_kaggle --remote --no-such-option\nran = True\n")
    assert type(result.error_in_exec) is UsageError
    assert "--no-such-option" in str(result.error_in_exec)
    assert "ran" not in ip.user_ns
