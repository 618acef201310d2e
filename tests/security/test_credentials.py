"""Credentials under attack or slightly broken: a planted symlink never receives a login, a
stray newline never leaks a token through an error."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mlenv_magics import add_data
from mlenv_magics.data import kaggle_auth
from mlenv_magics.errors import CredentialsError
from mlenv_magics.kaggle_login_form import login_form
from mlenv_magics.testing.kaggle_fake import KaggleFake


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        pending += [item.__cause__, item.__context__]
    return found


def _log_in_with_the_form(token: str) -> str:
    _intro, username, secret, save, button, status = login_form(os.environ).children
    username.value, secret.value, save.value = "", token, True
    button.click()
    return str(status.value)


def test_a_planted_symlink_never_receives_the_saved_login(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    saved = kaggle_auth.saved_login_path(os.environ)
    saved.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    for pid in range(os.getpid() - 50, os.getpid() + 50):  # the names a guesser would plant
        (saved.parent / f".{saved.name}.{pid}.tmp").symlink_to(victim)
    assert "Logged in" in _log_in_with_the_form(kaggle_fake.token)
    assert victim.read_text() == "untouched"
    assert json.loads(saved.read_text()) == {"token": kaggle_fake.token}
    assert stat.S_IMODE(saved.lstat().st_mode) == 0o600
    leftovers = [
        p for p in saved.parent.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()
    ]
    assert leftovers == []


def test_a_symlink_at_the_saved_login_is_replaced_not_followed(
    kaggle_fake: KaggleFake, tmp_path: Path
) -> None:
    saved = kaggle_auth.saved_login_path(os.environ)
    saved.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    saved.symlink_to(victim)
    assert "Logged in" in _log_in_with_the_form(kaggle_fake.token)
    assert victim.read_text() == "untouched"
    assert not saved.is_symlink() and stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_token_with_a_stray_newline_or_space_is_stripped(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    kaggle_fake.add_competition("titanic", {"train.csv": b"a\n"})
    oauth = Path(os.environ["HOME"]) / ".kaggle" / "credentials.json"
    oauth.parent.mkdir(parents=True)
    oauth.write_text(json.dumps({"access_token": f" {kaggle_fake.token}\n", "username": "me"}))
    path = add_data("competition:titanic", quiet=True)
    assert (path / "train.csv").read_bytes() == b"a\n"
    oauth.unlink()
    saved = kaggle_auth.saved_login_path(os.environ)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"token": f"\t{kaggle_fake.token}\r\n"}))
    assert add_data("competition:titanic", force=True, quiet=True) == path


def test_a_token_broken_inside_fails_naming_the_source_never_the_value(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    kaggle_fake.add_competition("titanic", {"train.csv": b"a\n"})
    broken = "first-half-of-the-token\nsecond-half-of-the-token"
    token_file = Path(os.environ["HOME"]) / ".kaggle" / "access_token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(broken)
    with pytest.raises(CredentialsError, match=r"~/\.kaggle/access_token") as caught:
        add_data("competition:titanic", quiet=True)
    for error in _chain(caught.value):
        text = f"{error!s} {error!r} {error.args!r}"
        assert "half-of-the-token" not in text
    assert kaggle_fake.calls_to("DownloadDataFiles") == []


@pytest.mark.parametrize(
    ("token", "source"),
    [("abc\u201cdef-secret-part", "KAGGLE_API_TOKEN env"), ("abc\x00def-secret-part", "file")],
)
def test_a_token_that_cannot_be_a_header_names_the_source(
    kaggle_fake: KaggleFake, monkeypatch: pytest.MonkeyPatch, token: str, source: str
) -> None:
    if source == "file":  # a NUL cannot be in an environment variable
        token_file = Path(os.environ["HOME"]) / "token.txt"
        token_file.write_text(token)
        monkeypatch.setenv("KAGGLE_API_TOKEN", str(token_file))
        source = "KAGGLE_API_TOKEN file"
    else:
        monkeypatch.setenv("KAGGLE_API_TOKEN", token)
    kaggle_fake.add_competition("titanic", {"train.csv": b"a\n"})
    with pytest.raises(CredentialsError, match=source) as caught:
        add_data("competition:titanic", quiet=True)
    for error in _chain(caught.value):
        assert "secret-part" not in f"{error!s} {error!r} {error.args!r}"


def test_the_login_form_refuses_a_broken_token_without_echoing_it(kaggle_fake: KaggleFake) -> None:
    status = _log_in_with_the_form("abc def-secret-part")
    assert "cannot be sent" in status and "secret-part" not in status
    assert not kaggle_auth.saved_login_path(os.environ).exists()
