"""One definition of each command's arguments: the magic and the CLI parse the same way."""

from __future__ import annotations

import json
import shlex

import pytest
from IPython.core.error import UsageError

from mlenv_magics import arguments
from mlenv_magics.cli import build_parser, main

# (magic prog, definition, CLI words before the arguments, the arguments as typed)
SAME_COMMANDS = [
    ("%mlenv", arguments.define_info, ["info"], "--json"),
    ("%mlenv_gpu", arguments.define_gpu, ["gpu"], "--require gpu --min-memory 15GiB --json"),
    ("%mlenv_gpu", arguments.define_gpu, ["gpu"], "--watch 0.5 --count 3 --json"),
    ("%mlenv_gpu", arguments.define_gpu, ["gpu"], "--live"),
    ("%mlenv_gpu", arguments.define_gpu, ["gpu"], "--live 5 --stop"),
    (
        "%mlenv_add_data",
        arguments.define_add_data,
        ["add-data"],
        "owner/slug --file '*.csv' --file=\"two words.txt\" --to 'my dir' --force -q",
    ),
    ("mlenv cache", arguments.define_cache, ["cache"], "prune --older-than 7 --json"),
]


def _cli_namespace(words: list[str]) -> dict[str, object]:
    parsed = vars(build_parser().parse_args(words))
    parsed.pop("command")
    return parsed


@pytest.mark.parametrize(("prog", "define", "command", "line"), SAME_COMMANDS)
def test_magic_line_and_command_line_parse_to_the_same_options(
    prog: str, define: arguments.Define, command: list[str], line: str
) -> None:
    from_magic = vars(arguments.parse_line(prog, define, line, UsageError))
    # What a POSIX shell hands to ``mlenv`` for the same words.
    assert from_magic == _cli_namespace(command + shlex.split(line))


def test_quotes_are_removed_as_a_shell_removes_them() -> None:
    args = arguments.parse_line(
        "%mlenv_add_data",
        arguments.define_add_data,
        "o/s --file '*.csv' --file=\"a b.csv\" --to 'x y';",
        UsageError,
    )
    assert args.file == ["*.csv", "a b.csv"] and args.to == "x y"


def test_live_takes_an_optional_number_of_seconds() -> None:
    def live(line: str) -> float | None:
        return arguments.parse_line("%mlenv_gpu", arguments.define_gpu, line, UsageError).live

    assert live("") is None
    assert live("--live") == arguments.DEFAULT_LIVE_SECONDS
    assert live("--live 0.5") == 0.5


def test_remote_cell_options() -> None:
    args = arguments.parse_line(
        "%%on_kaggle",
        arguments.define_remote_cell,
        "--remote --accelerator t4x2 --data a/b --data competition:c --timeout 1h30m"
        " --no-internet --detach -q --kernel me/run",
        UsageError,
    )
    assert args.remote and args.accelerator == "t4x2" and args.data == ["a/b", "competition:c"]
    assert args.timeout == "1h30m" and args.internet is False and args.detach and args.quiet
    assert args.kernel == "me/run" and args.out is None
    defaults = arguments.parse_line(
        "%%on_kaggle", arguments.define_remote_cell, "--remote", UsageError
    )
    assert defaults.accelerator == "none" and defaults.timeout == "12h"
    assert defaults.internet is True and defaults.data == []


def _kaggle_cli(words: list[str]) -> dict[str, object]:
    """``mlenv kaggle ...``, as the CLI parses it."""
    parsed = vars(build_parser().parse_args(["kaggle", *words]))
    assert parsed.pop("command") == "kaggle"
    return parsed


def test_kaggle_run_on_the_command_line_takes_the_same_remote_options() -> None:
    cli = _kaggle_cli(["run", "train.py", "--accelerator", "gpu"])
    cell = vars(
        arguments.parse_line(
            "%%on_kaggle", arguments.define_remote_cell, "--remote --accelerator gpu", UsageError
        )
    )
    assert cli.pop("file") == "train.py" and cell.pop("remote") is True
    assert cli.pop("action") == "run" and cli.pop("json") is False and cli == cell


@pytest.mark.parametrize("action", ["status", "output", "quota"])
def test_kaggle_queries_parse_the_same_in_the_magic_and_the_cli(action: str) -> None:
    words = {"status": "me/run --json", "output": "me/run --out got", "quota": "--json"}[action]
    magic = vars(
        arguments.parse_line(
            "%mlenv_kaggle", arguments.define_kaggle_queries, f"{action} {words}", UsageError
        )
    )
    assert magic == _kaggle_cli([action, *shlex.split(words)])


@pytest.mark.parametrize(
    ("prog", "define", "line", "message"),
    [
        ("%mlenv_gpu", arguments.define_gpu, "--require cpu", "invalid choice"),
        ("%mlenv_gpu", arguments.define_gpu, "--watch soon", "invalid float"),
        ("%mlenv_gpu", arguments.define_gpu, "--bogus", "unrecognized arguments"),
        ("%mlenv_add_data", arguments.define_add_data, "", "required: source"),
        ("%mlenv_add_data", arguments.define_add_data, "o/s --file 'open", "no closing quotation"),
        ("%%on_kaggle", arguments.define_remote_cell, "--accelerator gpu", "required: --remote"),
        ("%mlenv_kaggle", arguments.define_kaggle_queries, "", "required"),
        ("%mlenv_kaggle", arguments.define_kaggle_queries, "stats", "invalid choice"),
        ("%mlenv_kaggle", arguments.define_kaggle_queries, "quota me/run", "unrecognized"),
    ],
)
def test_magic_parse_errors_are_exactly_usage_error_naming_the_magic(
    prog: str, define: arguments.Define, line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        arguments.parse_line(prog, define, line, UsageError)
    assert type(info.value) is UsageError
    assert str(info.value).startswith(prog.split()[0])


def test_the_magics_help_shows_the_shared_options(ip) -> None:  # type: ignore[no-untyped-def]
    from IPython.utils.capture import capture_output

    with capture_output() as shown:
        ip.run_cell("%mlenv_gpu?")
        ip.run_cell("%mlenv_add_data?")
        ip.run_cell("%%on_kaggle?")
    help_text = shown.stdout
    assert "--min-memory SIZE" in help_text and "--live [SECONDS]" in help_text
    assert "--file NAME_OR_GLOB" in help_text
    assert "--accelerator" in help_text and "--quiet" in help_text


def test_cli_help_lists_every_command(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("info", "gpu", "add-data", "cache", "kaggle"))


def test_watch_json_prints_one_json_document_per_refresh_in_the_magic(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("mlenv_gpu", "--watch 0.01 --count 2 --json")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert all(json.loads(line)["backend"] for line in lines)


def test_watch_json_is_the_same_in_the_cli(clean_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["gpu", "--watch", "0.01", "--count", "2", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["backend"] for line in lines)
