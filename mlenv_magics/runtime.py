"""Where is this notebook running? Host and frontend detection.

Both are pure functions of the environment, the filesystem and the shell object,
each injectable, and are evaluated on every call (never cached at import), so a
test or ``MLENV_RUNTIME`` can change the answer at any time.

The host order follows the signals' strength: Kaggle first (its image is built
from Colab's, so Colab signals may leak into it), then Databricks, then Colab,
then the smaller hosted services, and ``local`` when nothing matches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOSTS: dict[str, str] = {
    "kaggle": "Kaggle",
    "databricks": "Databricks",
    "colab": "Google Colab",
    "sagemaker-studio-lab": "SageMaker Studio Lab",
    "sagemaker-studio": "SageMaker Studio",
    "paperspace": "Paperspace Gradient",
    "lightning": "Lightning Studio",
    "deepnote": "Deepnote",
    "binder": "Binder",
    "azureml": "Azure ML",
    "codespaces": "GitHub Codespaces",
    "local": "local machine",
}

HOST_ALIASES = {
    "kaggle": "kaggle",
    "colab": "colab",
    "google-colab": "colab",
    "colab-enterprise": "colab",
    "databricks": "databricks",
    "studiolab": "sagemaker-studio-lab",
    "sagemaker-studio-lab": "sagemaker-studio-lab",
    "sagemaker": "sagemaker-studio",
    "sagemaker-studio": "sagemaker-studio",
    "paperspace": "paperspace",
    "gradient": "paperspace",
    "lightning": "lightning",
    "deepnote": "deepnote",
    "binder": "binder",
    "azureml": "azureml",
    "azure-ml": "azureml",
    "codespaces": "codespaces",
    "local": "local",
}

FRONTENDS: dict[str, str] = {
    "colab": "Colab web",
    "kaggle": "Kaggle editor",
    "vscode": "VS Code",
    "jupyterlab": "JupyterLab / Notebook 7",
    "jupyter": "Jupyter",
    "pycharm": "PyCharm",
    "spyder": "Spyder",
    "qtconsole": "Qt console",
    "terminal": "terminal IPython",
    "non-interactive": "non-interactive (no one watching)",
    "python": "plain Python",
}

PathExists = Callable[[str], bool]


@dataclass(frozen=True)
class Runtime:
    """The detected host and frontend, with the signals that decided them."""

    host: str
    frontend: str
    run_type: str | None = None
    variant: str | None = None
    forced: bool = False
    signals: tuple[str, ...] = field(default_factory=tuple)

    @property
    def host_label(self) -> str:
        label = HOSTS.get(self.host, self.host)
        return f"{label} ({self.variant})" if self.variant else label

    @property
    def frontend_label(self) -> str:
        return FRONTENDS.get(self.frontend, self.frontend)

    @property
    def is_batch(self) -> bool:
        """Nobody is watching: a Kaggle Batch run or a headless execution."""
        return self.run_type == "batch" or self.frontend == "non-interactive"

    @property
    def widgets_useful(self) -> bool:
        """Whether a live widget view can be seen by someone."""
        return self.frontend in {"colab", "kaggle", "vscode", "jupyterlab", "jupyter"} and (
            not self.is_batch
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "host_label": self.host_label,
            "run_type": self.run_type,
            "variant": self.variant,
            "frontend": self.frontend,
            "frontend_label": self.frontend_label,
            "forced": self.forced,
            "signals": list(self.signals),
        }


def _exists(path: str) -> bool:
    return os.path.exists(path)


def detect_host(
    env: Mapping[str, str] | None = None,
    path_exists: PathExists = _exists,
    shell: Any = None,
) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    """Return ``(host, run_type, variant, signals)`` from the strongest signals."""
    env = os.environ if env is None else env
    shell_module = type(shell).__module__ if shell is not None else ""

    run_type = env.get("KAGGLE_KERNEL_RUN_TYPE", "")
    if run_type:
        return "kaggle", run_type.strip().lower(), None, ("KAGGLE_KERNEL_RUN_TYPE",)
    if env.get("DATABRICKS_RUNTIME_VERSION"):
        return "databricks", None, None, ("DATABRICKS_RUNTIME_VERSION",)
    colab_signals = tuple(
        name for name in ("COLAB_RELEASE_TAG", "COLAB_BACKEND_VERSION") if env.get(name)
    )
    if shell_module.startswith("google.colab"):
        colab_signals += ("google.colab shell",)
    if env.get("VERTEX_PRODUCT") == "COLAB_ENTERPRISE":
        return "colab", None, "Colab Enterprise", (*colab_signals, "VERTEX_PRODUCT")
    if colab_signals:
        return "colab", None, None, colab_signals
    home = env.get("HOME", "")
    if home == "/home/studio-lab-user" or path_exists("/home/studio-lab-user"):
        return "sagemaker-studio-lab", None, None, ("/home/studio-lab-user",)
    if home == "/home/sagemaker-user" or (
        env.get("SAGEMAKER_INTERNAL_IMAGE_URI") and path_exists("/opt/ml")
    ):
        return "sagemaker-studio", None, None, ("SAGEMAKER_INTERNAL_IMAGE_URI",)
    for host, names in (
        ("paperspace", ("PAPERSPACE_NOTEBOOK_REPO_ID", "PAPERSPACE_CLUSTER_ID")),
        ("lightning", ("LIGHTNING_CLOUDSPACE_HOST", "LIGHTNING_CLOUDSPACE_ID")),
        ("deepnote", ("DEEPNOTE_PROJECT_ID",)),
        ("binder", ("BINDER_SERVICE_HOST", "BINDER_REQUEST")),
        ("azureml", ("CI_RESOURCE_GROUP", "CI_WORKSPACE", "AZUREML_RUN_ID")),
        ("codespaces", ("CODESPACES", "CODESPACE_NAME")),
    ):
        found = tuple(name for name in names if env.get(name))
        if found:
            return host, None, None, found
    return "local", None, None, ()


def _parent_metadata(shell: Any) -> Mapping[str, Any]:
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return {}
    try:
        if hasattr(kernel, "get_parent"):
            parent = kernel.get_parent()
        else:
            parent = getattr(kernel, "_parent_header", {})
    except Exception:
        return {}
    metadata = (parent or {}).get("metadata") or {}
    return metadata if isinstance(metadata, Mapping) else {}


def detect_frontend(
    host: str,
    run_type: str | None,
    env: Mapping[str, str] | None = None,
    shell: Any = None,
) -> str:
    """Which program shows the output. Separate from the host (Colab runs in VS Code too)."""
    env = os.environ if env is None else env
    if shell is None:
        return "python"
    mro = {cls.__name__ for cls in type(shell).__mro__}
    if "TerminalInteractiveShell" in mro:
        return "terminal"
    if "ZMQInteractiveShell" not in mro:
        return "non-interactive" if env.get("PAPERMILL_OUTPUT_PATH") else "python"
    cell_id = str(_parent_metadata(shell).get("cellId", ""))
    if cell_id.startswith("vscode-notebook-cell") or "__vsc_ipynb_file__" in getattr(
        shell, "user_ns", {}
    ):
        return "vscode"
    if run_type == "batch" or env.get("PAPERMILL_OUTPUT_PATH"):
        return "non-interactive"
    if host == "kaggle":
        return "kaggle"
    if host == "colab" and type(shell).__module__.startswith("google.colab"):
        return "colab"
    if env.get("PYCHARM_HOSTED"):
        return "pycharm"
    if env.get("SPYDER_ARGS"):
        return "spyder"
    if env.get("QT_API") and not env.get("JPY_PARENT_PID"):
        return "qtconsole"
    metadata = _parent_metadata(shell)
    if "deletedCells" in metadata or "recordTiming" in metadata:
        return "jupyterlab"
    if host == "colab":
        return "colab"
    return "jupyter"


def detect_runtime(
    env: Mapping[str, str] | None = None,
    path_exists: PathExists = _exists,
    shell: Any = None,
) -> Runtime:
    """Detect the host and the frontend. ``MLENV_RUNTIME`` overrides the host.

    With no ``shell`` given, the running IPython shell is used when there is one.
    """
    env = os.environ if env is None else env
    if shell is None:
        shell = current_shell()
    host, run_type, variant, signals = detect_host(env, path_exists, shell)
    forced = False
    override = env.get("MLENV_RUNTIME", "").strip().lower()
    if override:
        if override not in HOST_ALIASES:
            from .errors import MlenvError

            known = ", ".join(sorted(set(HOST_ALIASES.values())))
            raise MlenvError(
                f"MLENV_RUNTIME={override!r} is not a host mlenv knows.",
                fix=f"Use one of: {known}, or unset MLENV_RUNTIME to detect the host.",
            )
        forced_host = HOST_ALIASES[override]
        if forced_host != host:
            run_type = (
                (env.get("KAGGLE_KERNEL_RUN_TYPE") or "interactive").lower()
                if forced_host == "kaggle"
                else None
            )
            variant = "Colab Enterprise" if override == "colab-enterprise" else None
        host, forced, signals = forced_host, True, ("MLENV_RUNTIME",)
    frontend = detect_frontend(host, run_type, env, shell)
    return Runtime(
        host=host,
        frontend=frontend,
        run_type=run_type,
        variant=variant,
        forced=forced,
        signals=signals,
    )


def current_shell() -> Any:
    """The running IPython shell, or None, without importing IPython."""
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    get = getattr(ipython, "get_ipython", None)
    return get() if get else None


def data_roots(runtime: Runtime, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Folders where data lives on this host (only those that exist, plus the cache)."""
    from . import config

    env = os.environ if env is None else env
    roots: dict[str, str] = {}
    candidates: list[tuple[str, Path]] = []
    if runtime.host == "kaggle":
        candidates += [
            ("kaggle input", config.kaggle_input_root(env)),
            ("kaggle working", Path("/kaggle/working")),
        ]
    if runtime.host == "colab":
        candidates += [
            ("colab content", Path("/content")),
            ("google drive", Path("/content/drive")),
        ]
        if env.get("TBE_RUNTIME_ADDR"):
            candidates.append(("colab kaggle cache", config.colab_cache_mount_root(env)))
    for name, path in candidates:
        if path.exists():
            roots[name] = str(path)
    roots["mlenv cache"] = str(config.cache_root(env))
    return roots
