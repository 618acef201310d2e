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

    again = ip.run_line_magic(
        "mlenv_add_data", f"https://drive.google.com/drive/folders/{top} --file *.csv -q"
    )

    assert sorted(p.name for p in again.iterdir()) == ["train.csv"]
    assert capsys.readouterr().out == ""


def test_add_data_magic_shows_a_short_error_for_an_unknown_id(
    ip: Any, drive_fake: DriveFake, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%mlenv_add_data drive:1UnknownDriveId123")

    assert result.error_in_exec is not None
    assert type(result.error_in_exec).__name__ == "NotFoundError"
    shown = capsys.readouterr()
    assert "NotFoundError: Drive item 1UnknownDriveId123 was not found" in shown.out + shown.err
    assert "Traceback" not in shown.out + shown.err
