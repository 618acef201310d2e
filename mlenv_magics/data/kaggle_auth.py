"""Kaggle credentials: every source the official clients accept, in their order, plus Colab
secrets, Kaggle user secrets and a login the user chose to save.

The resolved :class:`KaggleCredentials` knows its source's *name* ("KAGGLE_API_TOKEN env",
"~/.kaggle/kaggle.json"); its value never shows in a repr, a message or a log.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .. import config
from ..credentials import kaggle_config_dirs
from ..errors import CredentialsError

TOKEN_PAGE = "https://www.kaggle.com/settings/api"
LOGIN_WAYS = (
    "Set KAGGLE_API_TOKEN (create a token at " + TOKEN_PAGE + "), or put it in"
    " ~/.kaggle/access_token; or set KAGGLE_USERNAME and KAGGLE_KEY; or save kaggle.json"
    ' ({"username": ..., "key": ...}, chmod 600) in ~/.kaggle, ~/.config/kaggle or'
    " $KAGGLE_CONFIG_DIR; on Colab add the KAGGLE_API_TOKEN secret, on Kaggle it is automatic."
)

Kind = Literal["token", "legacy"]


@dataclass(frozen=True)
class KaggleCredentials:
    kind: Kind  # "token": Bearer access token; "legacy": username + key (HTTP Basic)
    source_name: str  # where it came from, for the report; never the value
    username: str | None = None
    secret: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        # A stray newline or space around a pasted value is dropped; one inside cannot be sent
        # in a header, and the error names the source, never the value.
        secret = _header_safe(self.secret, "token" if self.kind == "token" else "key", self)
        object.__setattr__(self, "secret", secret)
        if self.username is not None:
            object.__setattr__(self, "username", _header_safe(self.username, "username", self))

    def __repr__(self) -> str:
        return f"KaggleCredentials(kind={self.kind!r}, source={self.source_name!r})"

    __str__ = __repr__

    def auth_header(self) -> dict[str, str]:
        if self.kind == "token":
            return {"Authorization": f"Bearer {self.secret}"}
        pair = f"{self.username}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def _header_safe(value: str, what: str, credentials: KaggleCredentials) -> str:
    text = str(value).strip()
    sent_as_is = what == "token"  # a key and a username travel base64-encoded
    if any(not character.isprintable() or character.isspace() for character in text) or (
        sent_as_is and not text.isascii()
    ):
        raise CredentialsError(
            f"The Kaggle {what} from {credentials.source_name} contains a line break, a space"
            " or another character that cannot be sent to Kaggle.",
            fix=f"Copy the {what} again (a single line, nothing around it). " + LOGIN_WAYS,
        )
    return text


# A login typed into the widget or the prompt during this process (not necessarily saved).
_session_login: KaggleCredentials | None = None
_session_lock = threading.Lock()


def remember_login(credentials: KaggleCredentials) -> None:
    global _session_login
    with _session_lock:
        _session_login = credentials


def forget_login() -> None:
    global _session_login
    with _session_lock:
        _session_login = None


def in_kaggle_notebook(env: Mapping[str, str]) -> bool:
    return bool(env.get("KAGGLE_KERNEL_RUN_TYPE")) and bool(env.get("KAGGLE_DATA_PROXY_URL"))


def local_credentials(env: Mapping[str, str]) -> KaggleCredentials | None:
    """The first local source, in kaggle CLI order; no network, no prompts."""
    if _session_login is not None:
        return _session_login
    home = config.home_dir(env)
    if in_kaggle_notebook(env):
        token = _read_token_file(env.get("KAGGLE_API_V1_TOKEN"))
        if token:
            return KaggleCredentials("token", "KAGGLE_API_V1_TOKEN file", secret=token)
    env_token = (env.get("KAGGLE_API_TOKEN") or "").strip()
    if env_token:
        if Path(env_token).expanduser().is_file():
            token = _read_token_file(env_token)
            if token:
                return KaggleCredentials("token", "KAGGLE_API_TOKEN file", secret=token)
        else:
            return KaggleCredentials("token", "KAGGLE_API_TOKEN env", secret=env_token)
    for name in ("access_token", "access_token.txt"):
        token = _read_token_file(str(home / ".kaggle" / name))
        if token:
            return KaggleCredentials("token", f"~/.kaggle/{name}", secret=token)
    legacy = _legacy_pair(env, home)
    if legacy is not None:
        return legacy
    oauth = _oauth_token(home)
    if oauth is not None:
        return oauth
    return _saved_login(env)


def _read_token_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def _legacy_pair(env: Mapping[str, str], home: Path) -> KaggleCredentials | None:
    """kaggle.json merged with KAGGLE_USERNAME/KAGGLE_KEY; env wins key by key."""
    file_values: dict[str, Any] = {}
    file_name: str | None = None
    for folder in _config_dir(env, home):
        path = folder / "kaggle.json"
        if path.is_file():
            file_values = _read_json(path, "kaggle.json")
            file_name = _pretty(path, home)
            break
    username = env.get("KAGGLE_USERNAME") or str(file_values.get("username") or "")
    key = env.get("KAGGLE_KEY") or str(file_values.get("key") or "")
    if not (username and key):
        return None
    from_env = [n for n in ("KAGGLE_USERNAME", "KAGGLE_KEY") if env.get(n)]
    if len(from_env) == 2 or file_name is None:
        source = "KAGGLE_USERNAME/KAGGLE_KEY env"
    elif from_env:
        source = f"{file_name} + {from_env[0]} env"
    else:
        source = file_name
    return KaggleCredentials("legacy", source, username=username, secret=key)


def _config_dir(env: Mapping[str, str], home: Path) -> list[Path]:
    dirs = kaggle_config_dirs(env, home)
    return dirs[:1] if not env.get("KAGGLE_CONFIG_DIR") and dirs[0].is_dir() else dirs


def _oauth_token(home: Path) -> KaggleCredentials | None:
    path = home / ".kaggle" / "credentials.json"
    if not path.is_file():
        return None
    values = _read_json(path, "credentials.json")
    token = str(values.get("access_token") or "")
    expires = str(values.get("access_token_expiration") or "")
    if not token:
        return None
    if expires:
        try:
            when = datetime.fromisoformat(expires.replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if when <= datetime.now(UTC):
                return None  # refreshing needs `kaggle auth login` again
        except ValueError:
            return None
    return KaggleCredentials(
        "token",
        "~/.kaggle/credentials.json (OAuth)",
        username=values.get("username"),
        secret=token,
    )


def saved_login_path(env: Mapping[str, str]) -> Path:
    return config.config_dir(env) / "kaggle.json"


def _saved_login(env: Mapping[str, str]) -> KaggleCredentials | None:
    path = saved_login_path(env)
    if not path.is_file():
        return None
    values = _read_json(path, "the saved mlenv login")
    if values.get("token"):
        return KaggleCredentials("token", "mlenv saved login", secret=str(values["token"]))
    if values.get("username") and values.get("key"):
        return KaggleCredentials(
            "legacy",
            "mlenv saved login",
            username=str(values["username"]),
            secret=str(values["key"]),
        )
    return None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise CredentialsError(
            f"{what} at {path} is not valid JSON.",
            fix='Rewrite it as {"username": "...", "key": "..."} or delete it.',
        ) from None
    if not isinstance(values, dict):
        raise CredentialsError(f"{what} at {path} is not a JSON object.", fix=LOGIN_WAYS)
    return values


def _pretty(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------- notebook secrets
def colab_secret_credentials(
    on_colab: bool, get_secret: Callable[[str], str | None] | None = None
) -> KaggleCredentials | None:
    """Colab secrets KAGGLE_API_TOKEN, else KAGGLE_USERNAME + KAGGLE_KEY (only on Colab)."""
    if not on_colab:
        return None
    if get_secret is None:
        get_secret = _colab_userdata_get

    def read(name: str) -> str | None:
        try:
            value = get_secret(name)
        except KeyboardInterrupt:
            raise
        except Exception:  # not granted, not defined: the next source is tried
            return None
        return value.strip() if isinstance(value, str) and value.strip() else None

    token = read("KAGGLE_API_TOKEN")
    if token:
        return KaggleCredentials("token", "Colab secret KAGGLE_API_TOKEN", secret=token)
    username, key = read("KAGGLE_USERNAME"), read("KAGGLE_KEY")
    if username and key:
        return KaggleCredentials(
            "legacy", "Colab secrets KAGGLE_USERNAME/KAGGLE_KEY", username=username, secret=key
        )
    return None


def _colab_userdata_get(name: str) -> str | None:
    from google.colab import userdata  # type: ignore[import-not-found]

    value = userdata.get(name)
    return value if isinstance(value, str) else None


def kaggle_secret_credentials(
    env: Mapping[str, str], fetch_secret: Callable[[str], str | None]
) -> KaggleCredentials | None:
    """Kaggle user secrets (Add-ons → Secrets) with the same labels as the env variables."""
    if not env.get("KAGGLE_USER_SECRETS_TOKEN"):
        return None
    token = fetch_secret("KAGGLE_API_TOKEN")
    if token:
        return KaggleCredentials("token", "Kaggle secret KAGGLE_API_TOKEN", secret=token)
    username = fetch_secret("KAGGLE_USERNAME")
    key = fetch_secret("KAGGLE_KEY") if username else None
    if username and key:
        return KaggleCredentials(
            "legacy", "Kaggle secrets KAGGLE_USERNAME/KAGGLE_KEY", username=username, secret=key
        )
    return None


# ------------------------------------------------------------------- saving a login
def save_login(credentials: KaggleCredentials, env: Mapping[str, str]) -> Path:
    """Write the login to the mlenv config dir with mode 0600 (atomic replace)."""
    path = saved_login_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    if credentials.kind == "token":
        payload: dict[str, str] = {"token": credentials.secret}
    else:
        payload = {"username": credentials.username or "", "key": credentials.secret}
    temporary, descriptor = _new_private_file(path)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(temporary, path)  # a symlink at ``path`` is replaced, never followed
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _new_private_file(path: Path) -> tuple[Path, int]:
    """A new file next to ``path``, readable by the user only, under an unguessable name;
    created exclusively and never through a symlink planted there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(8):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            return temporary, os.open(temporary, flags, 0o600)
        except FileExistsError:
            continue
    raise CredentialsError(
        f"Could not create a private temporary file in {path.parent}.",
        fix="Check that folder's contents and permissions, then try again.",
    )


def credentials_from_form(username: str, key_or_token: str) -> KaggleCredentials | None:
    """What the login form's two fields mean: a token alone, or a username and a key."""
    username, value = username.strip(), key_or_token.strip()
    if not value:
        return None
    if username:
        return KaggleCredentials("legacy", "login form", username=username, secret=value)
    return KaggleCredentials("token", "login form", secret=value)


def missing_credentials_error(what: str) -> CredentialsError:
    return CredentialsError(
        f"Kaggle credentials are needed for {what}, and none were found.", fix=LOGIN_WAYS
    )
