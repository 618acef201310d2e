"""``acquire_drive`` with the real PyDrive2 against the loopback Drive fake."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from drive_helpers import acquire_drive

from mlenv_magics.data.model import AddDataOptions
from mlenv_magics.data.sources import DriveItem
from mlenv_magics.errors import (
    AccessDeniedError,
    CredentialsError,
    DestinationExistsError,
    IntegrityError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
)
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.drive_fake import DriveFake

Options = Callable[..., AddDataOptions]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def nested_folder(fake: DriveFake) -> tuple[str, dict[str, bytes]]:
    top = fake.add_folder("dataset")
    train = fake.add_folder("train", parent=top)
    images = fake.add_folder("images", parent=train)
    files = {
        "README.md": b"# data\n",
        "train/labels.csv": b"id,label\n1,cat\n2,dog\n",
        "train/images/1.png": os.urandom(3000),
        "train/images/2.png": os.urandom(5000),
    }
    parents = {"": top, "train/": train, "train/images/": images}
    for relpath, content in files.items():
        folder, _, name = relpath.rpartition("/")
        fake.add_file(name, content, parent=parents[folder + "/" if folder else ""])
    return top, files


def test_single_file_lands_in_the_cache_under_its_title(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    content = os.urandom(200_000)
    file_id = drive_fake.add_file("weights.bin", content)

    result = acquire_drive(DriveItem(file_id, "file"), drive_options())

    assert tree(result.path) == {"weights.bin": content}
    assert result.origin == "downloaded"
    assert (result.files, result.size) == (1, len(content))
    assert result.source == "drive file weights.bin"
    assert drive_fake.count("media", file_id) == 1


def test_nested_folder_keeps_its_tree(drive_fake: DriveFake, drive_options: Options) -> None:
    top, files = nested_folder(drive_fake)

    result = acquire_drive(DriveItem(top, "folder"), drive_options())

    assert tree(result.path) == files
    assert result.files == 4
    assert result.size == sum(len(c) for c in files.values())
    assert "drive folder dataset: downloaded, 4 files" in result.summary_line()


def test_listing_follows_every_page(drive_fake: DriveFake, drive_options: Options) -> None:
    drive_fake.page_size = 3
    top = drive_fake.add_folder("many")
    files = {f"part-{i:02d}.txt": f"row {i}\n".encode() for i in range(10)}
    for name, content in files.items():
        drive_fake.add_file(name, content, parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert tree(result.path) == files
    assert drive_fake.count("list") == 4  # 3 + 3 + 3 + 1


def test_file_globs_select_inside_a_folder(drive_fake: DriveFake, drive_options: Options) -> None:
    top, files = nested_folder(drive_fake)

    result = acquire_drive(DriveItem(top), drive_options(files=("*.csv", "train/images/2.png")))

    assert tree(result.path) == {
        "train/labels.csv": files["train/labels.csv"],
        "train/images/2.png": files["train/images/2.png"],
    }
    assert drive_fake.count("media") == 2


def test_a_glob_matching_nothing_names_the_files_there(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, _ = nested_folder(drive_fake)

    with pytest.raises(NotFoundError) as error:
        acquire_drive(DriveItem(top), drive_options(files=("*.parquet",)))

    assert "matches '*.parquet'" in str(error.value)
    assert "train/labels.csv" in str(error.value)


def test_docs_native_files_are_exported_and_forms_skipped(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("reports")
    drive_fake.add_doc(
        "summary",
        "document",
        parent=top,
        exports={
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"DOCX",
        },
    )
    drive_fake.add_doc("budget", "spreadsheet", parent=top, exports={"text/csv": b"a,b\n"})
    drive_fake.add_doc("survey", "form", parent=top)
    drive_fake.add_file("raw.txt", b"raw", parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert tree(result.path) == {"summary.docx": b"DOCX", "budget.csv": b"a,b\n", "raw.txt": b"raw"}
    assert drive_fake.count("export") == 2
    assert "exported 2 Google Docs-native file(s)" in result.notes
    assert any("survey (form)" in note for note in result.notes)


def test_a_single_doc_is_exported(drive_fake: DriveFake, drive_options: Options) -> None:
    doc = drive_fake.add_doc("slides", "presentation")

    result = acquire_drive(DriveItem(doc), drive_options())

    assert list(tree(result.path)) == ["slides.pptx"]


def test_shared_drive_folder(drive_fake: DriveFake, drive_options: Options) -> None:
    shared = drive_fake.add_shared_drive("Team")
    folder = drive_fake.add_folder("exports", parent=shared)
    drive_fake.add_file("table.csv", b"1,2\n", parent=folder)
    drive_fake.add_doc("memo", parent=folder, exports={"application/pdf": b"%PDF"})

    result = acquire_drive(DriveItem(folder), drive_options())

    assert tree(result.path) == {"table.csv": b"1,2\n", "memo.pdf": b"%PDF"}


def test_a_dropped_transfer_resumes_with_range(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    content = os.urandom(400_000)
    file_id = drive_fake.add_file("big.bin", content)
    drive_fake.drop_transfer(file_id, at_byte=150_000)

    result = acquire_drive(DriveItem(file_id), drive_options())

    assert (result.path / "big.bin").read_bytes() == content
    first, second = [r.range for r in drive_fake.requests if r.kind == "media"]
    assert first is None and second is not None
    resumed_at = int(second.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 150_000  # the bytes before the drop were kept


def test_an_interrupted_download_resumes_on_the_next_call(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    content = os.urandom(600_000)
    file_id = drive_fake.add_file("big.bin", content)

    with pytest.raises(KeyboardInterrupt):
        acquire_drive(
            DriveItem(file_id), drive_options(progress=RecordingProgress(interrupt_after_bytes=1))
        )
    result = acquire_drive(DriveItem(file_id), drive_options())

    assert (result.path / "big.bin").read_bytes() == content
    second = [r.range for r in drive_fake.requests if r.kind == "media"][-1]
    assert second is not None and second.startswith("bytes=")


def test_a_wrong_md5_raises_and_publishes_nothing(
    drive_fake: DriveFake, drive_options: Options, tmp_path: Path
) -> None:
    file_id = drive_fake.add_file("model.pt", b"tensor bytes" * 1000)
    drive_fake.corrupt_md5(file_id)

    with pytest.raises(IntegrityError, match="md5"):
        acquire_drive(DriveItem(file_id), drive_options())

    cache = tmp_path / "mlenv-cache"
    published = [p for p in cache.rglob("model.pt")]
    assert published == []
    with pytest.raises(OfflineError):
        acquire_drive(DriveItem(file_id), drive_options(offline=True))


def test_unknown_id_is_not_found(drive_fake: DriveFake, drive_options: Options) -> None:
    with pytest.raises(NotFoundError) as error:
        acquire_drive(DriveItem("1NoSuchFileAtAll"), drive_options())

    message = str(error.value)
    assert "1NoSuchFileAtAll" in message and "share it" in message


def test_a_file_without_access_is_denied(drive_fake: DriveFake, drive_options: Options) -> None:
    file_id = drive_fake.add_file("private.csv", b"secret rows")
    drive_fake.deny(file_id)

    with pytest.raises(AccessDeniedError) as error:
        acquire_drive(DriveItem(file_id), drive_options())

    assert "reader@fake-project.iam.gserviceaccount.com" in str(error.value)
    assert "Share" in str(error.value)


def test_a_lasting_401_is_a_credentials_error_without_tokens(
    drive_fake: DriveFake, drive_options: Options, capsys: pytest.CaptureFixture[str]
) -> None:
    file_id = drive_fake.add_file("a.csv", b"1")
    drive_fake.fail("get", 401, times=10)

    with pytest.raises(CredentialsError) as error:
        acquire_drive(DriveItem(file_id), drive_options())

    captured = capsys.readouterr()
    texts = [str(error.value), repr(error.value), captured.out, captured.err]
    assert drive_fake.issued_tokens
    for token in drive_fake.issued_tokens:
        assert not any(token in text for text in texts)
    assert "401" in str(error.value)


def test_transient_errors_are_retried(drive_fake: DriveFake, drive_options: Options) -> None:
    top = drive_fake.add_folder("flaky")
    file_id = drive_fake.add_file("a.csv", b"a,b\n", parent=top)
    drive_fake.fail("get", 503, times=2)
    drive_fake.fail("list", 429, times=1, retry_after=0)
    drive_fake.fail("media", 500, times=2, file_id=file_id)

    result = acquire_drive(DriveItem(top), drive_options())

    assert tree(result.path) == {"a.csv": b"a,b\n"}
    assert drive_fake.count("media") == 3


def test_rate_limits_give_up_after_the_bounded_retries(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("busy")
    drive_fake.fail("list", 429, times=100)

    with pytest.raises(RateLimitedError):
        acquire_drive(DriveItem(top), drive_options())

    assert drive_fake.count("list") == 4  # FAST_POLICY.max_attempts


def test_an_unchanged_folder_costs_only_the_listing(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, files = nested_folder(drive_fake)
    first = acquire_drive(DriveItem(top), drive_options())
    drive_fake.clear_requests()

    second = acquire_drive(DriveItem(top), drive_options())

    assert second.path == first.path and second.origin == "cache"
    assert tree(second.path) == files
    kinds = [r.kind for r in drive_fake.requests]
    assert kinds.count("media") == 0 and kinds.count("export") == 0
    assert set(kinds) <= {"token", "get", "list"}
    assert kinds.count("list") == 3  # one per folder


def test_a_changed_file_is_the_only_one_fetched_again(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("evolving")
    keep = drive_fake.add_file("keep.csv", b"same", parent=top)
    change = drive_fake.add_file("change.csv", b"old", parent=top)
    first = acquire_drive(DriveItem(top), drive_options())
    drive_fake.update_file(change, b"new content")
    drive_fake.clear_requests()

    second = acquire_drive(DriveItem(top), drive_options())

    assert tree(second.path) == {"keep.csv": b"same", "change.csv": b"new content"}
    assert second.path != first.path
    assert drive_fake.count("media", change) == 1 and drive_fake.count("media", keep) == 0


def test_a_file_inside_a_cached_folder_is_reused_alone(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, files = nested_folder(drive_fake)
    acquire_drive(DriveItem(top), drive_options())
    label_id = drive_fake.find("labels.csv")
    drive_fake.clear_requests()

    result = acquire_drive(DriveItem(label_id), drive_options())

    assert tree(result.path) == {"labels.csv": files["train/labels.csv"]}
    assert drive_fake.count("media") == 0


def test_offline_uses_the_cache_without_network(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, files = nested_folder(drive_fake)
    online = acquire_drive(DriveItem(top), drive_options())
    drive_fake.clear_requests()

    offline = acquire_drive(DriveItem(top), drive_options(offline=True))

    assert offline.path == online.path and offline.origin == "cache"
    assert tree(offline.path) == files
    assert drive_fake.requests == []
    assert any("offline" in note for note in offline.notes)


def test_offline_without_a_cached_copy_names_the_fix(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    with pytest.raises(OfflineError, match="without --offline"):
        acquire_drive(DriveItem("1NeverFetchedBefore"), drive_options(offline=True))
    assert drive_fake.requests == []


def test_force_downloads_again(drive_fake: DriveFake, drive_options: Options) -> None:
    top, files = nested_folder(drive_fake)
    acquire_drive(DriveItem(top), drive_options())
    drive_fake.clear_requests()

    result = acquire_drive(DriveItem(top), drive_options(force=True))

    assert result.origin == "downloaded"
    assert tree(result.path) == files
    assert drive_fake.count("media") == len(files)


def test_to_places_a_copy(drive_fake: DriveFake, drive_options: Options, tmp_path: Path) -> None:
    top, files = nested_folder(drive_fake)
    target = tmp_path / "work" / "data"

    result = acquire_drive(DriveItem(top), drive_options(to=target))

    assert result.path == target
    assert tree(target) == files
    (target / "README.md").write_bytes(b"edited")
    again = acquire_drive(DriveItem(top), drive_options())
    assert (again.path / "README.md").read_bytes() == files["README.md"]


def test_to_keeps_identical_files_and_replaces_different_ones_only_with_force(
    drive_fake: DriveFake, drive_options: Options, tmp_path: Path
) -> None:
    top, files = nested_folder(drive_fake)
    target = tmp_path / "data"
    acquire_drive(DriveItem(top), drive_options(to=target))
    assert acquire_drive(DriveItem(top), drive_options(to=target)).path == target  # identical
    (target / "README.md").write_bytes(b"my notes")

    with pytest.raises(DestinationExistsError, match="--force"):
        acquire_drive(DriveItem(top), drive_options(to=target))
    assert (target / "README.md").read_bytes() == b"my notes"

    acquire_drive(DriveItem(top), drive_options(to=target, force=True))
    assert tree(target) == files


def test_a_folder_pattern_selects_the_folder_as_on_every_source(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, files = nested_folder(drive_fake)
    for pattern in ("train/images", "train/images/"):
        result = acquire_drive(DriveItem(top), drive_options(files=(pattern,)))
        assert result.files == 2, pattern
        assert tree(result.path) == {
            k: v for k, v in files.items() if k.startswith("train/images/")
        }


def test_progress_reports_the_bytes(drive_fake: DriveFake, drive_options: Options) -> None:
    top, files = nested_folder(drive_fake)
    progress = RecordingProgress()

    acquire_drive(DriveItem(top), drive_options(progress=progress))

    starts = [event for event in progress.events if event[0] == "start"]
    advanced = sum(event[2] for event in progress.events if event[0] == "advance")
    assert starts == [("start", 4, sum(len(c) for c in files.values()))]
    assert advanced == sum(len(c) for c in files.values())


def test_cache_entries_are_keyed_by_id_and_md5(
    drive_fake: DriveFake, drive_options: Options, tmp_path: Path
) -> None:
    content = b"versioned"
    file_id = drive_fake.add_file("v.txt", content)

    result = acquire_drive(DriveItem(file_id), drive_options())

    md5 = hashlib.md5(content).hexdigest()
    assert result.path == tmp_path / "mlenv-cache" / "drive" / "file" / file_id / md5


def test_equal_titles_and_odd_names_get_distinct_safe_paths(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("messy")
    first = drive_fake.add_file("data.csv", b"first", parent=top)
    second = drive_fake.add_file("data.csv", b"second", parent=top)
    drive_fake.add_file("a/b", b"slash", parent=top)
    drive_fake.add_file("..", b"dots", parent=top)
    drive_fake.add_file("empty.txt", b"", parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    files = tree(result.path)
    ordered = sorted([first, second])
    assert files["data.csv"] == (b"first" if ordered[0] == first else b"second")
    assert f"data ({ordered[1]}).csv" in files
    assert files["a_b"] == b"slash" and files["empty.txt"] == b""
    assert len(files) == 5 and all(".." not in name for name in files)


def test_offline_finds_a_file_fetched_as_part_of_a_folder(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top, files = nested_folder(drive_fake)
    acquire_drive(DriveItem(top), drive_options())
    drive_fake.clear_requests()

    result = acquire_drive(DriveItem(drive_fake.find("labels.csv")), drive_options(offline=True))

    assert tree(result.path) == {"labels.csv": files["train/labels.csv"]}
    assert drive_fake.requests == []


def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_api_gives_up_after_bounded_retries(
    drive_fake: DriveFake, drive_options: Options, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from mlenv_magics.errors import TransferError

    monkeypatch.setenv("MLENV_DRIVE_API", f"http://127.0.0.1:{unused_port()}/drive/v2/")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{unused_port()}")

    with pytest.raises(TransferError) as error:
        acquire_drive(DriveItem("1SomeDriveFileId"), drive_options())

    message = str(error.value)
    assert "could not be reached" in message and "after 4 tries" in message
    has_pysocks = importlib.util.find_spec("socks") is not None
    assert ("pip install PySocks" in message) != has_pysocks


def test_trashed_files_are_left_out_and_shortcuts_noted(
    drive_fake: DriveFake, drive_options: Options
) -> None:
    top = drive_fake.add_folder("tidy")
    kept = drive_fake.add_file("kept.csv", b"k", parent=top)
    gone = drive_fake.add_file("gone.csv", b"g", parent=top)
    drive_fake.trash(gone)
    drive_fake.add_shortcut("link to kept", kept, parent=top)

    result = acquire_drive(DriveItem(top), drive_options())

    assert tree(result.path) == {"kept.csv": b"k"}
    assert any("link to kept (shortcut)" in note for note in result.notes)
