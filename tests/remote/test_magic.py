"""``%%on_kaggle --remote`` and ``%mlenv_kaggle`` in a real IPython shell, against the fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from mlenv_magics.kaggle_run import KaggleRun, QuotaReport, RemoteRunError
from mlenv_magics.testing.kaggle_fake import KaggleFake

from .remote_kit import FakeTime

CELL = """\
import sys
print("remote stdout line")
print("remote stderr line", file=sys.stderr)
open("model.pt", "w").write("w")
from IPython.display import HTML, display
display(HTML("<i>remote html</i>"))
41 + 1
"""


def test_remote_cell_runs_and_shows_status_log_and_outputs(
    ip: Any, fake: KaggleFake, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell_magic("on_kaggle", "--remote --out results --timeout 30m", CELL)
    printed = capsys.readouterr()
    assert isinstance(result, KaggleRun) and result.status == "complete"
    assert result.out == Path("results") and Path("results/model.pt").read_text() == "w"
    lines = printed.out.splitlines()
    assert lines[0].startswith(f"kaggle run {result.ref} v1: queued · https://www.kaggle.com/code/")
    assert any(line.startswith(f"kaggle run {result.ref} v1: complete") for line in lines)
    assert "remote stdout line" in printed.out and "remote stderr line" in printed.out
    # the remote rich outputs, replayed through IPython's display (text/plain in a terminal)
    assert "<IPython.core.display.HTML object>" in printed.out and "42" in lines
    assert printed.out.count("remote stdout line") == 1
    assert fake.calls_to("SaveKernel")[-1].body["sessionTimeoutSeconds"] == 12 * 3600


def test_plain_on_kaggle_keeps_its_meaning(
    ip: Any, fake: KaggleFake, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell("%%on_kaggle\nprint('never here')")
    assert capsys.readouterr().out.startswith("skipped: %%on_kaggle runs this cell only on Kaggle")
    assert fake.calls_to("SaveKernel") == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--remote --accelerator p100", "P100 GPU was retired"),
        ("--remote --accelerator v100", "is not one of none, gpu"),
        ("--remote --timeout soon", "is not a duration"),
        ("--remote --data drive:1AbCdEfGhIjK", "only Kaggle datasets"),
        ("--remote --data 'not a source'", "is not a data source"),
        ("--remote --kernel nope", "is not a Kaggle notebook"),
        ("--remote --bogus", "unrecognized arguments"),
    ],
)
def test_bad_remote_options_are_usage_errors(
    ip: Any, fake: KaggleFake, line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("on_kaggle", line, "print(1)")
    assert fake.calls_to("SaveKernel") == []


def test_a_remote_error_fails_the_cell_in_one_message(
    ip: Any, fake: KaggleFake, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%%on_kaggle --remote -q\nimport math\nmath.sqrt(-1)")
    assert isinstance(result.error_in_exec, RemoteRunError)
    shown = capsys.readouterr()
    assert "RemoteRunError: The run" in shown.out + shown.err
    assert "ValueError: math domain error" in shown.out + shown.err
    assert (
        "Traceback (most recent call last)"
        not in (shown.out + shown.err).split("ValueError")[0].split("RemoteRunError")[0]
    )


def test_detach_then_status_and_output_by_the_magic(
    ip: Any, fake: KaggleFake, fake_time: FakeTime, capsys: pytest.CaptureFixture[str]
) -> None:
    pushed = ip.run_cell_magic("on_kaggle", "--remote --detach", "open('x.txt','w').write('x')")
    assert pushed.status == "queued" and pushed.out is None
    assert f"%mlenv_kaggle output {pushed.ref}" in capsys.readouterr().out
    assert fake.kernels.wait_until(pushed.ref, {"COMPLETE"})
    status = ip.run_line_magic("mlenv_kaggle", "status")  # the last run of this process
    assert isinstance(status, KaggleRun) and status.status == "complete" and status.version == 1
    fetched = ip.run_line_magic("mlenv_kaggle", f"output {pushed.ref} --out got")
    assert fetched.out == Path("got") and Path("got/x.txt").read_text() == "x"
    capsys.readouterr()
    ip.run_line_magic("mlenv_kaggle", f"status {pushed.ref} --json")
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["status"] == "complete" and as_json["ref"] == pushed.ref


def test_quota_magic(ip: Any, fake: KaggleFake) -> None:
    report = ip.run_line_magic("mlenv_kaggle", "quota")
    assert isinstance(report, QuotaReport)
    assert report.to_dict()["gpu"]["remaining_s"] == 108000 - 3600
    assert "29.0 h" in repr(report) and "<table>" in report._repr_html_()


def test_no_credentials_is_a_clear_error(
    ip: Any, fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    from mlenv_magics.errors import CredentialsError

    with pytest.raises(CredentialsError, match="running a notebook on Kaggle") as caught:
        ip.run_cell_magic("on_kaggle", "--remote", "print(1)")
    assert fake.token not in str(caught.value)


def test_inside_a_kaggle_notebook_remote_runs_on_a_second_machine(
    ip: Any, fake: KaggleFake, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    monkeypatch.delenv("MLENV_RUNTIME")
    for name, value in fake.kaggle_notebook_env("Interactive").items():
        monkeypatch.setenv(name, value)
    fake.user_secrets["KAGGLE_API_TOKEN"] = fake.token  # Add-ons -> Secrets
    result = ip.run_cell_magic("on_kaggle", "--remote -q", "print('on the second machine')")
    assert result.status == "complete" and "on the second machine" in result.log
    assert fake.calls_to("secret") and all(c.auth == "bearer" for c in fake.calls_to("SaveKernel"))
