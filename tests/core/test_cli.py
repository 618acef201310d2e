"""The ``mlenv`` command: same behaviour as the magics, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mlenv_magics.cli import main


def test_info_prints_the_report(clean_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlenv runtime\n") and "local machine" in out


def test_info_json(clean_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["host"] == "local" and data["frontend"] == "python"


def test_bad_usage_exits_2(clean_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["frobnicate"]) == 2
    assert main(["gpu", "--count", "3"]) == 2
    assert main(["gpu", "--min-memory", "lots"]) == 2
    assert main([]) == 2
    assert "usage: mlenv" in capsys.readouterr().err


def test_mlenv_error_exits_1_with_message_on_stderr(clean_env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLENV_RUNTIME", "mars")
    assert main(["info"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: MLENV_RUNTIME='mars' is not a host")


def test_python_dash_m_is_the_same_command(clean_env) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "MLENV_RUNTIME": "colab"}
    done = subprocess.run(
        [sys.executable, "-m", "mlenv_magics", "info", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["host"] == "colab"
    assert "\x1b[" not in done.stdout + done.stderr
