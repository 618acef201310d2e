"""%mlenv_add_data in a real IPython shell, ``mlenv add-data`` in subprocesses, concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from mlenv_magics.errors import MlenvError, NotFoundError
from mlenv_magics.testing.kaggle_fake import KaggleFake

FILES = {"train.csv": b"a,b\n1,2\n", "sub/notes.txt": b"hello"}


def mlenv(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlenv_magics", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_magic_returns_the_path(ip, kaggle_fake: KaggleFake) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    path = ip.run_line_magic("mlenv_add_data", "alice/tiny --file '*.csv' -q;")
    assert isinstance(path, Path)
    assert sorted(p.name for p in path.iterdir()) == ["train.csv"]
    ip.run_cell("data_dir = %mlenv_add_data alice/tiny/versions/1 --quiet")
    assert (ip.user_ns["data_dir"] / "sub" / "notes.txt").read_bytes() == b"hello"


def test_magic_bad_source_is_a_usage_error(ip, kaggle_fake: KaggleFake) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("mlenv_add_data", "not-a-source")
    assert type(info.value) is UsageError and "owner/slug" in str(info.value)
    assert kaggle_fake.calls == []


def test_magic_failure_is_an_mlenv_error_that_stops_the_cell(ip, kaggle_fake: KaggleFake) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError):
        ip.run_line_magic("mlenv_add_data", "alice/nothing -q")
    result = ip.run_cell("%mlenv_add_data alice/nothing -q\nafter = 1")
    assert isinstance(result.error_in_exec, MlenvError) and "after" not in ip.user_ns


def test_cli_prints_the_path_last(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    done = mlenv("add-data", "alice/tiny", "--to", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == str((tmp_path / "out").absolute())
    assert "kaggle dataset alice/tiny v1: downloaded, 2 files" in lines[-2]
    assert (tmp_path / "out" / "train.csv").read_bytes() == FILES["train.csv"]
    quiet = mlenv("add-data", "alice/tiny", "-q")
    assert quiet.returncode == 0 and len(quiet.stdout.strip().splitlines()) == 1


def test_cli_exit_codes(kaggle_fake: KaggleFake) -> None:
    bad = mlenv("add-data", "no-slash")
    assert bad.returncode == 2 and "owner/slug" in bad.stderr
    missing = mlenv("add-data", "alice/nothing", "-q")
    assert missing.returncode == 1
    assert "https://www.kaggle.com/datasets/alice/nothing" in missing.stderr
    assert missing.stdout == ""


def test_concurrent_processes_download_once_and_share_the_path(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.slow("DownloadDataset", 1.0)  # the first holder of the lock takes a while
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlenv_magics", "add-data", "alice/tiny/versions/1", "-q"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    paths = {out.strip().splitlines()[-1] for out, _err in outputs}
    assert len(paths) == 1
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 1
    assert sorted(p.name for p in Path(paths.pop()).iterdir()) == ["sub", "train.csv"]


def test_add_data_never_imports_the_kaggle_package(kaggle_fake: KaggleFake) -> None:
    # kagglesdk (message types only, no side effects at import) is used; kaggle and kagglehub
    # authenticate or print when imported, so they never are.
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    os.environ.pop("KAGGLE_API_TOKEN")  # no credentials: kaggle would print its help here
    code = (
        "import sys; from mlenv_magics import add_data; add_data('alice/tiny', quiet=True);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kaggle', 'kagglehub')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "Authentication required" not in done.stdout + done.stderr


def test_cli_file_offline_and_force(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    offline = mlenv("add-data", "alice/tiny", "--offline", "-q")
    assert offline.returncode == 1 and "--offline" in offline.stderr
    first = mlenv("add-data", "alice/tiny", "--file", "sub/*", "-q")
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip().splitlines()[-1])
    assert [p.relative_to(path).as_posix() for p in path.rglob("*.txt")] == ["sub/notes.txt"]
    cached = mlenv("add-data", "alice/tiny", "--file", "sub/*", "--offline")
    assert cached.returncode == 0 and cached.stdout.strip().splitlines()[-1] == str(path)
    assert "offline: using the newest cached version 1" in cached.stdout
    forced = mlenv("add-data", "alice/tiny", "--file", "sub/*", "--force", "-q")
    assert forced.returncode == 0
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 2


def test_magic_to_and_offline(ip, kaggle_fake: KaggleFake, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    target = tmp_path / "my data"
    path = ip.run_line_magic("mlenv_add_data", f"alice/tiny --to '{target}'")
    assert path == target.absolute() and (target / "train.csv").read_bytes() == FILES["train.csv"]
    assert "downloaded, 2 files" in capsys.readouterr().out
    assert ip.run_line_magic("mlenv_add_data", "alice/tiny --offline -q") != path


def test_unreachable_colab_cache_falls_back_to_download(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("TBE_RUNTIME_ADDR", f"127.0.0.1:{closed_port}")
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    from mlenv_magics import add_data

    path = add_data("alice/tiny", quiet=True)
    assert (path / "train.csv").read_bytes() == FILES["train.csv"]
