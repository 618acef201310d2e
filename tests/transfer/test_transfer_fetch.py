"""``fetch_files`` against the loopback blob host: resume, restarts, integrity, errors, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from loopback import SleepRecorder, redirect_to, serve

from mlenv_magics.errors import (
    AccessDeniedError,
    DiskSpaceError,
    IntegrityError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransferError,
)
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files

DATA = os.urandom(600_000)
Dirs = tuple[Path, Path]


def _fetch(session, files, dirs: Dirs, policy: TransferPolicy, progress=None):  # type: ignore[no-untyped-def]
    dest, partial = dirs
    return fetch_files(session, files, dest, partial_dir=partial, policy=policy, progress=progress)


def _interrupt_after(  # type: ignore[no-untyped-def]
    nbytes: int, session, files, dirs: Dirs, policy: TransferPolicy
) -> None:
    """Press Ctrl-C once ``nbytes`` have arrived; the interrupt must propagate."""
    with pytest.raises(KeyboardInterrupt):
        _fetch(session, files, dirs, policy, RecordingProgress(interrupt_after_bytes=nbytes))


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_plain_download_reports_progress_and_md5(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA, hashes=("md5",))
    progress = RecordingProgress()
    [fetched] = _fetch(
        session, [RemoteFile("sub/f.bin", url=url, size=len(DATA))], dirs, policy, progress
    )
    assert fetched.path == dirs[0] / "sub" / "f.bin" and fetched.path.read_bytes() == DATA
    assert fetched.md5 == hashlib.md5(DATA).hexdigest() and fetched.resumed_from == 0
    assert progress.events[0] == ("start", 1, len(DATA))
    assert progress.bytes_advanced == len(DATA) and progress.done_files() == ["sub/f.bin"]
    assert _leftovers(dirs[1]) == []


def test_dropped_connection_resumes_in_the_same_call(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", drop_at=250_000, drop_times=2)
    [fetched] = _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert fetched.path.read_bytes() == DATA
    stats = blobhost.stats("f")
    assert stats.statuses == (200, 206, 206)
    assert stats.ranges[1] and stats.ranges[1].startswith("bytes=")
    assert stats.records[1].headers.get("If-Range", "").startswith('"')  # the ETag
    assert stats.bytes_sent < len(DATA) * 1.05 + 250_000  # only lost socket buffers re-sent
    assert len(sleeps.delays) == 2


def test_ctrl_c_keeps_a_resumable_partial_and_a_rerun_resumes(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    remote = RemoteFile("f", url=url, size=len(DATA))
    _interrupt_after(300_000, session, [remote], dirs, policy)
    assert not (dirs[0] / "f").exists()
    kept = (dirs[1] / "f.part").stat().st_size
    assert 300_000 <= kept < len(DATA)
    blobhost.reset_stats("f")
    [fetched] = _fetch(session, [remote], dirs, policy)
    assert fetched.path.read_bytes() == DATA and fetched.resumed_from == kept
    stats = blobhost.stats("f")
    assert stats.statuses == (206,) and stats.bytes_sent == len(DATA) - kept
    assert _leftovers(dirs[1]) == []


def test_server_ignoring_range_restarts_from_zero(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", drop_at=200_000, ignore_range=True)
    [fetched] = _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert fetched.path.read_bytes() == DATA
    assert blobhost.stats("f").statuses == (200, 200)


def test_changed_blob_restarts_through_if_range(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    _interrupt_after(100_000, session, [RemoteFile("f", url=url)], dirs, policy)
    new_data = os.urandom(300_000)
    blobhost.add("f", new_data)  # new ETag and Last-Modified
    blobhost.reset_stats("f")
    [fetched] = _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert fetched.path.read_bytes() == new_data and fetched.resumed_from > 0
    record = blobhost.stats("f").records[0]
    assert record.status == 200 and "If-Range" in record.headers


def test_416_discards_the_partial_and_restarts(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA[:1000])
    dirs[1].mkdir(parents=True)
    (dirs[1] / "f.part").write_bytes(b"x" * 5000)  # longer than the blob now is
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("HEAD", f"{parts.path}?{parts.query}")
    current_etag = conn.getresponse().getheader("ETag")
    conn.close()
    (dirs[1] / "f.part.json").write_text(
        json.dumps({"validator": current_etag, "total": None, "source_validator": None})
    )
    blobhost.reset_stats("f")
    [fetched] = _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert fetched.path.read_bytes() == DATA[:1000]
    assert blobhost.stats("f").statuses == (416, 200)


@pytest.mark.parametrize("split_lines", [False, True])
def test_wrong_goog_md5_is_rejected_and_nothing_kept(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy, split_lines: bool
) -> None:
    url = blobhost.add("f", DATA, hashes=("md5",))
    blobhost.faults("f", wrong_hash=True, split_hash_headers=split_lines, hashes=("md5",))
    with pytest.raises(IntegrityError, match="md5"):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert _leftovers(dirs[0]) == [] and _leftovers(dirs[1]) == []


def test_crc32c_only_blobs_are_checked_with_crc32c(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("good", DATA[:50_000], hashes=("crc32c",))
    [fetched] = _fetch(session, [RemoteFile("good", url=url)], dirs, policy)
    assert fetched.path.read_bytes() == DATA[:50_000]
    bad = blobhost.add("bad", DATA[:50_000], hashes=("crc32c",))
    blobhost.faults("bad", wrong_hash=True, hashes=("crc32c",))
    with pytest.raises(IntegrityError, match="crc32c"):
        _fetch(session, [RemoteFile("bad", url=bad)], dirs, policy)
    assert not (dirs[0] / "bad").exists()


def test_expected_md5_from_the_source_is_checked(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA, hashes=())
    remote = RemoteFile("f", url=url, md5=hashlib.md5(b"other").hexdigest())
    with pytest.raises(IntegrityError):
        _fetch(session, [remote], dirs, policy)
    assert _leftovers(dirs[0]) == [] and _leftovers(dirs[1]) == []


def test_size_mismatch_is_rejected(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    with pytest.raises(IntegrityError, match="expected"):
        _fetch(session, [RemoteFile("f", url=url, size=len(DATA) + 1)], dirs, policy)
    assert not (dirs[0] / "f").exists()


def test_persistent_5xx_gives_a_clear_error_after_bounded_tries(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", status=502, status_times=1000)
    with pytest.raises(ServerError, match="502") as caught:
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert "rerun" in str(caught.value).lower()
    assert blobhost.stats("f").requests == policy.max_attempts


def test_persistent_429_maps_to_rate_limited(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", status=429, status_times=1000, retry_after="2")
    with pytest.raises(RateLimitedError):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert set(sleeps.delays) == {2.0}


def test_missing_blob_maps_to_not_found(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA).replace("/bucket/f?", "/bucket/nope?")
    with pytest.raises(NotFoundError):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)


def test_expired_signed_url_is_resolved_again_once(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    stale = blobhost.add("f", DATA)
    blobhost.expire("f")
    calls: list[str] = []

    def resolve(_session) -> str:  # type: ignore[no-untyped-def]
        calls.append("resolve")
        return stale if len(calls) == 1 else blobhost.url_for("f")

    [fetched] = _fetch(session, [RemoteFile("f", resolve=resolve)], dirs, policy)
    assert fetched.path.read_bytes() == DATA and len(calls) == 2
    assert blobhost.stats("f").statuses == (403, 200)


def test_expired_url_without_resolver_is_access_denied(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    stale = blobhost.add("f", DATA)
    blobhost.expire("f")
    with pytest.raises(AccessDeniedError):
        _fetch(session, [RemoteFile("f", url=stale)], dirs, policy)


def test_source_headers_never_follow_a_redirect_to_another_host(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    blob_url = blobhost.add("f", DATA)
    with serve(redirect_to(blob_url)) as (api, seen):
        headers = {"Authorization": "Bearer sekret", "X-Api-Key": "k"}
        [fetched] = _fetch(
            session, [RemoteFile("f", url=f"{api}/download", headers=headers)], dirs, policy
        )
    assert fetched.path.read_bytes() == DATA
    assert seen[0][1]["Authorization"] == "Bearer sekret"  # the source's own host gets them
    blob_headers = {k.lower() for k in blobhost.stats("f").records[0].headers}
    assert "authorization" not in blob_headers and "x-api-key" not in blob_headers


def test_source_headers_are_sent_to_their_own_host(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    _fetch(session, [RemoteFile("f", url=url, headers={"Authorization": "Bearer t"})], dirs, policy)
    assert blobhost.stats("f").records[0].headers["Authorization"] == "Bearer t"


def test_stalled_stream_fails_after_bounded_read_timeouts(
    blobhost: BlobHost, session, dirs: Dirs, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", stall=30, stall_times=100)
    policy = TransferPolicy(
        read_timeout=0.2, max_attempts=2, sleep=sleeps.sleep, clock=sleeps.clock
    )
    with pytest.raises(TransferError, match="rerun to resume"):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert blobhost.stats("f").requests == 2


def test_not_enough_disk_space_fails_before_any_request(
    blobhost: BlobHost, session, dirs: Dirs, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA)
    policy = TransferPolicy(free_space=lambda _path: 1000, sleep=sleeps.sleep)
    with pytest.raises(DiskSpaceError) as caught:
        _fetch(session, [RemoteFile("f", url=url, size=len(DATA))], dirs, policy)
    message = str(caught.value)
    assert str(dirs[1]) in message and str(len(DATA)) in message and "1000" in message
    assert blobhost.stats("f").requests == 0


def test_unsafe_relpaths_are_refused(session, dirs: Dirs, policy: TransferPolicy) -> None:
    for relpath in ("../evil", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ServerError):
            _fetch(session, [RemoteFile(relpath, url="http://localhost:1/x")], dirs, policy)


def test_several_files_download_in_parallel(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    blobs = {f"d/{i}.bin": os.urandom(50_000 + i) for i in range(6)}
    files = [
        RemoteFile(name, url=blobhost.add(name, data, hashes=("md5",)), size=len(data))
        for name, data in blobs.items()
    ]
    progress = RecordingProgress()
    fetched = _fetch(session, files, dirs, policy, progress)
    assert [f.relpath for f in fetched] == list(blobs)
    assert all(f.path.read_bytes() == blobs[f.relpath] for f in fetched)
    assert sorted(progress.done_files()) == sorted(blobs)
    assert progress.bytes_advanced == sum(len(d) for d in blobs.values())


def test_ctrl_c_in_a_worker_stops_all_and_keeps_partials(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    blobs = {f"{i}.bin": os.urandom(400_000) for i in range(3)}
    for name, data in blobs.items():
        blobhost.add(name, data, hashes=("md5",))
        blobhost.faults(name, rate=4_000_000)
    files = [RemoteFile(n, url=blobhost.url_for(n), size=len(d)) for n, d in blobs.items()]
    _interrupt_after(300_000, session, files, dirs, policy)
    assert _leftovers(dirs[0]) == []
    assert any(name.endswith(".part") for name in _leftovers(dirs[1]))
    fetched = _fetch(session, files, dirs, policy)
    assert all(f.path.read_bytes() == blobs[f.relpath] for f in fetched)
    assert sum(f.resumed_from for f in fetched) > 0


def test_blob_replaced_mid_call_restarts_and_checks_the_new_hash(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    blobhost.faults("f", drop_at=200_000)
    replacement = os.urandom(250_000)

    class ReplaceOnFirstBytes(RecordingProgress):
        def advance(self, relpath: str, nbytes: int) -> None:
            if not self.calls("advance"):
                blobhost.add("f", replacement)  # new ETag, Last-Modified and x-goog-hash
            super().advance(relpath, nbytes)

    [fetched] = _fetch(session, [RemoteFile("f", url=url)], dirs, policy, ReplaceOnFirstBytes())
    assert fetched.path.read_bytes() == replacement
    assert blobhost.stats("f").statuses == (200, 200)  # If-Range no longer matched


def test_progress_counts_resumed_bytes_and_takes_back_discarded_ones(
    blobhost: BlobHost, session, dirs: Dirs, policy: TransferPolicy
) -> None:
    url = blobhost.add("f", DATA)
    _interrupt_after(100_000, session, [RemoteFile("f", url=url)], dirs, policy)
    resumed = RecordingProgress()
    _fetch(session, [RemoteFile("f", url=url)], dirs, policy, resumed)
    assert resumed.calls("advance")[0][2] >= 100_000  # the bar starts at the kept bytes
    assert resumed.bytes_advanced == len(DATA)
    with pytest.raises(KeyboardInterrupt):
        _fetch(
            session,
            [RemoteFile("g", url=url)],
            dirs,
            policy,
            RecordingProgress(interrupt_after_bytes=100_000),
        )
    blobhost.add("f", DATA[:300_000])  # changed: the kept bytes are discarded on resume
    restarted = RecordingProgress()
    _fetch(session, [RemoteFile("g", url=url)], dirs, policy, restarted)
    assert any(event[2] < 0 for event in restarted.calls("advance"))
    assert restarted.bytes_advanced == 300_000


def test_a_server_dropping_every_connection_is_given_up_on(
    blobhost: BlobHost, session, dirs: Dirs, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA, hashes=("md5",))
    blobhost.faults("f", drop_at=0, drop_times=1000)  # progress never happens
    policy = TransferPolicy(sleep=sleeps.sleep, clock=sleeps.clock, max_attempts=4)
    with pytest.raises(TransferError, match="after 4 tries"):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)
    assert blobhost.stats("f").requests == 4


def test_total_resumes_are_capped_even_with_progress(
    blobhost: BlobHost, session, dirs: Dirs, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA, hashes=("md5",))
    policy = TransferPolicy(sleep=sleeps.sleep, clock=sleeps.clock, max_resumes=3)

    class DropAgain(RecordingProgress):
        def advance(self, relpath: str, nbytes: int) -> None:
            super().advance(relpath, nbytes)
            blobhost.faults("f", drop_at=min(self.bytes_advanced + 70_000, len(DATA) - 1))

    blobhost.faults("f", drop_at=70_000)
    with pytest.raises(TransferError):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy, DropAgain())
    assert blobhost.stats("f").requests == 4


def test_free_space_is_checked_once_the_server_announces_the_size(
    blobhost: BlobHost, session, dirs: Dirs, sleeps: SleepRecorder
) -> None:
    url = blobhost.add("f", DATA)
    policy = TransferPolicy(free_space=lambda _path: 1000, sleep=sleeps.sleep)
    with pytest.raises(DiskSpaceError, match=str(len(DATA))):
        _fetch(session, [RemoteFile("f", url=url)], dirs, policy)  # no size from the source
    assert not (dirs[0] / "f").exists() and not (dirs[1] / "f.part").exists()
