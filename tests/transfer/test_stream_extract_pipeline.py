"""fetch_and_extract over loopback: the archive is extracted while its chunks arrive, verified
whole before the cache publishes it, resumed after Ctrl-C, thrown away only when it is bad."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from mlenv_magics.cache import Cache
from mlenv_magics.errors import ArchiveError, IntegrityError
from mlenv_magics.extract import fetch_and_extract
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile, TransferPolicy
from mlenv_magics.transfer.ranges import _Chunks, plan_ranges

FILES = {
    f"part{index}/{kind}{index}.{'txt' if kind == 't' else 'bin'}": (
        (f"line {index} " * 4000).encode()
        if kind == "t"
        else random.Random(index).randbytes(60_000)
    )
    for index in range(12)
    for kind in ("t", "r")
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in FILES.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ZIP = _zip()


@pytest.fixture
def chunked(policy: TransferPolicy) -> TransferPolicy:
    from dataclasses import replace

    return replace(policy, range_chunk_size=64 << 10, range_threshold=1 << 30)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_zip_is_extracted_from_ordered_chunks_its_directory_first(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    url = blobhost.add("d.zip", ZIP)
    entry = Cache(tmp_path / "cache").entry("kaggle", "datasets", "o", "d", "versions", "1")
    with entry.publish({}) as staging:
        done = fetch_and_extract(
            session,
            RemoteFile("d.zip", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
        )
    assert sorted(done.names) == sorted(FILES) and done.archive_size == len(ZIP)
    assert _files(entry.path) == FILES
    stats = blobhost.stats("d.zip")
    starts = [int(r.split("=")[1].split("-")[0]) for r in stats.ranges if r]
    chunk = -(-len(ZIP) // len(plan_ranges(len(ZIP), chunked)))
    assert sorted(starts) == list(range(chunk, len(ZIP), chunk))  # the first came with the 200
    assert len(set(starts)) == len(starts)  # every chunk asked for once
    assert not entry.partial_dir.exists()  # the archive is not kept


def test_chunks_are_handed_out_in_order_the_last_first() -> None:
    ranges = [[s, s + 10, s] for s in range(0, 100, 10)]
    ranges[3][2] = 40  # a finished one (a resumed download) is not handed out again
    chunks = _Chunks(ranges, first=None)
    order = []
    while (taken := chunks.take()) is not None:
        order.append(taken[0])
    assert order == [9, 0, 1, 2, 4, 5, 6, 7, 8]


def test_keep_archive_keeps_the_verified_zip_in_the_data_folder(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    url = blobhost.add("d.zip", ZIP)
    entry = Cache(tmp_path / "cache").entry("k", "d")
    with entry.publish({}) as staging:
        done = fetch_and_extract(
            session,
            RemoteFile("d.zip", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
            keep_archive=True,
        )
    assert done.kept == staging / "d.zip"
    assert (entry.path / "d.zip").read_bytes() == ZIP
    assert {k: v for k, v in _files(entry.path).items() if k != "d.zip"} == FILES


def test_a_tar_gz_streams_through_the_same_path(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    data = _tar_gz()
    url = blobhost.add("model.tar.gz", data)
    entry = Cache(tmp_path / "cache").entry("k", "m")
    with entry.publish({}) as staging:
        fetch_and_extract(
            session,
            RemoteFile("model.tar.gz", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
        )
    assert _files(entry.path) == FILES


def test_a_wrong_whole_file_hash_publishes_nothing(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    url = blobhost.add("d.zip", ZIP)
    blobhost.faults("d.zip", wrong_hash=True)  # every entry's CRC-32 matches; the file's not
    entry = Cache(tmp_path / "cache").entry("k", "d")
    with pytest.raises(IntegrityError), entry.publish({}) as staging:
        fetch_and_extract(
            session,
            RemoteFile("d.zip", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
        )
    assert not entry.is_complete() and not entry.path.exists()
    assert list((tmp_path / "cache" / ".staging").iterdir()) == []


def test_bytes_corrupted_in_transit_publish_nothing(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    url = blobhost.add("d.zip", ZIP)
    blobhost.faults("d.zip", corrupt_at=len(ZIP) // 3)
    entry = Cache(tmp_path / "cache").entry("k", "d")
    with pytest.raises((IntegrityError, ArchiveError)), entry.publish({}) as staging:
        fetch_and_extract(
            session,
            RemoteFile("d.zip", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
        )
    assert not entry.path.exists()
    assert list((tmp_path / "cache" / ".staging").iterdir()) == []


def test_a_hostile_zip_stops_the_download_and_is_thrown_away(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escaped.txt", random.Random(9).randbytes(2_000_000))
    data = buffer.getvalue()
    url = blobhost.add("h.zip", data)
    entry = Cache(tmp_path / "cache").entry("k", "h")
    with pytest.raises(ArchiveError, match=r"\.\."), entry.publish({}) as staging:
        fetch_and_extract(
            session,
            RemoteFile("h.zip", url=url),
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
        )
    assert not (tmp_path / "cache" / "escaped.txt").exists()
    assert [p for p in entry.partial_dir.rglob("*") if p.is_file()] == []


def test_ctrl_c_leaves_a_resumable_partial_and_the_rerun_sends_only_the_rest(
    tmp_path: Path, blobhost: BlobHost, session, chunked: TransferPolicy
) -> None:
    url = blobhost.add("d.zip", ZIP)
    blobhost.faults("d.zip", rate=2_000_000)
    entry = Cache(tmp_path / "cache").entry("k", "d")
    remote = RemoteFile("d.zip", url=url)
    with pytest.raises(KeyboardInterrupt), entry.publish({}) as staging:
        fetch_and_extract(
            session,
            remote,
            staging,
            partial_dir=entry.partial_dir,
            policy=chunked,
            progress=RecordingProgress(interrupt_after_bytes=len(ZIP) // 2),
        )
    assert not entry.path.exists() and not entry.is_complete()
    assert (entry.partial_dir / "d.zip.part").is_file()
    sent_before = blobhost.stats("d.zip").bytes_sent
    blobhost.faults("d.zip")
    blobhost.reset_stats("d.zip")
    with entry.publish({}) as staging:
        fetch_and_extract(session, remote, staging, partial_dir=entry.partial_dir, policy=chunked)
    assert _files(entry.path) == FILES
    resent = sent_before + blobhost.stats("d.zip").bytes_sent - len(ZIP)
    assert resent <= 8 * (64 << 10)  # what sat in the socket buffers of the cut chunks
