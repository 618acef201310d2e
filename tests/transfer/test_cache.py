"""The cache: layout, marker written last, atomic (re-)publish, cleanup on failure, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlenv_magics.cache import Cache
from mlenv_magics.errors import CacheBusyError
from mlenv_magics.testing.blobhost import BlobHost

HERE = Path(__file__).parent


def _publish(cache: Cache, *key: str, content: bytes = b"data", **meta: object) -> Path:
    entry = cache.entry(*key)
    with entry.publish({"source": "test", **meta}) as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "a.txt").write_bytes(content)
        (staging / "b.txt").write_bytes(b"12345")
    return entry.path


def test_layout_is_versioned_and_keys_are_safe(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry = cache.entry("kaggle", "datasets", "alice", "tiny", "3")
    assert entry.path == tmp_path / "kaggle" / "datasets" / "alice" / "tiny" / "3"
    assert entry.partial_dir.parent == tmp_path / ".partial"
    odd = cache.entry("drive", "../..", ".hidden", "a~b/c", "1.0")
    assert odd.path.relative_to(tmp_path).parts[0] == "drive"
    assert len(odd.path.relative_to(tmp_path).parts) == 5
    assert tmp_path in odd.path.parents and ".." not in odd.path.relative_to(tmp_path).parts
    assert all(not part.startswith(".") for part in odd.path.relative_to(tmp_path).parts)
    assert cache.entry_from_flat_key(odd.flat_key).key == odd.key


def test_publish_renames_into_place_and_writes_the_marker(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry = cache.entry("kaggle", "datasets", "alice", "tiny", "3")
    assert not entry.is_complete() and entry.metadata() is None
    entry.partial_dir.mkdir(parents=True)
    path = _publish(cache, *entry.key, version="3")
    assert entry.is_complete() and (path / "sub" / "a.txt").read_bytes() == b"data"
    meta = entry.metadata()
    assert meta is not None
    assert meta["source"] == "test" and meta["version"] == "3"
    assert meta["files"] == 2 and meta["size"] == 9
    assert meta["created"] and meta["last_used"]
    assert list((tmp_path / ".staging").iterdir()) == []
    assert not entry.partial_dir.exists()  # resumable bytes are no longer needed
    assert [e.key for e in cache.entries()] == [entry.key]


def test_folder_without_marker_is_not_complete(tmp_path: Path) -> None:
    entry = Cache(tmp_path).entry("k", "v")
    entry.path.mkdir(parents=True)
    assert not entry.is_complete()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_inside_publish_leaves_no_entry_and_keeps_partials(
    tmp_path: Path, error: BaseException
) -> None:
    entry = Cache(tmp_path).entry("k", "v")
    entry.partial_dir.mkdir(parents=True)
    (entry.partial_dir / "f.part").write_bytes(b"half")
    with pytest.raises(type(error)), entry.publish({"source": "t"}) as staging:
        (staging / "half.bin").write_bytes(b"x")
        raise error
    assert not entry.is_complete() and not entry.path.exists()
    assert list((tmp_path / ".staging").iterdir()) == []
    assert (entry.partial_dir / "f.part").read_bytes() == b"half"


def test_republish_replaces_the_entry_atomically(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    _publish(cache, "k", "v", content=b"old")
    (cache.entry("k", "v").path / "only-in-old.txt").write_text("x")
    path = _publish(cache, "k", "v", content=b"new")
    assert (path / "sub" / "a.txt").read_bytes() == b"new"
    assert not (path / "only-in-old.txt").exists()
    assert cache.entry("k", "v").is_complete()
    assert list((tmp_path / ".staging").iterdir()) == []


def test_touch_moves_last_used(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    _publish(cache, "k", "v")
    entry = cache.entry("k", "v")
    os.utime(entry.marker_path, (1_000_000, 1_000_000))
    assert entry.metadata()["last_used"].startswith("1970-01-12")  # type: ignore[index]
    entry.touch()
    assert entry.last_used() > 1_000_000  # type: ignore[operator]


def test_lock_wait_is_bounded_and_names_the_lock(tmp_path: Path) -> None:
    entry = Cache(tmp_path).entry("k", "v")
    entry.lock_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, filelock, time; l = filelock.FileLock(sys.argv[1]); l.acquire();"
            " print('held', flush=True); time.sleep(30)",
            str(entry.lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        assert entry.is_locked()
        with pytest.raises(CacheBusyError) as caught, entry.lock(timeout=0.2):
            pass
        assert str(entry.lock_path) in str(caught.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with entry.lock(timeout=5):
        pass  # free again once the holder is gone
    assert not entry.is_locked()


def test_concurrent_processes_download_once_and_share_the_path(
    tmp_path: Path, blobhost: BlobHost
) -> None:
    data = os.urandom(400_000)
    url = blobhost.add("f", data, hashes=("md5",))
    blobhost.faults("f", rate=1_000_000)  # ~0.4 s, so the processes overlap
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "cache_worker.py"), str(tmp_path), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], outputs
    paths = {out.strip().splitlines()[-1] for out, _err in outputs}
    assert len(paths) == 1
    path = Path(paths.pop())
    assert (path / "f.bin").read_bytes() == data
    assert blobhost.stats("f").requests == 1
    meta = json.loads(Cache(tmp_path).entry("test", "blob", "1").marker_path.read_text())
    assert meta["source"] == "test blob"
