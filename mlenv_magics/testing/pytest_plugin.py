"""pytest fixtures exposing the loopback fakes (registered through the ``pytest11`` entry point).

Importing this module stays cheap: each fixture imports its fake when it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .drive_fake import DriveFake
    from .kaggle_fake import KaggleFake

# Proxy settings would send loopback test traffic elsewhere.
PROXY_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)

# Everything that could route a client elsewhere or lend it real credentials.
KAGGLE_ISOLATED_ENV = (
    "KAGGLE_API_TOKEN",
    "KAGGLE_USERNAME",
    "KAGGLE_KEY",
    "KAGGLE_CONFIG_DIR",
    "KAGGLE_API_V1_TOKEN",
    "KAGGLE_API_ENVIRONMENT",
    "KAGGLE_API_ENDPOINT",
    "KAGGLE_IAP_TOKEN",
    "KAGGLE_KERNEL_RUN_TYPE",
    "KAGGLE_DATA_PROXY_URL",
    "KAGGLE_DATA_PROXY_TOKEN",
    "KAGGLE_USER_SECRETS_TOKEN",
    "KAGGLE_URL_BASE",
    "KAGGLE_CACHE_MOUNT_FOLDER",
    "COLAB_CACHE_MOUNT_FOLDER",
    "COLAB_RELEASE_TAG",
    "COLAB_BACKEND_VERSION",
    "TBE_RUNTIME_ADDR",
    "DISABLE_KAGGLE_CACHE",
    "DISABLE_COLAB_CACHE",
    "MLENV_RUNTIME",
    "MLENV_KAGGLE_API",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    *PROXY_ENV,
)


@pytest.fixture
def kaggle_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KaggleFake]:
    """A running Kaggle fake with a private HOME, cache and input roots.

    The process env points at it (``MLENV_KAGGLE_API``) with the fake's access token in
    ``KAGGLE_API_TOKEN``; delete that variable to test anonymous use. Use
    ``fake.kaggle_notebook_env()`` / ``fake.colab_env()`` to simulate the notebook hosts.
    """
    from .kaggle_fake import KaggleFake

    for name in KAGGLE_ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MLENV_CACHE_DIR", str(tmp_path / "mlenv-cache"))
    fake = KaggleFake(
        mount_root=tmp_path / "kaggle-input", colab_mount_root=tmp_path / "colab-input"
    )
    with fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake


DRIVE_ISOLATED_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "COLAB_RELEASE_TAG",
    "MLENV_DRIVE_API",
    "XDG_CONFIG_HOME",
    *PROXY_ENV,
)


@pytest.fixture
def drive_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DriveFake]:
    """A running Google Drive v2 fake (``mlenv_magics.testing.drive_fake.DriveFake``).

    The process env points at it: ``MLENV_DRIVE_API`` is its base URL and
    ``GOOGLE_APPLICATION_CREDENTIALS`` a throwaway service-account key whose ``token_uri``
    is the fake's token endpoint; HOME, the config dir and the cache are private.
    """
    from .drive_fake import DriveFake

    for name in DRIVE_ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("MLENV_CACHE_DIR", str(tmp_path / "mlenv-cache"))
    monkeypatch.setenv("MLENV_RUNTIME", "local")
    with DriveFake() as fake:
        key_file = fake.write_service_account(tmp_path / "drive-service-account.json")
        monkeypatch.setenv("MLENV_DRIVE_API", fake.base_url)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        yield fake
