"""The magics through a real IPython shell: registration, results, conditional cells, errors."""

from __future__ import annotations

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


# Host cells (%%on_kaggle, ...) are tested in test_host_cells.py.


def test_add_data_rejects_missing_source(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        ip.run_line_magic("mlenv_add_data", "")


def test_trailing_semicolon_is_not_an_argument(ip) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(ip.run_line_magic("mlenv", ";"), RuntimeReport)


# One rule for {var} and $var: a magic's line is expanded as IPython expands its own line
# magics; a cell body never is.


def test_every_line_magic_expands_braces_and_dollars(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    ip.user_ns.update(flag="--json", requirement="gpu", owner="someone")
    ip.run_cell("%mlenv {flag}")
    assert json.loads(capsys.readouterr().out)["host"] == "local"
    ip.run_cell("%mlenv $flag")
    assert json.loads(capsys.readouterr().out)["host"] == "local"
    result = ip.run_cell("%mlenv_gpu --require {requirement}")
    assert type(result.error_in_exec).__name__ == "AcceleratorMissingError"
    result = ip.run_cell("%mlenv_add_data {owner}/$requirement-data --offline")
    assert type(result.error_in_exec).__name__ == "OfflineError"
    assert "someone/gpu-data" in str(result.error_in_exec)


def test_doubled_braces_and_dollars_stay_literal(ip) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%mlenv_gpu --min-memory {{15GiB}}")
    assert type(result.error_in_exec) is UsageError
    assert "{15GiB}" in str(result.error_in_exec)


def test_the_line_of_a_host_cell_is_expanded_and_its_body_never(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns.update(quiet="-q", name="expanded")
    assert ip.run_cell("%%on_kaggle {quiet}\ntouched = True\n").success
    assert capsys.readouterr().out == "" and "touched" not in ip.user_ns
    assert ip.run_cell("%%on_local\ntext = '{name} $name'\n").success
    assert ip.user_ns["text"] == "{name} $name"
    ip.run_cell_magic("on_local", "", "direct = '{name} $name'")
    assert ip.user_ns["direct"] == "{name} $name"
