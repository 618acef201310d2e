"""Progress events, Ctrl-C in the middle of a download, and the demo server entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.data import AddDataOptions, acquire
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.kaggle_fake import DEMO_COMPETITION, DEMO_DATASET, KaggleFake


def options(**overrides: object) -> AddDataOptions:
    base: dict[str, object] = {"env": dict(os.environ), "policy": FAST}
    return AddDataOptions(**(base | overrides))  # type: ignore[arg-type]


def test_selected_files_report_bytes_with_a_total(kaggle_fake: KaggleFake) -> None:
    files = {"a.csv": b"1" * 1000, "b.csv": b"2" * 500, "c.txt": b"x"}
    kaggle_fake.add_dataset("alice/tiny", files=files)
    progress = RecordingProgress()
    result = acquire("alice/tiny", options(files=("*.csv",), progress=progress))
    assert (result.origin, result.files, result.size, result.version) == (
        "downloaded",
        2,
        1500,
        "1",
    )
    assert result.to_dict()["path"] == str(result.path)
    assert result.to_dict()["origin"] == "downloaded"
    starts = [event for event in progress.events if event[0] == "start"]
    assert starts == [("start", 2, 1500)]
    advanced = sum(event[2] for event in progress.events if event[0] == "advance")
    assert advanced == 1500
    assert sorted(e[1] for e in progress.events if e[0] == "file_done") == ["a.csv", "b.csv"]


def test_ctrl_c_mid_download_propagates_and_the_rerun_resumes(kaggle_fake: KaggleFake) -> None:
    payload = {"big.bin": os.urandom(400_000)}
    kaggle_fake.add_dataset("alice/big", files=payload)
    interrupting = RecordingProgress(interrupt_after_bytes=150_000)
    with pytest.raises(KeyboardInterrupt):
        acquire("alice/big/versions/1", options(progress=interrupting))
    result = acquire("alice/big/versions/1", options(progress=RecordingProgress()))
    assert (result.path / "big.bin").read_bytes() == payload["big.bin"]
    ranges = kaggle_fake.blobs.stats("datasets/alice/big/1/big.zip").ranges
    assert ranges[0] is None and ranges[-1] is not None and ranges[-1] != "bytes=0-"


def test_demo_server_prints_exports_and_serves(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlenv_magics.testing.kaggle_fake", "--seed-demo", "--print-env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        exports: dict[str, str] = {}
        for _ in range(10):
            line = server.stdout.readline()
            if not line.startswith("export "):
                break
            name, _, value = line[len("export ") :].strip().partition("=")
            exports[name] = value
            if len(exports) == 3:
                break
        assert exports["MLENV_KAGGLE_API"].startswith("http://127.0.0.1:")
        env = {"HOME": str(tmp_path), "MLENV_CACHE_DIR": str(tmp_path / "cache"), **exports}
        path = add_data(DEMO_DATASET, env=env, quiet=True)
        assert (path / "iris.csv").read_text().count("\n") == 4
        assert (
            add_data(f"competition:{DEMO_COMPETITION}", env=env, quiet=True) / "train.csv"
        ).exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
