"""Which credential sources exist on this machine, by name only.

Nothing here reads a secret's value into a report: callers get the name of the
source ("KAGGLE_KEY env", "~/.kaggle/kaggle.json") and never its content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import config


@dataclass(frozen=True)
class CredentialSource:
    service: str  # "kaggle" or "drive"
    name: str  # what the user sees, e.g. "KAGGLE_API_TOKEN env"
    location: str | None = None  # a file path, never a value

    def __str__(self) -> str:
        return self.name


def kaggle_config_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    """``KAGGLE_CONFIG_DIR``, else ``~/.kaggle``, else ``$XDG_CONFIG_HOME/kaggle``."""
    if env.get("KAGGLE_CONFIG_DIR"):
        return [Path(env["KAGGLE_CONFIG_DIR"]).expanduser()]
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"
    return [home / ".kaggle", xdg]


def kaggle_sources(env: Mapping[str, str] | None = None) -> list[CredentialSource]:
    env = os.environ if env is None else env
    home = config.home_dir(env)
    found: list[CredentialSource] = []

    def add(name: str, location: str | None = None) -> None:
        found.append(CredentialSource("kaggle", name, location))

    if env.get("KAGGLE_API_TOKEN"):
        add("KAGGLE_API_TOKEN env")
    for token_file in (home / ".kaggle" / "access_token", home / ".kaggle" / "access_token.txt"):
        if token_file.is_file():
            add(f"~/.kaggle/{token_file.name}", str(token_file))
    if env.get("KAGGLE_USERNAME") and env.get("KAGGLE_KEY"):
        add("KAGGLE_USERNAME/KAGGLE_KEY env")
    for folder in kaggle_config_dirs(env, home):
        if (folder / "kaggle.json").is_file():
            add(_pretty(folder / "kaggle.json", home), str(folder / "kaggle.json"))
    if (home / ".kaggle" / "credentials.json").is_file():
        add("~/.kaggle/credentials.json (OAuth)", str(home / ".kaggle" / "credentials.json"))
    saved = config.config_dir(env) / "kaggle.json"
    if saved.is_file():
        add("mlenv saved login", str(saved))
    if env.get("KAGGLE_USER_SECRETS_TOKEN"):
        add("Kaggle user secrets")
    if env.get("COLAB_RELEASE_TAG"):
        add("Colab secrets (if granted)")
    return found


def drive_sources(env: Mapping[str, str] | None = None) -> list[CredentialSource]:
    env = os.environ if env is None else env
    found: list[CredentialSource] = []
    if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        found.append(CredentialSource("drive", "GOOGLE_APPLICATION_CREDENTIALS (service account)"))
    saved = config.config_dir(env) / "drive-credentials.json"
    if saved.is_file():
        found.append(CredentialSource("drive", "mlenv saved Drive login", str(saved)))
    if env.get("COLAB_RELEASE_TAG"):
        found.append(CredentialSource("drive", "Colab user auth"))
    return found


def _pretty(path: Path, home: Path) -> str:
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)
