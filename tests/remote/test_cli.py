"""``mlenv kaggle run|status|output|quota`` in a real subprocess against the fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlenv_magics.testing.kaggle_fake import KaggleFake

RUNNER = Path(__file__).with_name("fake_time_runner.py")


def mlenv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mlenv ARGS``, its waits driven by the fake's events (no real 5 s sleeps)."""
    return subprocess.run(
        [sys.executable, str(RUNNER), os.environ["MLENV_KAGGLE_API"], *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_a_script_then_status_output_and_quota(fake: KaggleFake, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "print('training on kaggle')\nopen('weights.bin', 'wb').write(b'\\x00' * 64)\n"
    )
    done = mlenv("kaggle", "run", str(script), "--json", "--timeout", "5m", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "complete" and "weights.bin" in result["files"]
    assert "training on kaggle" in done.stderr  # progress and log go to stderr with --json
    out = Path(result["out"])
    assert out == tmp_path / "kaggle_runs" / result["ref"].split("/")[1] / "v1"
    assert (out / "weights.bin").read_bytes() == b"\x00" * 64

    status = mlenv("kaggle", "status", result["ref"], "--json", cwd=tmp_path)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "complete"
    again = mlenv("kaggle", "output", result["ref"], "--out", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (tmp_path / "again" / "weights.bin").exists()
    quota = mlenv("kaggle", "quota", "--json", cwd=tmp_path)
    assert json.loads(quota.stdout)["gpu"]["total_s"] == 108000


def test_a_notebook_file_runs_cell_by_cell(fake: KaggleFake, tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# title"},
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [{"output_type": "stream"}],
            "execution_count": 3,
            "source": ["x = 20\n", "y = 22"],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "print(x + y)",
        },
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kaggle": {"dockerImageVersionId": 1}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    done = mlenv("kaggle", "run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "42" in done.stdout
    pushed = json.loads(fake.calls_to("SaveKernel")[-1].body["text"])
    assert [c["source"] for c in pushed["cells"]] == ["# title", "x = 20\ny = 22", "print(x + y)"]
    assert pushed["cells"][1]["outputs"] == [] and "kaggle" not in pushed["metadata"]


def test_exit_codes(fake: KaggleFake, tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("raise SystemError('broken on purpose')\n")
    failed = mlenv("kaggle", "run", str(script), "-q", cwd=tmp_path)
    assert failed.returncode == 1 and "broken on purpose" in failed.stderr
    assert "https://www.kaggle.com/code/" in failed.stderr
    usage = mlenv("kaggle", "run", str(script), "--accelerator", "p100", cwd=tmp_path)
    assert usage.returncode == 2 and "retired" in usage.stderr
    missing = mlenv("kaggle", "run", str(tmp_path / "missing.py"), cwd=tmp_path)
    assert missing.returncode == 2 and "Cannot read" in missing.stderr
