"""add_data() for Kaggle datasets and competitions through the Python API, against the fake."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from kaggle_helpers import FAST

from mlenv_magics import add_data
from mlenv_magics.api import acquire_data
from mlenv_magics.cache import Cache
from mlenv_magics.errors import (
    AccessDeniedError,
    ArchiveError,
    CredentialsError,
    DestinationExistsError,
    IntegrityError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    TransferError,
)
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.kaggle_fake import RULES_MESSAGE, KaggleFake, corrupt_zip, hostile_zip

FILES = {"train.csv": b"a,b\n1,2\n", "test.csv": b"a\n3\n", "sub/notes.txt": b"hello"}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def methods(fake: KaggleFake) -> list[str]:
    return [call.method for call in fake.calls]


def test_downloads_then_serves_from_the_cache(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    result = acquire_data("alice/tiny", policy=FAST)
    path = result.path
    assert tree(path) == FILES
    assert path.is_relative_to(Path(os.environ["MLENV_CACHE_DIR"]))
    summary = result.summary_line()
    assert summary.startswith("kaggle dataset alice/tiny v1: downloaded, 3 files,")
    assert summary.endswith("; credentials: KAGGLE_API_TOKEN env")
    assert kaggle_fake.token not in summary
    assert methods(kaggle_fake) == ["GetDataset", "DownloadDataset"]

    again = acquire_data("alice/tiny")
    assert again.path == path
    assert "v1: cache, 3 files" in again.summary_line()
    assert methods(kaggle_fake)[2:] == ["GetDataset"]  # unversioned: only the version lookup


def test_a_cached_pinned_version_costs_no_network_call(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", versions={1: {"a.txt": b"one"}, 2: {"a.txt": b"two"}})
    first = add_data("alice/tiny/versions/1", quiet=True)
    assert tree(first) == {"a.txt": b"one"}
    calls = len(kaggle_fake.calls)
    assert add_data("https://www.kaggle.com/datasets/alice/tiny/versions/1", quiet=True) == first
    assert len(kaggle_fake.calls) == calls
    latest = add_data("alice/tiny", quiet=True)
    assert tree(latest) == {"a.txt": b"two"} and latest != first


def test_the_api_prints_nothing_and_quiet_drops_the_callbacks(
    kaggle_fake: KaggleFake, capsys
) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    progress = RecordingProgress()
    add_data("alice/tiny", progress=progress)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert progress.bytes_advanced > 0  # the caller's sink followed the download
    quiet = RecordingProgress()
    add_data("alice/tiny", files=["train.csv"], quiet=True, progress=quiet)
    assert quiet.events == [] and capsys.readouterr().out == ""


def test_file_globs_fetch_single_files_not_the_archive(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    path = add_data("alice/tiny", files=["*.csv"], quiet=True)
    assert tree(path) == {"train.csv": FILES["train.csv"], "test.csv": FILES["test.csv"]}
    downloads = kaggle_fake.calls_to("DownloadDataset")
    assert sorted(call.body["fileName"] for call in downloads) == ["test.csv", "train.csv"]

    # the subset does not pass for the whole dataset
    whole = add_data("alice/tiny", quiet=True)
    assert tree(whole) == FILES and whole != path
    assert "fileName" not in kaggle_fake.calls_to("DownloadDataset")[-1].body


def test_file_selection_served_from_a_cached_full_copy(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    whole = add_data("alice/tiny/versions/1", quiet=True)
    calls = len(kaggle_fake.calls)
    assert add_data("alice/tiny/versions/1", files=["sub/*"], quiet=True) == whole
    assert len(kaggle_fake.calls) == calls


def test_a_pattern_matching_nothing_lists_the_files(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    with pytest.raises(NotFoundError) as info:
        add_data("alice/tiny", files=["*.parquet"], quiet=True)
    assert "'*.parquet'" in str(info.value) and "train.csv" in str(info.value)


def test_large_single_files_sent_zipped_are_unwrapped(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.wrap_files_over = 6
    path = add_data("alice/tiny", files=["train.csv"], quiet=True)
    assert tree(path) == {"train.csv": FILES["train.csv"]}


def test_to_places_the_files_and_refuses_to_overwrite(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    target = tmp_path / "data"
    assert add_data("alice/tiny", to=target, quiet=True) == target.absolute()
    assert tree(target) == FILES
    assert add_data("alice/tiny", to=target, quiet=True) == target.absolute()  # identical: fine
    (target / "train.csv").write_bytes(b"edited")
    with pytest.raises(DestinationExistsError, match="--force"):
        add_data("alice/tiny", to=target, quiet=True)
    assert (target / "train.csv").read_bytes() == b"edited"
    add_data("alice/tiny", to=target, force=True, quiet=True)
    assert tree(target) == FILES


def test_offline_uses_the_newest_cached_version_and_says_so(
    kaggle_fake: KaggleFake,
) -> None:
    kaggle_fake.add_dataset("alice/tiny", versions={1: {"a": b"1"}, 2: {"a": b"2"}, 3: {"a": b"3"}})
    add_data("alice/tiny/versions/1", quiet=True)
    v2 = add_data("alice/tiny/versions/2", quiet=True)
    calls = len(kaggle_fake.calls)
    result = acquire_data("alice/tiny", offline=True)
    assert result.path == v2 and result.version == "2"
    assert len(kaggle_fake.calls) == calls
    assert "offline: using the newest cached version 2" in result.summary_line()


def test_offline_without_a_cached_copy_is_a_clear_error(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    with pytest.raises(OfflineError, match="without --offline"):
        add_data("alice/tiny", offline=True, quiet=True)
    with pytest.raises(OfflineError):
        add_data("alice/tiny/versions/1", offline=True, quiet=True)
    assert kaggle_fake.calls == []


def test_force_fetches_again(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    path = add_data("alice/tiny/versions/1", quiet=True)
    (path / "train.csv").write_bytes(b"damaged")
    assert add_data("alice/tiny/versions/1", force=True, quiet=True) == path
    assert tree(path) == FILES
    assert len(kaggle_fake.calls_to("DownloadDataset")) == 2


def test_competition_download(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_competition("titanic", {"train.csv": b"x", "test.csv": b"y"})
    path = add_data("competition:titanic", quiet=True)
    assert tree(path) == {"train.csv": b"x", "test.csv": b"y"}
    assert add_data("https://www.kaggle.com/c/titanic", quiet=True) == path
    assert len(kaggle_fake.calls_to("DownloadDataFiles")) == 1
    one = add_data("competition:titanic", files=["test.csv"], force=True, quiet=True)
    assert tree(one) == {"test.csv": b"y"}
    assert kaggle_fake.calls_to("DownloadDataFile")[-1].body["fileName"] == "test.csv"


# ------------------------------------------------------------------ server errors
def test_401_names_the_credential_source_never_the_value(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    monkeypatch.setenv("KAGGLE_API_TOKEN", "wrong-token-value")
    with pytest.raises(CredentialsError) as info:
        add_data("alice/tiny", quiet=True)
    message = str(info.value)
    assert "KAGGLE_API_TOKEN env" in message and "wrong-token-value" not in message
    assert "invalid or expired" in message  # the server's own words
    assert "https://www.kaggle.com/settings" in message  # how to renew


def test_403_on_a_competition_points_at_the_rules(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_competition("closed", {"train.csv": b"x"}, rules_accepted=False)
    with pytest.raises(AccessDeniedError) as info:
        add_data("competition:closed", quiet=True)
    assert RULES_MESSAGE in str(info.value)
    assert "https://www.kaggle.com/competitions/closed/rules" in str(info.value)


def test_404_says_check_the_slug_with_the_url(kaggle_fake: KaggleFake) -> None:
    with pytest.raises(NotFoundError) as info:
        add_data("alice/nothing", quiet=True)
    assert "https://www.kaggle.com/datasets/alice/nothing" in str(info.value)
    assert "Dataset not found" in str(info.value)


def test_private_dataset_without_credentials(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/secret", files=FILES, private=True)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    with pytest.raises(NotFoundError, match="private"):
        add_data("alice/secret", quiet=True)
    monkeypatch.setenv("KAGGLE_USERNAME", kaggle_fake.username)
    monkeypatch.setenv("KAGGLE_KEY", kaggle_fake.key)
    assert tree(add_data("alice/secret", quiet=True)) == FILES
    assert kaggle_fake.calls[-1].auth == "basic"


def test_public_data_works_without_credentials(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    assert tree(add_data("alice/tiny", quiet=True)) == FILES
    assert {call.auth for call in kaggle_fake.calls} == {"none"}


def test_competition_without_credentials_lists_the_ways(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    with pytest.raises(CredentialsError) as info:
        add_data("competition:titanic", quiet=True)
    for way in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "kaggle.json", "~/.config/kaggle"):
        assert way in str(info.value)
    assert kaggle_fake.calls == []


def test_429_is_retried_then_reported(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.fail("GetDataset", 429, retry_after=0, times=2)
    assert tree(add_data("alice/tiny", quiet=True, policy=FAST)) == FILES
    kaggle_fake.fail("GetDataset", 429, retry_after=0, times=10)
    with pytest.raises(RateLimitedError) as info:
        add_data("alice/tiny", quiet=True, policy=FAST)
    assert "Too many requests" in str(info.value) and "Wait" in str(info.value)


def test_error_envelope_with_http_200_is_an_error(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.fail("GetDataset", 404, "Gone for good", http_200=True)
    with pytest.raises(NotFoundError, match="Gone for good"):
        add_data("alice/tiny", quiet=True, policy=FAST)


# ------------------------------------------------------------------ archives and transfers
def _no_complete_entries() -> bool:
    return Cache(Path(os.environ["MLENV_CACHE_DIR"])).entries() == []


def test_corrupt_archive_is_refused_and_nothing_is_cached(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/bad", files=FILES, archive=corrupt_zip())
    with pytest.raises(ArchiveError, match="--force"):
        add_data("alice/bad", quiet=True, policy=FAST)
    assert _no_complete_entries()


def test_hostile_archive_writes_nothing_outside(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    kaggle_fake.add_dataset("alice/evil", files=FILES, archive=hostile_zip("../../../escaped.txt"))
    with pytest.raises(ArchiveError):
        add_data("alice/evil", quiet=True, policy=FAST)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert _no_complete_entries()


def test_wrong_hash_is_an_integrity_error(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    add_data("alice/tiny/versions/1", files=["train.csv"], quiet=True)  # registers the blob
    kaggle_fake.blobs.faults("datasets/alice/tiny/1/train.csv", wrong_hash=True)
    with pytest.raises(IntegrityError):
        add_data("alice/tiny/versions/1", files=["train.csv"], force=True, quiet=True)


def test_interrupted_download_resumes_on_the_next_run(kaggle_fake: KaggleFake) -> None:
    big = {"big.bin": os.urandom(300_000)}
    kaggle_fake.add_dataset("alice/big", files=big)
    blob = "datasets/alice/big/1/big.zip"
    kaggle_fake._blob_url(
        ("d", "alice/big", "1"), blob, kaggle_fake.datasets["alice/big"].archives[1]
    )
    kaggle_fake.blobs.faults(blob, drop_at=100_000, drop_times=5)
    one_try = type(FAST)(max_attempts=1, sleep=lambda seconds: None)
    with pytest.raises(TransferError, match="rerun"):
        add_data("alice/big/versions/1", quiet=True, policy=one_try)
    kaggle_fake.blobs.faults(blob)  # the network is back
    path = add_data("alice/big/versions/1", quiet=True, policy=FAST)
    assert tree(path) == big
    stats = kaggle_fake.blobs.stats(blob)
    assert stats.ranges[0] is None and stats.ranges[-1] is not None
    assert stats.ranges[-1].startswith("bytes=") and stats.statuses[-1] == 206
    resumed_at = int(stats.ranges[-1].split("=")[1].rstrip("-"))
    assert resumed_at >= 65_536  # bytes kept from the first run were not fetched again


def test_a_dropped_connection_is_resumed_within_the_call(kaggle_fake: KaggleFake) -> None:
    big = {"big.bin": os.urandom(200_000)}
    kaggle_fake.add_dataset("alice/big", files=big)
    blob = "datasets/alice/big/1/big.zip"
    kaggle_fake._blob_url(
        ("d", "alice/big", "1"), blob, kaggle_fake.datasets["alice/big"].archives[1]
    )
    kaggle_fake.blobs.faults(blob, drop_at=70_000)
    assert tree(add_data("alice/big/versions/1", quiet=True, policy=FAST)) == big
    assert kaggle_fake.blobs.stats(blob).statuses == (200, 206)


def test_downloads_never_send_credentials_to_the_blob_host(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    add_data("alice/tiny/versions/1", quiet=True)
    records = kaggle_fake.blobs.stats("datasets/alice/tiny/1/tiny.zip").records
    assert records and all("Authorization" not in r.headers for r in records)
    assert kaggle_fake.calls_to("DownloadDataset")[0].auth == "bearer"


def test_the_archive_is_a_real_zip_of_the_files(kaggle_fake: KaggleFake, tmp_path: Path) -> None:
    dataset = kaggle_fake.add_dataset("alice/tiny", files=FILES)
    archive = tmp_path / "a.zip"
    archive.write_bytes(dataset.archives[1])
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == sorted(FILES)


def test_selection_and_whole_copies_never_disturb_each_other(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    subset = add_data("alice/tiny/versions/1", files=["train.csv"], quiet=True)
    whole = add_data("alice/tiny/versions/1", quiet=True)
    assert tree(whole) == FILES
    assert tree(subset) == {"train.csv": FILES["train.csv"]}
    other = add_data("alice/tiny/versions/1", files=["test.csv"], force=True, quiet=True)
    assert tree(other) == {"test.csv": FILES["test.csv"]}
    assert tree(whole) == FILES and tree(subset) == {"train.csv": FILES["train.csv"]}


def test_offline_selection_uses_the_newest_cached_selection(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_dataset("alice/tiny", versions={1: FILES, 2: FILES})
    subset = add_data("alice/tiny", files=["*.csv"], quiet=True)
    calls = len(kaggle_fake.calls)
    assert add_data("alice/tiny", files=["*.csv"], offline=True, quiet=True) == subset
    assert len(kaggle_fake.calls) == calls
    with pytest.raises(OfflineError):
        add_data("alice/tiny", files=["*.txt"], offline=True, quiet=True)


def test_competition_whole_and_selection_are_separate(kaggle_fake: KaggleFake) -> None:
    kaggle_fake.add_competition("titanic", {"train.csv": b"x", "test.csv": b"y"})
    one = add_data("competition:titanic", files=["train.csv"], quiet=True)
    whole = add_data("competition:titanic", quiet=True)
    assert tree(one) == {"train.csv": b"x"} and tree(whole) == {"train.csv": b"x", "test.csv": b"y"}
