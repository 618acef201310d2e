"""The real ``kaggle`` client downloads from the fake: the fake speaks Kaggle's protocol."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlenv_magics.testing.kaggle_fake import KaggleFake

RUNNER = Path(__file__).with_name("kaggle_cli_runner.py")
FILES = {"train.csv": b"a,b\n1,2\n" * 50, "sub/notes.txt": b"hello from the fake\n"}


def run_kaggle(
    fake: KaggleFake, tmp_path: Path, auth: str, *args: str
) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONIOENCODING": "utf-8"}
    if auth == "legacy":
        env |= {"KAGGLE_USERNAME": fake.username, "KAGGLE_KEY": fake.key}
    else:
        env["KAGGLE_API_TOKEN"] = fake.token
    return subprocess.run(
        [sys.executable, str(RUNNER), fake.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("auth", ["legacy", "token"])
def test_kaggle_cli_downloads_a_dataset_archive(
    kaggle_fake: KaggleFake, tmp_path: Path, auth: str
) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    out = tmp_path / "archive"
    done = run_kaggle(
        kaggle_fake, tmp_path, auth, "datasets", "download", "alice/tiny", "-p", str(out), "--unzip"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name, data in FILES.items():
        assert (out / name).read_bytes() == data
    methods = [call.method for call in kaggle_fake.calls]
    assert "DownloadDataset" in methods
    if auth == "token":
        assert methods[0] == "IntrospectToken"  # import-time check reached the fake too
        assert all(call.auth == "bearer" for call in kaggle_fake.calls_to("DownloadDataset"))


def test_kaggle_cli_downloads_one_file(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    out = tmp_path / "one"
    done = run_kaggle(
        kaggle_fake,
        tmp_path,
        "legacy",
        "datasets",
        "download",
        "alice/tiny",
        "-f",
        "sub/notes.txt",
        "-p",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # kaggle 2.2.x keeps the sub-folder; 2.0.x (Colab's pin) saves under the base name.
    saved = [p for p in (out / "sub" / "notes.txt", out / "notes.txt") if p.exists()]
    assert len(saved) == 1
    assert saved[0].read_bytes() == FILES["sub/notes.txt"]
    assert not (out / "train.csv").exists()
    body = kaggle_fake.calls_to("DownloadDataset")[-1].body
    assert body["fileName"] == "sub/notes.txt"


def test_kaggle_cli_downloads_competition_data(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.add_competition("titanic", {"train.csv": b"x,y\n1,0\n"})
    out = tmp_path / "comp"
    done = run_kaggle(
        kaggle_fake, tmp_path, "legacy", "competitions", "download", "-c", "titanic", "-p", str(out)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with zipfile.ZipFile(out / "titanic.zip") as archive:
        assert archive.read("train.csv") == b"x,y\n1,0\n"


def test_kaggle_cli_shows_the_rules_message(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.add_competition("closed", {"train.csv": b"x"}, rules_accepted=False)
    done = run_kaggle(
        kaggle_fake,
        tmp_path,
        "legacy",
        "competitions",
        "download",
        "-c",
        "closed",
        "-p",
        str(tmp_path),
    )
    assert done.returncode != 0
    assert "accept this competition's rules" in done.stdout + done.stderr


def test_kagglehub_downloads_from_the_fake_in_test_mode(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    pytest.importorskip("kagglehub")
    # kagglehub's KAGGLE_API_ENVIRONMENT=TEST talks to the fixed http://localhost:7777.
    hub_fake = KaggleFake(port=7777)
    try:
        hub_fake.start()
    except OSError:
        pytest.skip("port 7777 is busy")
    try:
        hub_fake.add_dataset("alice/tiny", files=FILES)
        home = tmp_path / "hub-home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "KAGGLE_API_ENVIRONMENT": "TEST",
            "KAGGLEHUB_CACHE": str(tmp_path / "hub"),
            "KAGGLE_API_TOKEN": hub_fake.token,
        }
        code = (
            "import kagglehub;"
            "print('WHOLE', kagglehub.dataset_download('alice/tiny'));"
            "print('ONE', kagglehub.dataset_download('alice/tiny', path='sub/notes.txt'))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        found = dict(
            line.split(" ", 1)
            for line in done.stdout.splitlines()
            if line.startswith(("WHOLE ", "ONE "))
        )
        whole = Path(found["WHOLE"])
        for name, data in FILES.items():
            assert (whole / name).read_bytes() == data
        assert Path(found["ONE"]).read_bytes() == FILES["sub/notes.txt"]
    finally:
        hub_fake.stop()
