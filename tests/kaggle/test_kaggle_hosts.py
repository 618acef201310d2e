"""Kaggle notebooks (mounts, attach, Batch reruns, user secrets) and Colab's Kaggle cache."""

from __future__ import annotations

import stat
import sys
import types
from pathlib import Path

import pytest

from mlenv_magics import add_data, data_command
from mlenv_magics.api import acquire_data
from mlenv_magics.data import kaggle_auth
from mlenv_magics.errors import (
    CredentialsError,
    LoginRequired,
    NotFoundError,
    ServerError,
    UnsupportedHostError,
)
from mlenv_magics.kaggle_login_form import login_form
from mlenv_magics.testing.kaggle_fake import KaggleFake

FILES = {"train.csv": b"a,b\n1,2\n", "sub/notes.txt": b"hello"}


def on_kaggle(
    monkeypatch: pytest.MonkeyPatch, fake: KaggleFake, run_type: str = "Interactive"
) -> Path:
    for name, value in fake.kaggle_notebook_env(run_type).items():
        monkeypatch.setenv(name, value)
    assert fake.mount_root is not None
    return fake.mount_root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_data_mounted_in_the_editor_costs_no_network_call(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    root = on_kaggle(monkeypatch, kaggle_fake)
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "train.csv").write_bytes(b"mounted")
    result = acquire_data("alice/tiny")
    assert result.path == root / "tiny"
    assert "kaggle dataset alice/tiny: mounted, 1 file" in result.summary_line()
    assert kaggle_fake.calls == []


