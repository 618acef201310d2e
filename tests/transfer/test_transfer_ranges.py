"""Large files in parallel ranges: correctness, in-range resume, Ctrl-C and rerun, changes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from loopback import SleepRecorder

from mlenv_magics.errors import IntegrityError
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files

DATA = os.urandom(800_000)
Dirs = tuple[Path, Path]


@pytest.fixture
def ranged(sleeps: SleepRecorder) -> TransferPolicy:
    return TransferPolicy(
        read_timeout=5,
        parallel_ranges=4,
        range_threshold=100_000,
        sleep=sleeps.sleep,
        clock=sleeps.clock,
    )


def _fetch(session, remote: RemoteFile, dirs: Dirs, policy: TransferPolicy, progress=None):  # type: ignore[no-untyped-def]
    dest, partial = dirs
    [fetched] = fetch_files(
        session, [remote], dest, partial_dir=partial, policy=policy, progress=progress
    )
    return fetched


def test_large_file_is_fetched_in_parallel_ranges(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA, hashes=("md5",))
    progress = RecordingProgress()
    fetched = _fetch(session, RemoteFile("big", url=url, size=len(DATA)), dirs, ranged, progress)
    assert fetched.path.read_bytes() == DATA
    stats = blobhost.stats("big")
    assert sorted(stats.statuses) == [200, 206, 206, 206]
    assert sorted(r for r in stats.ranges if r) == [
        "bytes=200000-399999",
        "bytes=400000-599999",
        "bytes=600000-799999",
    ]
    assert all(r.headers.get("If-Range") for r in stats.records if r.range)
    assert progress.bytes_advanced == len(DATA)
    assert stats.bytes_sent <= len(DATA) + 4 * 256 * 1024  # the first response is cut short
    assert list(dirs[1].rglob("*")) == []


def test_small_files_are_not_split(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("small", DATA[:50_000], hashes=("md5",))
    _fetch(session, RemoteFile("small", url=url), dirs, ranged)
    assert blobhost.stats("small").statuses == (200,)


def test_a_dropped_range_resumes_within_its_range(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA, hashes=("md5",))
    blobhost.faults("big", drop_at=500_000, rate=4_000_000)  # the first answer stops early
    fetched = _fetch(session, RemoteFile("big", url=url), dirs, ranged)
    assert fetched.path.read_bytes() == DATA
    resumed = [r for r in blobhost.stats("big").ranges if r and r.endswith("-599999")]
    assert len(resumed) == 2 and resumed[1] != "bytes=400000-599999"


def test_ctrl_c_saves_range_progress_and_a_rerun_fetches_only_the_rest(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA, hashes=("md5",))
    blobhost.faults("big", rate=2_000_000)
    remote = RemoteFile("big", url=url, size=len(DATA))
    with pytest.raises(KeyboardInterrupt):
        _fetch(session, remote, dirs, ranged, RecordingProgress(interrupt_after_bytes=300_000))
    state = json.loads((dirs[1] / "big.part.json").read_text())
    kept = sum(position - start for start, _end, position in state["ranges"])
    assert kept >= 300_000 - 4 * 65536
    blobhost.faults("big")
    blobhost.reset_stats("big")
    fetched = _fetch(session, remote, dirs, ranged)
    assert fetched.path.read_bytes() == DATA and fetched.resumed_from == kept
    stats = blobhost.stats("big")
    assert set(stats.statuses) == {206}
    assert stats.bytes_sent == len(DATA) - kept


def test_blob_replaced_between_runs_restarts_cleanly(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA, hashes=("md5",))
    blobhost.faults("big", rate=2_000_000)
    with pytest.raises(KeyboardInterrupt):
        _fetch(
            session,
            RemoteFile("big", url=url),
            dirs,
            ranged,
            RecordingProgress(interrupt_after_bytes=200_000),
        )
    replacement = os.urandom(300_000)
    blobhost.add("big", replacement, hashes=("md5",))
    blobhost.faults("big")
    fetched = _fetch(session, RemoteFile("big", url=url), dirs, ranged)
    assert fetched.path.read_bytes() == replacement


def test_signature_expiring_mid_download_is_refreshed_once(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    blobhost.add("big", DATA, hashes=("md5",))
    blobhost.faults("big", rate=4_000_000)
    resolved: list[str] = []

    def resolve(_session) -> str:  # type: ignore[no-untyped-def]
        resolved.append(blobhost.url_for("big"))
        return resolved[-1]

    class ExpireOnFirstBytes(RecordingProgress):
        def advance(self, relpath: str, nbytes: int) -> None:
            if not self.events or self.events[-1][0] != "advance":
                blobhost.expire("big")
            super().advance(relpath, nbytes)

    fetched = _fetch(
        session, RemoteFile("big", resolve=resolve), dirs, ranged, ExpireOnFirstBytes()
    )
    assert fetched.path.read_bytes() == DATA
    assert len(resolved) == 2 and 403 in blobhost.stats("big").statuses


def _leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_ranges_are_verified_with_the_combined_crc32c(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA)  # announces crc32c and md5, like a plain object
    fetched = _fetch(session, RemoteFile("big", url=url), dirs, ranged)
    assert fetched.path.read_bytes() == DATA
    assert fetched.md5 is None  # the cheap crc32c was checked instead of md5
    assert len(blobhost.stats("big").statuses) == 4
    blobhost.faults("big", wrong_hash=True)
    with pytest.raises(IntegrityError, match="crc32c"):
        _fetch(session, RemoteFile("big2", url=url), dirs, ranged)
    assert not (dirs[0] / "big2").exists() and _leftovers(dirs[1]) == []


@pytest.mark.parametrize("offset", [0, 250_000, 555_555, len(DATA) - 1])
def test_a_corrupted_byte_in_any_range_is_caught(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy, offset: int
) -> None:
    url = blobhost.add("big", DATA)
    blobhost.faults("big", corrupt_at=offset)
    with pytest.raises(IntegrityError, match="crc32c"):
        _fetch(session, RemoteFile("big", url=url), dirs, ranged)
    assert len(blobhost.stats("big").statuses) == 4
    assert _leftovers(dirs[0]) == [] and _leftovers(dirs[1]) == []


def test_source_md5_is_still_checked_on_ranges(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    url = blobhost.add("big", DATA)
    good = hashlib.md5(DATA).hexdigest()
    fetched = _fetch(session, RemoteFile("big", url=url, md5=good), dirs, ranged)
    assert fetched.md5 == good
    other = hashlib.md5(b"other").hexdigest()
    with pytest.raises(IntegrityError, match="md5"):
        _fetch(session, RemoteFile("again", url=url, md5=other), dirs, ranged)


def _interrupted(blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy) -> RemoteFile:  # type: ignore[no-untyped-def]
    url = blobhost.add("big", DATA)
    blobhost.faults("big", rate=2_000_000)
    remote = RemoteFile("big", url=url, size=len(DATA))
    with pytest.raises(KeyboardInterrupt):
        _fetch(session, remote, dirs, ranged, RecordingProgress(interrupt_after_bytes=300_000))
    blobhost.faults("big")
    blobhost.reset_stats("big")
    return remote


def test_resumed_ranges_are_verified_with_crc32c(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    remote = _interrupted(blobhost, session, dirs, ranged)
    state = json.loads((dirs[1] / "big.part.json").read_text())
    assert set(state["hashes"]) == {"crc32c", "md5"}
    fetched = _fetch(session, remote, dirs, ranged)
    assert fetched.path.read_bytes() == DATA and fetched.resumed_from > 0
    assert set(blobhost.stats("big").statuses) == {206}


def test_bytes_damaged_on_disk_between_runs_are_caught_on_resume(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy
) -> None:
    remote = _interrupted(blobhost, session, dirs, ranged)
    state = json.loads((dirs[1] / "big.part.json").read_text())
    start, _end, position = max(state["ranges"], key=lambda item: item[2] - item[0])
    assert position > start
    with open(dirs[1] / "big.part", "r+b") as part:
        part.seek(start)
        byte = part.read(1)
        part.seek(start)
        part.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(IntegrityError, match="crc32c"):
        _fetch(session, remote, dirs, ranged)
    assert _leftovers(dirs[0]) == [] and _leftovers(dirs[1]) == []


@pytest.mark.parametrize("offset", [None, 10, 700_000])
def test_md5_of_ranges_is_hashed_while_they_arrive_and_checked(
    blobhost: BlobHost, session, dirs: Dirs, ranged: TransferPolicy, offset: int | None
) -> None:
    url = blobhost.add("big", DATA, hashes=("md5",))
    blobhost.faults("big", rate=4_000_000, corrupt_at=offset)
    remote = RemoteFile("big", url=url)
    if offset is None:
        fetched = _fetch(session, remote, dirs, ranged)
        assert fetched.md5 == hashlib.md5(DATA).hexdigest()
        return
    with pytest.raises(IntegrityError, match="md5"):
        _fetch(session, remote, dirs, ranged)
    assert _leftovers(dirs[0]) == [] and _leftovers(dirs[1]) == []
