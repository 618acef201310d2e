"""Kaggle models through add_data(), the CLI and the magic, against the fake: versions, every
page of files, file by file or the archive, --file/--to/--force/--offline, one readable error
per failure, the Kaggle mounts and attach, Colab's cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.api import acquire_data
from mlenv_magics.data.kaggle_models import REQUEST_COST, archive_is_cheaper
from mlenv_magics.data.pipeline import ListedFile
from mlenv_magics.errors import (
    AccessDeniedError,
    DestinationExistsError,
    NotFoundError,
    OfflineError,
)
from mlenv_magics.testing.kaggle_fake import KaggleFake

GEMMA = "google/gemma/pyTorch/2b"
SMALL = {f"tokenizer/part-{i:02d}.json": b'{"id": %d}' % i for i in range(30)}
LARGE = {  # weights: a few files, large enough that one request each costs less than tar
    "model-1.safetensors": os.urandom(300_000),
    "model-2.safetensors": os.urandom(300_001),
    "config.json": b'{"layers": 2}' + b" " * 300_000,
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def methods(fake: KaggleFake) -> list[str]:
    return [call.method for call in fake.calls]


def on_kaggle(monkeypatch: pytest.MonkeyPatch, fake: KaggleFake) -> Path:
    for name, value in fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    assert fake.mount_root is not None
    return fake.mount_root


def test_the_choice_between_files_and_the_archive() -> None:
    few_large = [ListedFile(f"w{i}", 100 << 20) for i in range(30)]
    many_small = [ListedFile(f"s{i}", 2000) for i in range(30)]
    assert not archive_is_cheaper(few_large)
    assert archive_is_cheaper(many_small)
    assert archive_is_cheaper([ListedFile("a", None), ListedFile("b", 10 << 20)])
    # one file: two requests either way, and the archive adds a tar entry and an extraction
    assert not archive_is_cheaper([ListedFile("one", 1)])
    cut = 2 * REQUEST_COST  # break-even per file, roughly
    assert archive_is_cheaper([ListedFile(f"f{i}", cut // 4) for i in range(100)])
    assert not archive_is_cheaper([ListedFile(f"f{i}", cut * 2) for i in range(100)])


def test_latest_version_every_page_and_the_archive_for_many_small_files(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.models.page_size_cap = 7  # 30 files: five pages
    kaggle_fake.models.add_model(GEMMA, versions={1: {"old.txt": b"1"}, 2: SMALL})
    result = acquire_data("model:google/gemma/pytorch/2b", policy=FAST)
    assert tree(result.path) == SMALL
    assert (result.origin, result.version, result.files) == ("downloaded", "2", 30)
    assert result.source == "kaggle model google/gemma/pytorch/2b"
    listing = kaggle_fake.calls_to("ListModelInstanceVersionFiles")
    assert [c.body.get("pageToken", "") for c in listing] == ["", "7", "14", "21", "28"]
    (download,) = kaggle_fake.calls_to("DownloadModelInstanceVersion")
    assert "path" not in download.body and download.body["versionNumber"] == 2
    first = kaggle_fake.calls_to("GetModelInstance")[0].body
    assert first == {
        "ownerSlug": "google",
        "modelSlug": "gemma",
        "framework": "MODEL_FRAMEWORK_PY_TORCH",
        "instanceSlug": "2b",
    }
    before = len(kaggle_fake.calls)
    again = acquire_data("model:google/gemma/pytorch/2b", policy=FAST)
    assert (again.path, again.origin) == (result.path, "cache")
    assert methods(kaggle_fake)[before:] == ["GetModelInstance"]


def test_few_large_files_come_one_by_one_with_their_sizes_checked(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.models.add_model(GEMMA, LARGE)
    path = add_data("model:google/gemma/pytorch/2b/1", quiet=True, policy=FAST)
    assert tree(path) == LARGE
    paths = sorted(c.body["path"] for c in kaggle_fake.calls_to("DownloadModelInstanceVersion"))
    assert paths == sorted(LARGE)


def test_a_pinned_cached_version_costs_no_call_and_spellings_share_it(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.models.add_model(GEMMA, SMALL)
    first = add_data("model:google/gemma/PyTorch/2b/1", quiet=True, policy=FAST)
    calls = len(kaggle_fake.calls)
    for spelling in ("pytorch", "pyTorch", "PY_TORCH", "py-torch"):
        again = acquire_data(f"model:google/gemma/{spelling}/2b/1")
        assert (again.path, again.origin) == (first, "cache")
    url = "https://www.kaggle.com/models/google/gemma/frameworks/PyTorch/variations/2b/versions/1"
    assert add_data(url, quiet=True) == first
    assert len(kaggle_fake.calls) == calls


def test_file_selection_to_force_and_offline(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.models.add_model(GEMMA, LARGE)
    some = acquire_data("model:google/gemma/pytorch/2b", files=["*.safetensors"], policy=FAST)
    assert sorted(tree(some.path)) == ["model-1.safetensors", "model-2.safetensors"]
    assert some.files == 2
    paths = sorted(c.body["path"] for c in kaggle_fake.calls_to("DownloadModelInstanceVersion"))
    assert paths == ["model-1.safetensors", "model-2.safetensors"]

    target = tmp_path / "weights"
    placed = add_data("model:google/gemma/pytorch/2b/1", to=target, quiet=True, policy=FAST)
    assert placed == target and tree(target) == LARGE
    (target / "config.json").write_bytes(b"edited")
    with pytest.raises(DestinationExistsError):
        add_data("model:google/gemma/pytorch/2b/1", to=target, quiet=True, policy=FAST)
    downloads = len(kaggle_fake.calls_to("DownloadModelInstanceVersion"))
    add_data("model:google/gemma/pytorch/2b/1", to=target, force=True, quiet=True, policy=FAST)
    assert tree(target) == LARGE
    assert len(kaggle_fake.calls_to("DownloadModelInstanceVersion")) == downloads + 3

    calls = len(kaggle_fake.calls)
    offline = acquire_data("model:google/gemma/pytorch/2b", offline=True)
    assert offline.origin == "cache" and offline.version == "1"
    assert "offline: using the newest cached version 1" in offline.notes
    assert len(kaggle_fake.calls) == calls
    with pytest.raises(OfflineError, match="no version of kaggle model google/gemma/jax/2b"):
        add_data("model:google/gemma/jax/2b", offline=True, quiet=True)


def test_an_unknown_model_names_its_page(kaggle_fake: KaggleFake) -> None:
    with pytest.raises(NotFoundError) as info:
        add_data("model:google/nope/pytorch/2b", quiet=True, policy=FAST)
    text = str(info.value)
    assert "Kaggle has no model google/nope/pytorch/2b" in text
    assert "https://www.kaggle.com/models/google/nope/pyTorch/2b" in text


def test_a_gated_model_names_the_page_where_its_licence_is_accepted(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.models.add_model(GEMMA, LARGE, gated=True)
    with pytest.raises(AccessDeniedError) as info:
        add_data("model:google/gemma/pytorch/2b", quiet=True, policy=FAST)
    text = str(info.value)
    assert "User has not consented" in text  # Kaggle's own words are kept
    assert "accept its licence" in text
    assert "https://www.kaggle.com/models/google/gemma/pyTorch/2b" in text
    assert kaggle_fake.token not in text
    kaggle_fake.models.accept_licence(GEMMA)
    assert tree(add_data("model:google/gemma/pytorch/2b", quiet=True, policy=FAST)) == LARGE


def test_a_private_model_needs_credentials(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.models.add_model(GEMMA, SMALL, private=True)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    with pytest.raises(NotFoundError, match="or it is private"):
        add_data("model:google/gemma/pytorch/2b", quiet=True, policy=FAST)
    monkeypatch.setenv("KAGGLE_API_TOKEN", kaggle_fake.token)
    assert tree(add_data("model:google/gemma/pytorch/2b", quiet=True, policy=FAST)) == SMALL


@pytest.mark.parametrize("knob", ["json_content_type", "inline_downloads"])
@pytest.mark.parametrize("files", [SMALL, LARGE], ids=["archive", "one-by-one"])
def test_lenient_answers(kaggle_fake: KaggleFake, knob: str, files: dict[str, bytes]) -> None:
    setattr(kaggle_fake, knob, "text/html" if knob == "json_content_type" else True)
    kaggle_fake.models.add_model(GEMMA, files)
    assert tree(add_data("model:google/gemma/pytorch/2b", quiet=True, policy=FAST)) == files


def test_a_dropped_connection_resumes(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.models.add_model(GEMMA, LARGE)
    blob = kaggle_fake.models.model_file_blob(GEMMA, "model-1.safetensors")
    path = add_data("model:google/gemma/pytorch/2b/1", quiet=True, policy=FAST)
    assert tree(path) == LARGE  # registers the blob; now drop it mid-way on a fresh download
    kaggle_fake.blobs.faults(blob, drop_at=100_000)
    kaggle_fake.blobs.reset_stats(blob)
    again = add_data("model:google/gemma/pytorch/2b/1", force=True, quiet=True, policy=FAST)
    assert tree(again) == LARGE
    stats = kaggle_fake.blobs.stats(blob)
    assert stats.statuses == (200, 206)  # the second request asked only for the rest
    assert stats.bytes_sent < 2 * 300_000


def test_concurrent_processes_download_each_file_once(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.models.add_model(GEMMA, LARGE)
    kaggle_fake.slow("DownloadModelInstanceVersion", 0.3)  # the lock holder takes a while
    argv = [sys.executable, "-m", "mlenv_magics", "add-data", "model:google/gemma/pytorch/2b/1"]
    procs = [
        subprocess.Popen(
            [*argv, "-q"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
    paths = {out.strip().splitlines()[-1] for out, _err in outputs}
    assert len(paths) == 1
    assert tree(Path(paths.pop())) == LARGE
    assert len(kaggle_fake.calls_to("DownloadModelInstanceVersion")) == len(LARGE)


# ---------------------------------------------------------------------- notebook hosts
def test_mounted_in_the_editor_namespaced_or_legacy(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = on_kaggle(monkeypatch, kaggle_fake)
    namespaced = root / "models/google/gemma/pytorch/2b/3"
    namespaced.mkdir(parents=True)
    (namespaced / "config.json").write_bytes(b"{}")
    result = acquire_data("model:google/gemma/PyTorch/2b")
    assert (result.path, result.origin, result.version) == (namespaced, "mounted", "3")
    legacy = root / "llama/transformers/7b/1"
    legacy.mkdir(parents=True)
    assert add_data("model:meta/llama/Transformers/7b/1", quiet=True) == legacy
    assert kaggle_fake.calls == []


def test_attached_with_a_model_ref_and_the_same_bounded_wait(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.models.add_model(GEMMA, versions={1: SMALL, 2: LARGE})
    kaggle_fake.attach_delay = 0.3
    result = acquire_data("model:google/gemma/pytorch/2b/1", mount_timeout=30)
    assert result.path == root / "models/google/gemma/pytorch/2b/1"
    assert (result.origin, result.version) == ("attached", "1")
    assert tree(result.path) == SMALL
    (call,) = kaggle_fake.calls_to("attach")
    assert call.body == {
        "modelRef": {
            "OwnerSlug": "google",
            "ModelSlug": "gemma",
            "Framework": "pyTorch",
            "InstanceSlug": "2b",
            "VersionNumber": "1",
        }
    }


def test_the_attach_answers_mount_slug_is_opaque(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.models.mount_layout = "legacy"
    kaggle_fake.models.add_model(GEMMA, SMALL)
    assert add_data("model:google/gemma/pytorch/2b", quiet=True) == root / "gemma/pytorch/2b/1"


def test_attaching_a_gated_model_names_its_page(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.models.add_model(GEMMA, SMALL, gated=True)
    with pytest.raises(AccessDeniedError, match="models/google/gemma/pyTorch/2b"):
        add_data("model:google/gemma/pytorch/2b", quiet=True)


def test_colabs_cache_serves_models_it_has(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in kaggle_fake.colab_env().items():
        monkeypatch.setenv(name, value)
    kaggle_fake.models.add_model(GEMMA, SMALL)
    kaggle_fake.models.add_model("google/gemma/jax/2b", LARGE)
    kaggle_fake.models.colab_cached.add(GEMMA)
    result = acquire_data("model:google/gemma/pytorch/2b")
    assert result.origin == "colab-cache" and tree(result.path) == SMALL
    body = kaggle_fake.calls_to("colab-models:mount")[0].body
    assert body == {"owner": "google", "model": "gemma", "framework": "pyTorch", "variation": "2b"}
    other = acquire_data("model:google/gemma/jax/2b", policy=FAST)  # not cached there
    assert other.origin == "downloaded" and tree(other.path) == LARGE


# ---------------------------------------------------------------------- CLI and magic
def test_cli_prints_the_summary_and_the_path_last(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.models.add_model(GEMMA, SMALL)
    done = subprocess.run(
        [sys.executable, "-m", "mlenv_magics", "add-data", "model:google/gemma/pytorch/2b"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("kaggle model google/gemma/pytorch/2b v1: downloaded, 30 files,")
    assert tree(Path(lines[-1])) == SMALL
    missing = subprocess.run(
        [sys.executable, "-m", "mlenv_magics", "add-data", "model:google/gemma/jax/9b"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1
    assert "Kaggle has no model google/gemma/jax/9b" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_magic_returns_the_path(ip, kaggle_fake: KaggleFake) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.models.add_model(GEMMA, SMALL)
    path = ip.run_line_magic("mlenv_add_data", "-q model:google/gemma/PyTorch/2b/1")
    assert tree(Path(path)) == SMALL
    with pytest.raises(NotFoundError):
        ip.run_line_magic("mlenv_add_data", "-q model:google/gemma/jax/9b")
