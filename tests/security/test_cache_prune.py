"""``mlenv cache``: stray files among the markers never crash it, and ``prune`` deletes an
entry only while it holds that entry's lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlenv_magics.cache import Cache, CacheEntry
from mlenv_magics.cache_command import PruneResult, cache_result
from mlenv_magics.cli import main


def _publish(cache: Cache, *key: str) -> CacheEntry:
    entry = cache.entry(*key)
    with entry.publish({"source": "test", "version": key[-1]}) as folder:
        (folder / "data.bin").write_bytes(b"x" * 10)
    return entry


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cache:
    monkeypatch.setenv("MLENV_CACHE_DIR", str(tmp_path / "cache"))
    made = Cache(tmp_path / "cache")
    _publish(made, "kaggle", "datasets", "alice", "tiny", "3")
    return made


def _plant_strays(cache: Cache) -> None:
    markers = cache.root / ".entries"
    (markers / ".json").write_text("{}")
    (markers / "~.json").write_text("{}")
    (markers / "kaggle~~x.json").write_text("not json")
    (markers / "folder.json").mkdir()


def test_stray_marker_files_do_not_break_list_du_or_prune(
    cache: Cache, capsys: pytest.CaptureFixture[str]
) -> None:
    _plant_strays(cache)
    assert main(["cache", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["key"] for e in listed["entries"]] == ["kaggle/datasets/alice/tiny/3"]
    assert main(["cache", "du"]) == 0
    assert "1 entries" in capsys.readouterr().out
    assert main(["cache", "prune"]) == 0
    out = capsys.readouterr().out
    assert "4 leftovers removed" in out
    assert sorted(p.name for p in (cache.root / ".entries").iterdir()) == [
        "kaggle~datasets~alice~tiny~3.json"
    ]
    assert main(["cache", "prune", "--all"]) == 0
    assert cache.entries() == []


def test_prune_holds_the_entry_lock_while_it_deletes(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked_during_removal: list[bool] = []
    remove = CacheEntry.remove

    def observed_remove(entry: CacheEntry) -> None:
        locked_during_removal.append(entry.is_locked())  # a separate lock handle probes it
        remove(entry)

    monkeypatch.setattr(CacheEntry, "remove", observed_remove)
    result = cache_result("prune", remove_all=True)
    assert isinstance(result, PruneResult)
    assert result.removed_entries == ["kaggle/datasets/alice/tiny/3"]
    assert locked_during_removal == [True]


def test_cache_results_are_typed_objects_with_text_html_and_dict(cache: Cache) -> None:
    for action in ("list", "du", "prune"):
        result = cache_result(action)
        assert repr(result) and "<" in result._repr_html_()  # type: ignore[union-attr]
        assert json.dumps(result.to_dict())
