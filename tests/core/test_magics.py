"""The magics through a real IPython shell: registration, results, conditional cells, errors."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from mlenv_magics.report import RuntimeReport

MAGIC_NAMES = {
    "line": {"mlenv", "mlenv_gpu", "mlenv_add_data"},
    "cell": {"on_kaggle", "on_colab", "on_local"},
}


def registered(shell) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    magics = shell.magics_manager.magics
    return {kind: MAGIC_NAMES[kind] & set(magics[kind]) for kind in MAGIC_NAMES}


def test_load_registers_every_magic_and_unload_removes_them(_shell, clean_env) -> None:  # type: ignore[no-untyped-def]
    _shell.run_line_magic("load_ext", "mlenv_magics")
    assert registered(_shell) == MAGIC_NAMES
    _shell.run_line_magic("unload_ext", "mlenv_magics")
    assert registered(_shell) == {"line": set(), "cell": set()}
    _shell.run_line_magic("load_ext", "mlenv_magics")
    _shell.run_line_magic("reload_ext", "mlenv_magics")
    assert registered(_shell) == MAGIC_NAMES
    _shell.run_line_magic("unload_ext", "mlenv_magics")


def test_mlenv_returns_a_report_and_does_not_display_it(ip) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        report = ip.run_line_magic("mlenv", "")
    assert isinstance(report, RuntimeReport)
    assert captured.stdout == "" and captured.outputs == []
    assert report.runtime.host == "local"
    text = repr(report)
    assert "host" in text and "local machine" in text and "mlenv cache" in text
    assert "<table>" in report._repr_html_()
    assert report.to_dict()["packages"]["ipython"]


def test_mlenv_as_last_line_shows_once(ip) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        ip.run_cell("%mlenv", store_history=True)
    assert captured.stdout.count("mlenv runtime") == 1


def test_assignment_shows_nothing(ip) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        ip.run_cell("report = %mlenv")
    assert captured.stdout == ""
    assert isinstance(ip.user_ns["report"], RuntimeReport)


def test_mlenv_json(ip) -> None:  # type: ignore[no-untyped-def]
    import json

    with capture_output() as captured:
        assert ip.run_line_magic("mlenv", "--json") is None
    assert json.loads(captured.stdout)["host"] == "local"


def test_report_names_credential_sources_but_never_values(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key-value")
    report = ip.run_line_magic("mlenv", "")
    rendered = repr(report) + report._repr_html_() + str(report.to_dict())
    assert "KAGGLE_USERNAME/KAGGLE_KEY env" in rendered
    assert "s3cr3t-kaggle-key-value" not in rendered


@pytest.mark.parametrize(
    ("line", "message"),
    [("--bogus", "unrecognized arguments"), ("--require cpu", "invalid choice")],
)
def test_bad_arguments_raise_exactly_usage_error(ip, line: str, message: str) -> None:  # type: ignore[no-untyped-def]
    magic = "mlenv" if line == "--bogus" else "mlenv_gpu"
    with pytest.raises(UsageError, match=message) as info:
        ip.run_line_magic(magic, line)
    assert type(info.value) is UsageError


def test_usage_error_shows_one_line_without_traceback(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%mlenv_gpu --count 2")
    out = capsys.readouterr()
    assert type(result.error_in_exec) is UsageError
    assert "--count goes with --watch" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_mlenv_error_is_short_names_the_fix_and_fails_the_cell(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell(
        "from mlenv_magics import MlenvError\n"
        "raise MlenvError('No GPU here.', fix='Runtime > Change runtime type.')\n"
        "after = 1\n"
    )
    out = capsys.readouterr().out
    assert not result.success
    assert "MlenvError: No GPU here.\nRuntime > Change runtime type." in out
    assert "Traceback" not in out and "\x1b[" not in out
    assert "after" not in ip.user_ns


# Conditional cells.


def test_cell_runs_on_its_host_in_the_user_namespace(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["base"] = 40
    ip.run_cell_magic("on_local", "", "answer = base + 2\nprint('ran', answer)")
    assert ip.user_ns["answer"] == 42
    assert "ran 42" in capsys.readouterr().out


def test_cell_elsewhere_prints_one_skip_line(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    assert ip.run_cell_magic("on_kaggle", "", "touched = True") is None
    out = capsys.readouterr().out
    assert "touched" not in ip.user_ns
    assert out.strip().splitlines() == [
        "skipped: %%on_kaggle runs this cell only on Kaggle; this is local machine."
    ]


def test_quiet_skip_prints_nothing(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell_magic("on_colab", "-q", "touched = True")
    assert capsys.readouterr().out == ""


def test_forced_host_runs_the_matching_cell(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLENV_RUNTIME", "kaggle")
    ip.run_cell_magic("on_kaggle", "", "on_kaggle_ran = True")
    ip.run_cell_magic("on_local", "-q", "on_local_ran = True")
    assert ip.user_ns.get("on_kaggle_ran") is True and "on_local_ran" not in ip.user_ns


def test_conditional_cell_rejects_unknown_flags(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        ip.run_cell_magic("on_local", "--verbose", "x = 1")


def test_no_variable_expansion_in_the_body(ip) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["name"] = "expanded"
    ip.run_cell_magic("on_local", "", "text = '{name} $name'")
    assert ip.user_ns["text"] == "{name} $name"


def test_last_expression_is_displayed_like_a_normal_cell(ip) -> None:  # type: ignore[no-untyped-def]
    with capture_output() as captured:
        ip.run_cell("%%on_local\nvalue = 6\nvalue * 7\n")
    assert "42" in captured.stdout


def test_ipython_syntax_inside_the_body(ip) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell_magic("on_local", "", "!exit 3\ncode = _exit_code\nreport = %mlenv")
    assert ip.user_ns["code"] == 3
    assert isinstance(ip.user_ns["report"], RuntimeReport)


def test_exception_in_the_body_propagates_and_stops_the_cell(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ZeroDivisionError):
        ip.run_cell_magic("on_local", "", "before = 1\n1 / 0\nafter = 1")
    assert "before" in ip.user_ns and "after" not in ip.user_ns
    result = ip.run_cell("%%on_local\n1 / 0\n")
    assert isinstance(result.error_in_exec, ZeroDivisionError)


def test_interrupt_mid_cell_propagates(ip, default_sigint) -> None:  # type: ignore[no-untyped-def]
    started = threading.Event()
    ip.user_ns["started"] = started

    def interrupt() -> None:
        started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)

    worker = threading.Thread(target=interrupt)
    worker.start()
    body = "import time\nstarted.set()\nfor _ in range(500):\n    time.sleep(0.01)\ndone_all = 1\n"
    try:
        with pytest.raises(KeyboardInterrupt):
            ip.run_cell_magic("on_local", "", body)
    finally:
        worker.join()
    assert "done_all" not in ip.user_ns


def test_interrupt_mid_cell_fails_the_cell_in_run_cell(ip) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%%on_local\nraise KeyboardInterrupt\n")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)


def test_add_data_rejects_missing_source(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        ip.run_line_magic("mlenv_add_data", "")


def test_trailing_semicolon_is_not_an_argument(ip) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(ip.run_line_magic("mlenv", ";"), RuntimeReport)
