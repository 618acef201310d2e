"""The real ``kaggle`` CLI (2.2.x here, 2.0.2 on the Colab stack) pushes, polls and fetches
against the fake: its notebook runs are Kaggle's wire protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mlenv_magics.kaggle_run import kaggle_status
from mlenv_magics.kaggle_run.client import KernelsClient
from mlenv_magics.testing.kaggle_fake import KaggleFake

RUNNER = Path(__file__).resolve().parents[1] / "kaggle" / "kaggle_cli_runner.py"


def kaggle(fake: KaggleFake, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PYTHONIOENCODING": "utf-8",
        "KAGGLE_USERNAME": fake.username,
        "KAGGLE_KEY": fake.key,
    }
    return subprocess.run(
        [sys.executable, str(RUNNER), fake.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_kaggle_cli_push_status_and_output(
    fake: KaggleFake, client: KernelsClient, tmp_path: Path
) -> None:
    folder = tmp_path / "push"
    folder.mkdir()
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["print('hello from the cli push')\n", "open('r.txt', 'w').write('42')"],
        }
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "run.ipynb").write_text(json.dumps(notebook))
    ref = f"{fake.username}/cli-remote-run"
    metadata = {
        "id": ref,
        "title": "cli remote run",
        "code_file": "run.ipynb",
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "dataset_sources": [],
    }
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata))
    home = tmp_path / "cli-home"

    pushed = kaggle(
        fake, home, "kernels", "push", "-p", str(folder), "--accelerator", "NvidiaTeslaT4"
    )
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert "Kernel version 1 successfully pushed.  Please check progress at" in pushed.stdout
    body = fake.calls_to("SaveKernel")[-1].body
    assert body["slug"] == ref and body["kernelType"] == "notebook"
    assert body["machineShape"] == "NvidiaTeslaT4"
    assert json.loads(body["text"])["cells"][0]["source"].startswith("print(")

    assert fake.kernels.wait_until(ref, {"COMPLETE", "ERROR"})
    status = kaggle(fake, home, "kernels", "status", ref)
    assert status.returncode == 0, status.stderr[-2000:]
    assert "COMPLETE" in status.stdout  # 'has status "KernelWorkerStatus.COMPLETE"' in 2.x

    out = tmp_path / "out"
    fetched = kaggle(fake, home, "kernels", "output", ref, "-p", str(out))
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    assert (out / "r.txt").read_text() == "42"
    executed = json.loads((out / "__notebook__.ipynb").read_text())
    stream = executed["cells"][0]["outputs"][0]
    assert stream["output_type"] == "stream" and stream["text"] == "hello from the cli push\n"
    log = json.loads((out / "cli-remote-run.log").read_text())
    assert log[0]["stream_name"] == "stdout" and "hello from the cli push" in log[0]["data"]

    # our client reads the kernel the CLI pushed
    seen = kaggle_status(ref, client=client)
    assert (seen.status, seen.version, seen.accelerator) == ("complete", 1, "GPU T4 x2")


def test_kaggle_cli_push_is_rejected_in_kaggles_words(fake: KaggleFake, tmp_path: Path) -> None:
    folder = tmp_path / "push"
    folder.mkdir()
    (folder / "s.py").write_text("print(1)\n")
    metadata = {
        "id": f"{fake.username}/rejected-run",
        "title": "rejected run",
        "code_file": "s.py",
        "language": "python",
        "kernel_type": "script",
    }
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata))
    fake.kernels.reject_push("Maximum batch CPU session count of 5 reached.")
    pushed = kaggle(fake, tmp_path / "cli-home", "kernels", "push", "-p", str(folder))
    assert "Kernel push error: Maximum batch CPU session count of 5 reached." in pushed.stdout
