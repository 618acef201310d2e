"""``mlenv cache list|du|prune`` through the CLI entry point and the functions behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlenv_magics.cache import Cache
from mlenv_magics.cache_command import list_cache, prune_cache
from mlenv_magics.cli import main


def _publish(cache: Cache, *key: str, size: int = 100) -> None:
    with cache.entry(*key).publish({"source": f"test {'/'.join(key)}", "version": key[-1]}) as d:
        (d / "data.bin").write_bytes(b"x" * size)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cache:
    monkeypatch.setenv("MLENV_CACHE_DIR", str(tmp_path / "cache"))
    made = Cache(tmp_path / "cache")
    _publish(made, "kaggle", "datasets", "alice", "tiny", "3", size=1000)
    _publish(made, "drive", "files", "abc", "v1", size=24)
    return made


def test_list_shows_entries_with_size_and_last_use(
    cache: Cache, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "kaggle/datasets/alice/tiny/3" in out and "drive/files/abc/v1" in out
    assert "1000 B" in out and "last used" in out
    assert main(["cache", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {e["key"]: e["size"] for e in data["entries"]} == {
        "drive/files/abc/v1": 24,
        "kaggle/datasets/alice/tiny/3": 1000,
    }
    assert data["total_size"] == 1024


def test_du_prints_the_total(cache: Cache, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "du", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_size"] == 1024 and data["entries"] == 2
    assert main(["cache", "du"]) == 0
    assert capsys.readouterr().out.startswith("1.0 KiB")


def test_listing_has_text_and_html_reprs(cache: Cache) -> None:
    listing = list_cache(cache)
    assert "2 entries" in repr(listing) and "<table>" in listing._repr_html_()
    assert listing.to_dict()["total_size"] == 1024


def test_prune_removes_only_stale_leftovers_by_default(cache: Cache) -> None:
    crashed = cache.root / ".staging" / "drive~files~abc~v2.abc123"
    crashed.mkdir(parents=True)
    (crashed / "half.bin").write_bytes(b"x" * 10)
    done_partial = cache.entry("drive", "files", "abc", "v1").partial_dir
    done_partial.mkdir(parents=True)
    resumable = cache.entry("kaggle", "datasets", "bob", "big", "1").partial_dir
    resumable.mkdir(parents=True)
    (resumable / "big.part").write_bytes(b"y" * 10)
    result = prune_cache(cache)
    assert result.removed_entries == []
    assert sorted(result.removed_leftovers) == [
        ".partial/drive~files~abc~v1",
        ".staging/drive~files~abc~v2.abc123",
    ]
    assert (resumable / "big.part").exists()  # a resumable download is kept
    assert len(cache.entries()) == 2


def test_prune_older_than_removes_old_entries(cache: Cache) -> None:
    old = cache.entry("drive", "files", "abc", "v1")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old.marker_path, (ten_days_ago, ten_days_ago))
    result = prune_cache(cache, older_than_days=5)
    assert result.removed_entries == ["drive/files/abc/v1"] and result.freed == 24
    assert not old.path.exists() and not (cache.root / "drive").exists()
    assert [e.key[-1] for e in cache.entries()] == ["3"]


def test_prune_all_never_touches_a_locked_entry(
    cache: Cache, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = cache.entry("kaggle", "datasets", "alice", "tiny", "3")
    busy.lock_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, filelock, time; l = filelock.FileLock(sys.argv[1]); l.acquire();"
            " print('held', flush=True); time.sleep(30)",
            str(busy.lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["cache", "prune", "--all", "--json"]) == 0
    finally:
        holder.kill()
        holder.wait(timeout=10)
    data = json.loads(capsys.readouterr().out)
    assert data["removed_entries"] == ["drive/files/abc/v1"]
    assert data["skipped_locked"] == ["kaggle/datasets/alice/tiny/3"]
    assert busy.is_complete()


def test_prune_text_summary(cache: Cache, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "prune", "--all"]) == 0
    out = capsys.readouterr().out
    assert "2 entries" in out and "removed kaggle/datasets/alice/tiny/3" in out
    assert cache.entries() == []
