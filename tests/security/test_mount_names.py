"""Mount names a notebook host answers become path parts only when they are plain relative
names: ``..``, absolute paths and backslashes are refused before anything waits or reads."""

from __future__ import annotations

import pytest

from mlenv_magics import add_data
from mlenv_magics.errors import ServerError
from mlenv_magics.testing.kaggle_fake import KaggleFake

HOSTILE = ["../../etc", "/etc", "..", "tiny\\..\\..", "tiny/../../x", "C:/x", "./tiny", "a//b"]


@pytest.mark.parametrize("slug", HOSTILE)
def test_kaggle_attach_answer_with_a_hostile_mount_slug_is_refused(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, slug: str
) -> None:
    for name, value in kaggle_fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    kaggle_fake.answer_mount_slug = slug
    with pytest.raises(ServerError, match="Kaggle's attach endpoint answered the mount name"):
        add_data("alice/tiny", quiet=True, mount_timeout=0.5)


@pytest.mark.parametrize("slug", HOSTILE)
def test_colab_cache_answer_with_a_hostile_slug_is_refused(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, slug: str
) -> None:
    for name, value in kaggle_fake.colab_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLENV_RUNTIME", "colab")
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    kaggle_fake.colab_cached.add("alice/tiny")
    kaggle_fake.answer_mount_slug = slug
    with pytest.raises(ServerError, match="Colab's Kaggle cache answered the mount name"):
        add_data("alice/tiny", quiet=True, mount_timeout=0.5)


def test_nested_mount_slugs_are_accepted(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = kaggle_fake.mount_root
    assert root is not None
    for name, value in kaggle_fake.kaggle_notebook_env().items():
        monkeypatch.setenv(name, value)
    kaggle_fake.add_dataset("alice/tiny", {"a.csv": b"1"})
    (root / "models" / "tiny").mkdir(parents=True)
    (root / "models" / "tiny" / "a.csv").write_bytes(b"1")
    kaggle_fake.answer_mount_slug = "models/tiny"
    assert add_data("alice/tiny", quiet=True) == root / "models" / "tiny"
