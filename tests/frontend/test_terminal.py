"""Terminal IPython and the ``mlenv`` CLI print plain, readable text when not on a TTY."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlenv_magics.testing import notebook_runner

ANSI = "\x1b["
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    workdir = tmp_path_factory.mktemp("terminal")
    with notebook_runner.offline_services("local", workdir) as service_env:
        env = notebook_runner.kernel_environment(workdir, service_env)
        env.pop("NO_COLOR", None)  # plain text must not depend on it
        env["TERM"] = "xterm-256color"  # a colour terminal type, but output goes to a pipe
        yield env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


# IPython 7.x sets the terminal window title (xterm save/set/restore sequences) whatever the
# cell prints; that is IPython's own and not part of any output, so it is removed first.
TERMINAL_TITLE = re.compile(r"\x1b\[2[23];0t|\x1b\]0;[^\x07]*\x07")


def _assert_plain(result: subprocess.CompletedProcess[str]) -> None:
    for stream in (result.stdout, result.stderr):
        assert ANSI not in TERMINAL_TITLE.sub("", stream), stream


def _gpu_is_present() -> bool:
    from mlenv_magics import gpu_report

    return bool(gpu_report().to_dict()["devices"])


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("mlenv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlenv_magics"]


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("magic", "expected"),
    [("%mlenv", "terminal IPython"), ("%mlenv_gpu", "GPU report · local machine")],
)
def test_ipython_c_shows_reports_as_plain_text(
    demo_env: dict[str, str], magic: str, expected: str
) -> None:
    code = f"%load_ext mlenv_magics\n{magic}"
    result = _run([sys.executable, "-m", "IPython", "--no-banner", "-c", code], demo_env)
    _assert_plain(result)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "model_id" not in result.stdout and "(children=" not in result.stdout
    assert "<div" not in result.stdout


@pytest.mark.kernel
def test_ipython_c_require_gpu_is_one_message(demo_env: dict[str, str]) -> None:
    if _gpu_is_present():
        pytest.skip("this machine has a GPU, so --require gpu passes")
    code = "%load_ext mlenv_magics\n%mlenv_gpu --require gpu"
    result = _run([sys.executable, "-m", "IPython", "--no-banner", "-c", code], demo_env)
    _assert_plain(result)
    both = result.stdout + result.stderr
    assert "AcceleratorMissingError: No GPU" in both
    assert "Traceback" not in both


@pytest.mark.kernel
@pytest.mark.parametrize("command", [["info"], ["gpu"]])
def test_cli_reports_are_plain_text(demo_env: dict[str, str], command: list[str]) -> None:
    result = _run([*_cli(), *command], demo_env)
    _assert_plain(result)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first in {"mlenv runtime"} or first.startswith("GPU report")


@pytest.mark.kernel
def test_cli_require_gpu_fails_with_a_plain_message(demo_env: dict[str, str]) -> None:
    if _gpu_is_present():
        pytest.skip("this machine has a GPU, so --require gpu passes")
    result = _run([*_cli(), "gpu", "--require", "gpu"], demo_env)
    _assert_plain(result)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: No GPU")
    assert "Traceback" not in result.stderr


@pytest.mark.kernel
def test_cli_add_data_progress_and_path_are_plain_text(demo_env: dict[str, str]) -> None:
    result = _run([*_cli(), "add-data", "competition:titanic"], demo_env)
    _assert_plain(result)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("kaggle competition titanic: downloaded, 2 files")
    assert Path(lines[-1]).is_dir()
    assert "competition:titanic" in result.stderr  # the text progress bar
