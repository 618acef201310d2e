"""Fixtures for the real-browser tests: Debian's Chromium through Playwright, the Kaggle fake,
and screenshot folders. Without Chromium or Playwright these tests skip and say why."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlenv_magics.testing import notebook_runner

from .servers import chromium_path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class DemoKernel:
    """The environment a notebook kernel gets, and the credential values it must never show."""

    env: dict[str, str]
    secret_values: tuple[str, ...]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or .ci/browser-setup.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def demo_kernel(tmp_path: Path) -> Iterator[DemoKernel]:
    """The Kaggle fake with the demo data, plus a planted legacy key that must stay hidden."""
    planted_key = "planted-" + secrets.token_hex(12)
    with notebook_runner.offline_services("local", tmp_path / "services") as service_env:
        env = notebook_runner.kernel_environment(tmp_path / "services", service_env)
        env.update({"KAGGLE_USERNAME": "notebook-user", "KAGGLE_KEY": planted_key})
        values = [planted_key, *(v for k, v in service_env.items() if _is_secret(k))]
        yield DemoKernel(env=env, secret_values=tuple(values))


def _is_secret(name: str) -> bool:
    return name.endswith(("_TOKEN", "_KEY")) or "SECRET" in name


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots land in $MLENV_BROWSER_ARTIFACTS when set (CI keeps them), else a tmp dir."""
    chosen = os.environ.get("MLENV_BROWSER_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def lab_python() -> Path:
    try:
        import jupyterlab
    except ImportError:
        pytest.skip("jupyterlab is not installed in this environment (pip install 'jupyterlab>=4')")
    if not jupyterlab.__version__.startswith("4."):
        pytest.skip(f"JupyterLab 4 is needed, found {jupyterlab.__version__}")
    return Path(sys.executable)


@pytest.fixture(scope="session")
def classic_python() -> Path:
    venv = Path(os.environ.get("MLENV_NB6_VENV", REPO_ROOT / ".venv-nb6"))
    python_bin = venv / "bin" / "python"
    if not python_bin.exists():
        pytest.skip(
            f"no classic Notebook 6.5 environment at {venv} (tests/browser/make_nb6_env.sh)"
        )
    return python_bin