def test_attach_then_wait_for_the_mount(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_dataset("alice/tiny", versions={1: {"a": b"1"}, 2: FILES})
    kaggle_fake.attach_delay = 0.3
    notices: list[str] = []
    result = acquire_data("alice/tiny", notice=notices.append)
    assert result.path == root / "tiny" and tree(result.path) == FILES
    assert notices and notices[0].startswith("Waiting up to 60 s")
    assert "v2: attached, 2 files" in result.summary_line()
    attach = kaggle_fake.calls_to("attach")
    assert attach[0].body == {"datasetRef": {"OwnerSlug": "alice", "DatasetSlug": "tiny"}}
    assert "DownloadDataset" not in [c.method for c in kaggle_fake.calls]


def test_attach_sends_a_pinned_version_as_a_string(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_dataset("alice/tiny", versions={1: {"a": b"1"}, 2: FILES})
    add_data("alice/tiny/versions/1", quiet=True)
    assert kaggle_fake.calls_to("attach")[0].body["datasetRef"]["VersionNumber"] == "1"


def test_a_mount_that_never_appears_times_out_clearly(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.attach_delay = 30
    with pytest.raises(ServerError, match=r"within 0\.3 s"):
        add_data("alice/tiny", quiet=True, mount_timeout=0.3)


def test_attach_retries_a_5xx_and_keeps_the_server_reason(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    root = on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.fail("attach", 503, "Internal error")
    assert add_data("alice/tiny", quiet=True) == root / "tiny"
    assert len(kaggle_fake.calls_to("attach")) == 2
    with pytest.raises(NotFoundError, match="Not found: alice/missing") as info:
        add_data("alice/missing", quiet=True)
    assert "https://www.kaggle.com/datasets/alice/missing" in str(info.value)


def test_batch_competition_rerun_never_attaches_or_downloads(
    kaggle_fake: KaggleFake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    root = on_kaggle(monkeypatch, kaggle_fake, run_type="Batch")
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    with pytest.raises(UnsupportedHostError, match="Batch"):
        add_data("competition:titanic", quiet=True)
    assert kaggle_fake.calls == []
    (root / "titanic").mkdir(parents=True)
    (root / "titanic" / "train.csv").write_bytes(b"x")
    assert add_data("competition:titanic", quiet=True) == root / "titanic"
    assert kaggle_fake.calls == []


def test_competition_attach_in_an_interactive_session(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    assert add_data("competition:titanic", quiet=True) == root / "titanic"
    assert kaggle_fake.calls_to("attach")[0].body == {
        "competitionRef": {"CompetitionSlug": "titanic"}
    }


def test_offline_on_kaggle_does_not_attach(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    on_kaggle(monkeypatch, kaggle_fake)
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    with pytest.raises(Exception, match="offline"):
        add_data("alice/tiny/versions/1", offline=True, quiet=True)
    assert kaggle_fake.calls == []


def test_kaggle_user_secrets_supply_credentials(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    on_kaggle(monkeypatch, kaggle_fake)
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    monkeypatch.delenv("KAGGLE_DATA_PROXY_URL")  # no attach: the HTTP path needs credentials
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    kaggle_fake.user_secrets["KAGGLE_API_TOKEN"] = kaggle_fake.token
    path = add_data("competition:titanic", quiet=True)
    assert tree(path) == {"train.csv": b"x"}
    assert [c.body["Label"] for c in kaggle_fake.calls_to("secret")] == ["KAGGLE_API_TOKEN"]
    assert kaggle_fake.calls_to("DownloadDataFiles")[0].auth == "bearer"


def test_colab_cache_serves_datasets_it_has(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in kaggle_fake.colab_env().items():
        monkeypatch.setenv(name, value)
    kaggle_fake.add_dataset("alice/tiny", files=FILES)
    kaggle_fake.add_dataset("alice/other", files=FILES)
    kaggle_fake.colab_cached.add("alice/tiny")
    result = acquire_data("alice/tiny")
    assert kaggle_fake.colab_mount_root is not None
    assert result.path == kaggle_fake.colab_mount_root / "tiny" and tree(result.path) == FILES
    assert "colab-cache, 2 files" in result.summary_line()
    assert "DownloadDataset" not in [c.method for c in kaggle_fake.calls]
    other = acquire_data("alice/other")  # not in Colab's cache: downloaded
    assert other.origin == "downloaded" and tree(other.path) == FILES


def test_colab_secrets_are_read_only_on_colab(kaggle_fake: KaggleFake, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    userdata = types.ModuleType("google.colab.userdata")
    asked: list[str] = []

    def get(name: str) -> str:
        asked.append(name)
        if name == "KAGGLE_API_TOKEN":
            return kaggle_fake.token
        raise KeyError(name)

    userdata.get = get  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)
    with pytest.raises(CredentialsError):
        add_data("competition:titanic", quiet=True)
    assert asked == []
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")
    assert tree(add_data("competition:titanic", quiet=True)) == {"train.csv": b"x"}
    assert asked == ["KAGGLE_API_TOKEN"]


class ZMQInteractiveShell:
    """Looks like a Jupyter kernel's shell to frontend detection."""

    kernel = None

    def __init__(self) -> None:
        self.user_ns: dict[str, object] = {}


def test_notebook_shows_a_login_form_when_credentials_are_missing(
    kaggle_fake: KaggleFake, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    with pytest.raises(LoginRequired, match="none were found") as needed:
        add_data("competition:titanic", shell=ZMQInteractiveShell())
    assert needed.value.form == "kaggle" and capsys.readouterr().out == ""  # the API shows nothing
    assert "login_env" not in repr(needed.value) and "KAGGLE" not in repr(needed.value)
    with pytest.raises(CredentialsError, match="form shown above"):
        data_command.run("competition:titanic", quiet=True, shell=ZMQInteractiveShell())
    assert "VBox" in capsys.readouterr().out  # displayed (text fallback outside a kernel)


def test_login_form_logs_in_and_saves_with_mode_0600(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    import os

    form = login_form(os.environ)
    _intro, username, secret, save, button, status = form.children
    username.value, secret.value, save.value = kaggle_fake.username, kaggle_fake.key, True
    button.click()
    assert "Logged in" in status.value and secret.value == ""
    saved = kaggle_auth.saved_login_path(os.environ)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert kaggle_fake.key not in status.value
    kaggle_fake.add_competition("titanic", {"train.csv": b"x"})
    os.environ.pop("KAGGLE_API_TOKEN")
    assert tree(add_data("competition:titanic", quiet=True)) == {"train.csv": b"x"}
    assert kaggle_fake.calls_to("DownloadDataFiles")[0].auth == "basic"
