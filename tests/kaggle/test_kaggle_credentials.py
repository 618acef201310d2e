"""Credential resolution: the official clients' order, names only, 0600 saves."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mlenv_magics.data import kaggle_auth
from mlenv_magics.data.kaggle_auth import (
    KaggleCredentials,
    colab_secret_credentials,
    credentials_from_form,
    local_credentials,
    save_login,
)
from mlenv_magics.errors import CredentialsError

SECRET = "s3cr3t-value-never-shown"


def _home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home)}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nothing_found_means_anonymous(tmp_path: Path) -> None:
    assert local_credentials(_home(tmp_path)) is None


def test_env_token_wins_over_everything(tmp_path: Path) -> None:
    env = _home(tmp_path) | {
        "KAGGLE_API_TOKEN": SECRET,
        "KAGGLE_USERNAME": "bob",
        "KAGGLE_KEY": "k",
    }
    _write(Path(env["HOME"]) / ".kaggle" / "access_token", "file-token")
    found = local_credentials(env)
    assert found is not None
    assert (found.kind, found.source_name) == ("token", "KAGGLE_API_TOKEN env")
    assert found.auth_header() == {"Authorization": f"Bearer {SECRET}"}


def test_env_token_naming_a_file_reads_the_file(tmp_path: Path) -> None:
    token_file = _write(tmp_path / "tok.txt", f"  {SECRET}\n")
    found = local_credentials(_home(tmp_path) | {"KAGGLE_API_TOKEN": str(token_file)})
    assert found is not None and found.source_name == "KAGGLE_API_TOKEN file"
    assert found.secret == SECRET


@pytest.mark.parametrize("name", ["access_token", "access_token.txt"])
def test_access_token_files_in_dot_kaggle(tmp_path: Path, name: str) -> None:
    env = _home(tmp_path)
    _write(Path(env["HOME"]) / ".kaggle" / name, SECRET)
    found = local_credentials(env)
    assert found is not None and found.source_name == f"~/.kaggle/{name}"


def test_notebook_token_file_only_inside_a_kaggle_notebook(tmp_path: Path) -> None:
    token_file = _write(tmp_path / "v1", SECRET)
    env = _home(tmp_path) | {"KAGGLE_API_V1_TOKEN": str(token_file)}
    assert local_credentials(env) is None
    env |= {"KAGGLE_KERNEL_RUN_TYPE": "Interactive", "KAGGLE_DATA_PROXY_URL": "http://x"}
    found = local_credentials(env)
    assert found is not None and found.source_name == "KAGGLE_API_V1_TOKEN file"


def test_legacy_env_pair(tmp_path: Path) -> None:
    env = _home(tmp_path) | {"KAGGLE_USERNAME": "bob", "KAGGLE_KEY": SECRET}
    found = local_credentials(env)
    assert found is not None
    assert (found.kind, found.username, found.source_name) == (
        "legacy",
        "bob",
        "KAGGLE_USERNAME/KAGGLE_KEY env",
    )
    assert found.auth_header()["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    ("folder", "shown"),
    [(".kaggle", "~/.kaggle/kaggle.json"), (".config/kaggle", "~/.config/kaggle/kaggle.json")],
)
def test_kaggle_json_in_home_folders(tmp_path: Path, folder: str, shown: str) -> None:
    env = _home(tmp_path)
    _write(Path(env["HOME"]) / folder / "kaggle.json", json.dumps({"username": "u", "key": "k"}))
    found = local_credentials(env)
    assert found is not None and found.source_name == shown


def test_dot_kaggle_wins_over_xdg_and_config_dir_wins_over_both(tmp_path: Path) -> None:
    env = _home(tmp_path)
    home = Path(env["HOME"])
    _write(home / ".kaggle" / "kaggle.json", json.dumps({"username": "a", "key": "1"}))
    _write(home / ".config/kaggle/kaggle.json", json.dumps({"username": "b", "key": "2"}))
    found = local_credentials(env)
    assert found is not None and found.username == "a"
    custom = _write(tmp_path / "cfg" / "kaggle.json", json.dumps({"username": "c", "key": "3"}))
    found = local_credentials(env | {"KAGGLE_CONFIG_DIR": str(custom.parent)})
    assert found is not None and found.username == "c"


def test_env_overrides_kaggle_json_key_by_key(tmp_path: Path) -> None:
    env = _home(tmp_path) | {"KAGGLE_KEY": "from-env"}
    _write(Path(env["HOME"]) / ".kaggle" / "kaggle.json", json.dumps({"username": "u", "key": "x"}))
    found = local_credentials(env)
    assert found is not None and found.secret == "from-env" and found.username == "u"
    assert found.source_name == "~/.kaggle/kaggle.json + KAGGLE_KEY env"


def test_bad_kaggle_json_is_a_clear_error(tmp_path: Path) -> None:
    env = _home(tmp_path)
    _write(Path(env["HOME"]) / ".kaggle" / "kaggle.json", "{not json")
    with pytest.raises(CredentialsError, match=r"kaggle\.json"):
        local_credentials(env)


def test_oauth_credentials_until_they_expire(tmp_path: Path) -> None:
    env = _home(tmp_path)
    path = Path(env["HOME"]) / ".kaggle" / "credentials.json"
    _write(
        path,
        json.dumps({"access_token": SECRET, "access_token_expiration": "2999-01-01T00:00:00Z"}),
    )
    found = local_credentials(env)
    assert found is not None and found.source_name == "~/.kaggle/credentials.json (OAuth)"
    _write(
        path,
        json.dumps({"access_token": SECRET, "access_token_expiration": "2001-01-01T00:00:00Z"}),
    )
    assert local_credentials(env) is None


def test_saved_login_round_trip_with_mode_0600(tmp_path: Path) -> None:
    env = _home(tmp_path)
    path = save_login(KaggleCredentials("legacy", "login form", "bob", SECRET), env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent.name == "mlenv"
    found = local_credentials(env)
    assert found is not None
    assert (found.source_name, found.username, found.secret) == ("mlenv saved login", "bob", SECRET)


def test_a_login_typed_this_session_is_used_first(tmp_path: Path) -> None:
    env = _home(tmp_path) | {"KAGGLE_API_TOKEN": "other"}
    kaggle_auth.remember_login(KaggleCredentials("token", "login form", secret=SECRET))
    found = local_credentials(env)
    assert found is not None and found.source_name == "login form"


def test_the_value_never_shows(tmp_path: Path) -> None:
    creds = KaggleCredentials("legacy", "KAGGLE_USERNAME/KAGGLE_KEY env", "bob", SECRET)
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text
    assert "KAGGLE_USERNAME/KAGGLE_KEY env" in repr(creds)


def test_colab_secrets_only_on_colab_and_errors_fall_through() -> None:
    secrets = {"KAGGLE_USERNAME": "bob", "KAGGLE_KEY": SECRET}

    def get(name: str) -> str | None:
        if name == "KAGGLE_API_TOKEN":
            raise RuntimeError("SecretNotFoundError")
        return secrets.get(name)

    assert colab_secret_credentials(False, get) is None
    found = colab_secret_credentials(True, get)
    assert found is not None and found.source_name == "Colab secrets KAGGLE_USERNAME/KAGGLE_KEY"
    token = colab_secret_credentials(True, lambda name: f" {SECRET}\n")
    assert token is not None and token.kind == "token" and token.secret == SECRET


def test_colab_secrets_do_not_swallow_interrupts() -> None:
    def get(name: str) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        colab_secret_credentials(True, get)


def test_login_form_fields() -> None:
    assert credentials_from_form("", "  ") is None
    token = credentials_from_form("", SECRET)
    assert token is not None and token.kind == "token"
    legacy = credentials_from_form("bob", SECRET)
    assert legacy is not None and legacy.kind == "legacy" and legacy.username == "bob"
