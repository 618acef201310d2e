"""A Kaggle notebook's output files through add_data(), the CLI and the magic, against the
fake: latest or pinned version, the archive or single files, the cache, the Kaggle mounts
and attach, one readable error per failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.api import acquire_data
from mlenv_magics.errors import CredentialsError, NotFoundError, OfflineError
from mlenv_magics.testing.kaggle_fake import KaggleFake

RUN = "alice/train-run"
V1 = {"submission.csv": b"id,y\n1,0\n"}
V2 = {"submission.csv": b"id,y\n1,1\n", "plots/loss.txt": b"0.9\n0.5\n", "model.bin": b"w" * 5000}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def methods(fake: KaggleFake) -> list[str]:
    return [call.method for call in fake.calls]


@pytest.fixture
def notebook(kaggle_fake: KaggleFake) -> KaggleFake:
    kaggle_fake.models.add_notebook(RUN, V1)
    kaggle_fake.models.add_notebook(RUN, V2)
    return kaggle_fake


@pytest.mark.parametrize("archive", ["tar.gz", "zip"])
def test_latest_outputs_as_one_archive_then_the_cache(notebook: KaggleFake, archive: str) -> None:
    notebook.models.notebook_archive = archive
    result = acquire_data("notebook:alice/train-run", policy=FAST)
    assert tree(result.path) == V2
    assert (result.origin, result.version, result.files) == ("downloaded", "2", 3)
    assert result.source == "kaggle notebook alice/train-run"
    assert methods(notebook) == ["GetKernel", "ListKernelFiles", "DownloadKernelOutput"]
    assert notebook.calls[0].body == {"userName": "alice", "kernelSlug": "train-run"}
    assert notebook.calls[1].body["versionLabel"] == "v2"
    assert notebook.calls[2].body == {
        "ownerSlug": "alice",
        "kernelSlug": "train-run",
        "versionNumber": 2,
    }
    again = acquire_data("https://www.kaggle.com/code/alice/train-run")
    assert (again.path, again.origin) == (result.path, "cache")
    assert methods(notebook)[3:] == ["GetKernel"]


def test_a_pinned_version_and_its_cache_hit_without_a_call(notebook: KaggleFake) -> None:
    old = acquire_data("notebook:alice/train-run/versions/1", policy=FAST)
    assert tree(old.path) == V1 and old.version == "1"
    assert methods(notebook) == ["ListKernelFiles", "DownloadKernelOutput"]
    calls = len(notebook.calls)
    assert add_data("kaggle.com/code/alice/train-run/versions/1", quiet=True) == old.path
    assert len(notebook.calls) == calls


def test_large_outputs_come_one_by_one(kaggle_fake: KaggleFake) -> None:
    weights = {f"checkpoint-{i}.pt": bytes([i]) * 400_000 for i in range(3)}
    kaggle_fake.models.add_notebook(RUN, weights)
    result = acquire_data("notebook:alice/train-run", policy=FAST)
    assert tree(result.path) == weights
    fetched = sorted(c.body.get("filePath") for c in kaggle_fake.calls_to("DownloadKernelOutput"))
    assert fetched == sorted(weights)


def test_selected_files_are_fetched_on_their_own(notebook: KaggleFake) -> None:
    notebook.page_size_cap = 2  # the output list has two pages
    result = acquire_data("notebook:alice/train-run", files=["*.csv", "plots/"], policy=FAST)
    assert tree(result.path) == {k: V2[k] for k in ("submission.csv", "plots/loss.txt")}
    listing = notebook.calls_to("ListKernelFiles")
    assert [c.body["versionLabel"] for c in listing] == ["v2", "v2"]
    fetched = sorted(c.body["filePath"] for c in notebook.calls_to("DownloadKernelOutput"))
    assert fetched == ["plots/loss.txt", "submission.csv"]


@pytest.mark.parametrize("inline", [False, True])
def test_a_single_file_sent_zipped_is_unwrapped(notebook: KaggleFake, inline: bool) -> None:
    notebook.wrap_files_over = 1000
    notebook.inline_downloads = inline
    one = acquire_data("notebook:alice/train-run", files=["model.bin"], policy=FAST)
    assert tree(one.path) == {"model.bin": V2["model.bin"]}


def test_offline_and_errors(notebook: KaggleFake, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OfflineError, match="no version of kaggle notebook alice/train-run"):
        add_data("notebook:alice/train-run", offline=True, quiet=True)
    add_data("notebook:alice/train-run/versions/1", quiet=True, policy=FAST)
    offline = acquire_data("notebook:alice/train-run", offline=True)
    assert offline.version == "1" and tree(offline.path) == V1
    with pytest.raises(NotFoundError) as info:
        add_data("notebook:alice/nope", quiet=True, policy=FAST)
    assert "Kaggle has no notebook alice/nope" in str(info.value)
    assert "https://www.kaggle.com/code/alice/nope" in str(info.value)
    with pytest.raises(NotFoundError, match="version"):
        add_data("notebook:alice/train-run/versions/9", quiet=True, policy=FAST)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    with pytest.raises(CredentialsError):
        add_data("notebook:alice/train-run/versions/2", quiet=True, policy=FAST)


def test_inline_answers_are_accepted(notebook: KaggleFake) -> None:
    notebook.inline_downloads = True
    notebook.json_content_type = "text/html; charset=utf-8"
    one = add_data("notebook:alice/train-run", files=["model.bin"], quiet=True, policy=FAST)
    assert tree(one) == {"model.bin": V2["model.bin"]}
    assert tree(add_data("notebook:alice/train-run", quiet=True, policy=FAST)) == V2


def test_on_kaggle_mounted_or_attached(notebook: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in notebook.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    root = notebook.mount_root
    assert root is not None
    attached = acquire_data("notebook:alice/train-run", mount_timeout=30)
    assert attached.path == root / "notebooks/alice/train-run"
    assert (attached.origin, attached.version) == ("attached", "2")
    assert tree(attached.path) == V2
    assert notebook.calls_to("attach")[0].body == {
        "kernelRef": {"OwnerSlug": "alice", "KernelSlug": "train-run"}
    }
    calls = len(notebook.calls)
    mounted = acquire_data("notebook:alice/train-run")
    assert (mounted.path, mounted.origin) == (attached.path, "mounted")
    assert len(notebook.calls) == calls
    legacy = root / "other-run"
    legacy.mkdir()
    assert add_data("notebook:bob/other-run", quiet=True) == legacy


def test_cli_summary_and_path(notebook: KaggleFake) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlenv_magics", "add-data", "notebook:alice/train-run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("kaggle notebook alice/train-run v2: downloaded, 3 files,")
    assert tree(Path(lines[-1])) == V2


def test_magic_returns_the_path(ip, notebook: KaggleFake) -> None:  # type: ignore[no-untyped-def]
    path = ip.run_line_magic("mlenv_add_data", "-q notebook:alice/train-run/versions/1")
    assert tree(Path(path)) == V1
