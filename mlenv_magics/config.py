"""Settings read from the environment: cache root, API bases, mount roots.

Every function takes the environment as a mapping so tests can inject one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

KAGGLE_API_DEFAULT = "https://api.kaggle.com"
DRIVE_API_DEFAULT = "https://www.googleapis.com/drive/v2/"
KAGGLE_INPUT_DEFAULT = "/kaggle/input"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    env = _env(env)
    return Path(env.get("HOME") or os.path.expanduser("~"))


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``MLENV_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlenv``, else ``~/.cache/mlenv``."""
    env = _env(env)
    if env.get("MLENV_CACHE_DIR"):
        return Path(env["MLENV_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "mlenv"
    return home_dir(env) / ".cache" / "mlenv"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where mlenv keeps a login the user chose to save."""
    env = _env(env)
    base = env.get("XDG_CONFIG_HOME") or str(home_dir(env) / ".config")
    return Path(base).expanduser() / "mlenv"


def kaggle_api_base(env: Mapping[str, str] | None = None) -> str:
    return (_env(env).get("MLENV_KAGGLE_API") or KAGGLE_API_DEFAULT).rstrip("/")


def drive_api_base(env: Mapping[str, str] | None = None) -> str:
    base = _env(env).get("MLENV_DRIVE_API") or DRIVE_API_DEFAULT
    return base if base.endswith("/") else base + "/"


def kaggle_input_root(env: Mapping[str, str] | None = None) -> Path:
    return Path(_env(env).get("KAGGLE_CACHE_MOUNT_FOLDER") or KAGGLE_INPUT_DEFAULT)


def colab_cache_mount_root(env: Mapping[str, str] | None = None) -> Path:
    return Path(_env(env).get("COLAB_CACHE_MOUNT_FOLDER") or KAGGLE_INPUT_DEFAULT)
