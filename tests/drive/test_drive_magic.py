"""``%mlenv_add_data drive:ID`` in a real IPython shell, against the Drive fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlenv_magics.testing.drive_fake import DriveFake


def test_add_data_magic_fetches_a_drive_folder(
    ip: Any, drive_fake: DriveFake, capsys: pytest.CaptureFixture[str]
) -> None:
    top = drive_fake.add_folder("notebook-data")
    sub = drive_fake.add_folder("raw", parent=top)
    drive_fake.add_file("train.csv", b"x,y\n1,2\n", parent=top)
    drive_fake.add_file("blob.bin", b"\x00" * 4096, parent=sub)

    path = ip.run_line_magic("mlenv_add_data", f"drive:{top}")

    assert isinstance(path, Path)
    assert (path / "train.csv").read_bytes() == b"x,y\n1,2\n"
    assert (path / "raw" / "blob.bin").stat().st_size == 4096
    captured = capsys.readouterr()
    assert "drive folder notebook-data: downloaded, 2 files" in captured.out
    for token in drive_fake.issued_tokens:
        assert token not in captured.out and token not in captured.err

    media = drive_fake.count("media")
    again = ip.run_line_magic(
        "mlenv_add_data", f"https://drive.google.com/drive/folders/{top} --file *.csv"
    )

    assert again == path  # the cached whole folder serves the selection
    assert "drive folder notebook-data: cache, 1 file," in capsys.readouterr().out
    assert drive_fake.count("media") == media


def test_add_data_magic_shows_a_short_error_for_an_unknown_id(
    ip: Any, drive_fake: DriveFake, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%mlenv_add_data drive:1UnknownDriveId123")

    assert result.error_in_exec is not None
    assert type(result.error_in_exec).__name__ == "NotFoundError"
    shown = capsys.readouterr()
    assert "NotFoundError: Drive item 1UnknownDriveId123 was not found" in shown.out + shown.err
    assert "Traceback" not in shown.out + shown.err


def test_cli_add_data_prints_the_path_last(drive_fake: DriveFake) -> None:
    import os
    import subprocess
    import sys

    file_id = drive_fake.add_file("cli.txt", b"from the command line")
    command = [sys.executable, "-m", "mlenv_magics", "add-data", f"drive:{file_id}"]

    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    missing = subprocess.run(
        [*command[:-1], "drive:1NotThereAtAll"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )

    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert (path / "cli.txt").read_bytes() == b"from the command line"
    assert "drive file cli.txt: downloaded, 1 file" in done.stdout
    assert missing.returncode == 1
    assert "was not found" in missing.stderr and "Traceback" not in missing.stderr
    for token in drive_fake.issued_tokens:
        assert token not in done.stdout + done.stderr + missing.stderr
