"""Ctrl-C during a download through the cache: partial kept, cache clean, rerun resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlenv_magics.cache import Cache
from mlenv_magics.progress import RecordingProgress
from mlenv_magics.testing.blobhost import BlobHost
from mlenv_magics.transfer import RemoteFile, TransferPolicy, fetch_files
from mlenv_magics.transfer.files import PARTIAL_SUFFIX, SIDECAR_SUFFIX

HERE = Path(__file__).parent
BLOBS = {f"f{i}.bin": os.urandom(300_000) for i in range(3)}


def _download(cache: Cache, files: list[RemoteFile], session, policy, progress=None) -> Path:  # type: ignore[no-untyped-def]
    entry = cache.entry("test", "set", "1")
    with entry.lock(timeout=5), entry.publish({"source": "test set"}) as staging:
        fetch_files(
            session, files, staging, partial_dir=entry.partial_dir, policy=policy, progress=progress
        )
    return entry.path


def _clean_except_partials(root: Path) -> bool:
    staging = root / ".staging"
    return (not staging.exists() or not any(staging.iterdir())) and not (root / "test").exists()


def _part_sizes(partial: Path) -> list[int]:
    sizes = []
    for part in partial.glob(f"*{PARTIAL_SUFFIX}"):
        try:
            sizes.append(part.stat().st_size)
        except FileNotFoundError:  # renamed into place meanwhile
            continue
    return sizes


def _resumable_bytes(partial: Path) -> int:
    """What a rerun could resume from, as saved so far: the sidecar's ranges, else the bytes."""
    saved = 0
    for sidecar in partial.glob(f"*{SIDECAR_SUFFIX}"):
        try:
            ranges = json.loads(sidecar.read_text()).get("ranges")
        except (OSError, ValueError):
            continue
        if ranges:
            saved += sum(position - start for start, _end, position in ranges)
        else:
            part = sidecar.with_name(sidecar.name.removesuffix(SIDECAR_SUFFIX) + PARTIAL_SUFFIX)
            saved += part.stat().st_size if part.exists() else 0
    return saved


@pytest.fixture
def slow_files(blobhost: BlobHost) -> list[RemoteFile]:
    for name, data in BLOBS.items():
        blobhost.add(name, data, hashes=("md5",))
        blobhost.faults(name, rate=1_000_000)
    return [
        RemoteFile(name, url=blobhost.url_for(name), size=len(data)) for name, data in BLOBS.items()
    ]


def test_sigint_while_workers_run_stops_promptly_and_rerun_resumes(
    tmp_path: Path,
    blobhost: BlobHost,
    slow_files: list[RemoteFile],
    session,
    policy: TransferPolicy,
    default_sigint: None,
) -> None:
    cache = Cache(tmp_path)
    partial = cache.entry("test", "set", "1").partial_dir
    main = threading.main_thread().ident
    assert main is not None
    downloading = threading.Event()

    def press_ctrl_c_once_bytes_arrive() -> None:  # a real Ctrl-C, while the workers write
        deadline = time.monotonic() + 20
        while not any(_part_sizes(partial)) and time.monotonic() < deadline:
            time.sleep(0.005)
        downloading.set()
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_once_bytes_arrive)
    began = time.monotonic()
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _download(cache, slow_files, session, policy)
    finally:
        presser.join()
    assert downloading.is_set()
    assert time.monotonic() - began < 3  # workers were stopped, not waited for
    assert _clean_except_partials(tmp_path)
    kept = sum(p.stat().st_size for p in partial.glob("*.part"))
    assert kept > 0
    for name in BLOBS:
        blobhost.faults(name)
        blobhost.reset_stats(name)
    path = _download(cache, slow_files, session, policy)
    assert all((path / name).read_bytes() == data for name, data in BLOBS.items())
    resent = sum(blobhost.stats(name).bytes_sent for name in BLOBS)
    assert resent == sum(len(d) for d in BLOBS.values()) - kept
    assert not partial.exists()


def test_ctrl_c_from_progress_inside_publish_leaves_a_clean_cache(
    tmp_path: Path, slow_files: list[RemoteFile], session, policy: TransferPolicy
) -> None:
    cache = Cache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _download(
            cache, slow_files, session, policy, RecordingProgress(interrupt_after_bytes=200_000)
        )
    assert _clean_except_partials(tmp_path)
    assert not cache.entry("test", "set", "1").is_complete()
    assert not cache.entry("test", "set", "1").is_locked()


@pytest.mark.parametrize("parallel_ranges", [1, 4])
def test_a_killed_process_leaves_bytes_the_next_process_resumes(
    tmp_path: Path, blobhost: BlobHost, session, policy: TransferPolicy, parallel_ranges: int
) -> None:
    data = os.urandom(1_000_000)
    url = blobhost.add("f", data, hashes=("md5",))
    blobhost.faults("f", rate=400_000 // parallel_ranges)  # 2.5 s in all
    dest, partial = tmp_path / "dest", tmp_path / "partial"
    worker = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "fetch_worker.py"),
            url,
            str(dest),
            str(partial),
            str(parallel_ranges),
        ],
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    try:
        deadline = time.monotonic() + 20
        while _resumable_bytes(partial) <= 200_000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.kill()  # no cleanup at all, like a crashed kernel
        worker.wait(timeout=10)
    assert not (dest / "f.bin").exists()
    blobhost.faults("f")
    requests_before = blobhost.stats("f").requests
    ranged = TransferPolicy(
        parallel_ranges=parallel_ranges,
        range_threshold=100_000,
        sleep=policy.sleep,
        clock=policy.clock,
    )
    [fetched] = fetch_files(
        session, [RemoteFile("f.bin", url=url)], dest, partial_dir=partial, policy=ranged
    )
    assert fetched.path.read_bytes() == data
    assert fetched.resumed_from > 200_000
    rerun = blobhost.stats("f").records[requests_before:]
    assert sum(record.bytes_sent for record in rerun) == len(data) - fetched.resumed_from
