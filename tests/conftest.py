"""Shared fixtures: an isolated environment and a real IPython shell."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST_SIGNALS = (
    "KAGGLE_KERNEL_RUN_TYPE",
    "KAGGLE_DATA_PROXY_URL",
    "KAGGLE_USER_SECRETS_TOKEN",
    "KAGGLE_DATA_PROXY_TOKEN",
    "KAGGLE_URL_BASE",
    "DATABRICKS_RUNTIME_VERSION",
    "COLAB_RELEASE_TAG",
    "COLAB_BACKEND_VERSION",
    "COLAB_GPU",
    "TBE_RUNTIME_ADDR",
    "VERTEX_PRODUCT",
    "PAPERSPACE_NOTEBOOK_REPO_ID",
    "PAPERSPACE_CLUSTER_ID",
    "LIGHTNING_CLOUDSPACE_HOST",
    "LIGHTNING_CLOUDSPACE_ID",
    "DEEPNOTE_PROJECT_ID",
    "BINDER_SERVICE_HOST",
    "BINDER_REQUEST",
    "CI_RESOURCE_GROUP",
    "CI_WORKSPACE",
    "AZUREML_RUN_ID",
    "CODESPACES",
    "CODESPACE_NAME",
    "SAGEMAKER_INTERNAL_IMAGE_URI",
    "MLENV_RUNTIME",
    "PAPERMILL_OUTPUT_PATH",
    "KAGGLE_API_TOKEN",
    "KAGGLE_USERNAME",
    "KAGGLE_KEY",
    "KAGGLE_CONFIG_DIR",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No host signals, no credentials, a private HOME and cache."""
    for name in HOST_SIGNALS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("MLENV_CACHE_DIR", str(tmp_path / "cache"))
    return home


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt during the test, as Ctrl-C does, even when the suite was
    started with SIGINT ignored (under ``nohup`` or ``&`` a process inherits that)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def _shell():  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.displayhook.flush = lambda: None  # type: ignore[method-assign]
    return shell


@pytest.fixture
def ip(_shell, clean_env):  # type: ignore[no-untyped-def]
    """The IPython shell with mlenv_magics loaded (unloaded again afterwards)."""
    _shell.run_line_magic("load_ext", "mlenv_magics")
    yield _shell
    _shell.run_line_magic("unload_ext", "mlenv_magics")
