"""Start a Jupyter server (JupyterLab or classic Notebook 6.5) on loopback for browser tests."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 90


@dataclass(frozen=True)
class JupyterServer:
    kind: str  # "lab" or "classic"
    port: int
    token: str
    root: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str, workspace: str | None = None) -> str:
        """``workspace`` (JupyterLab only): open in that fresh workspace, not the default
        one, so notebooks opened earlier on the same server are not restored beside it."""
        route = "lab/tree" if self.kind == "lab" else "notebooks"
        if self.kind == "lab" and workspace:
            route = f"lab/workspaces/{workspace}/tree"
        return f"{self.base_url}/{route}/{name}?token={self.token}"


# Straight to loopback, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lab_settings(settings_dir: Path) -> None:
    # Render every cell (no windowing), so the page holds all outputs at once.
    tracker = settings_dir / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}), encoding="utf-8"
    )
    news = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}),
        encoding="utf-8",
    )


def _command(kind: str, python_bin: Path, port: int, token: str, root: Path) -> list[str]:
    if kind == "lab":
        return [
            str(python_bin),
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
    return [
        str(python_bin),
        "-m",
        "notebook",
        "--no-browser",
        "--NotebookApp.ip=127.0.0.1",
        f"--NotebookApp.port={port}",
        "--NotebookApp.port_retries=0",
        "--NotebookApp.allow_root=True",
        f"--NotebookApp.notebook_dir={root}",
        f"--NotebookApp.token={token}",
    ]


def _wait_until_ready(server: JupyterServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"{server.base_url}/api/status?token={server.token}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the {server.kind} server exited early:\n{server.log.read_text()[-3000:]}"
            )
        try:
            with DIRECT.open(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"the {server.kind} server did not answer within {START_TIMEOUT_S} s:\n"
        f"{server.log.read_text()[-3000:]}"
    )


@contextmanager
def jupyter_server(
    kind: str,
    python_bin: Path,
    workdir: Path,
    notebooks: list[Path],
    kernel_env: Mapping[str, str],
) -> Iterator[JupyterServer]:
    """Serve copies of ``notebooks`` from a fresh root; kernels inherit ``kernel_env``."""
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks:
        shutil.copy(notebook, root / notebook.name)
    env = dict(kernel_env)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(workdir / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"),
        }
    )
    _lab_settings(workdir / "lab-settings")
    server = JupyterServer(kind, free_port(), secrets.token_hex(16), root, workdir / f"{kind}.log")
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            _command(kind, python_bin, server.port, server.token, root),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_until_ready(server, process)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("MLENV_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")
