"""Host and frontend detection as pure functions of env, filesystem and shell."""

from __future__ import annotations

from typing import Any

import pytest

from mlenv_magics import MlenvError
from mlenv_magics.runtime import detect_frontend, detect_host, detect_runtime


def nothing_exists(path: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("env", "host"),
    [
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "kaggle"),
        ({"DATABRICKS_RUNTIME_VERSION": "15.4"}, "databricks"),
        ({"COLAB_RELEASE_TAG": "release-colab_20260917-060051_RC00"}, "colab"),
        ({"COLAB_BACKEND_VERSION": "next"}, "colab"),
        ({"HOME": "/home/studio-lab-user"}, "sagemaker-studio-lab"),
        ({"HOME": "/home/sagemaker-user"}, "sagemaker-studio"),
        ({"PAPERSPACE_NOTEBOOK_REPO_ID": "abc"}, "paperspace"),
        ({"LIGHTNING_CLOUDSPACE_HOST": "x.lightning.ai"}, "lightning"),
        ({"DEEPNOTE_PROJECT_ID": "p1"}, "deepnote"),
        ({"BINDER_SERVICE_HOST": "10.0.0.1"}, "binder"),
        ({"CI_RESOURCE_GROUP": "rg", "CI_WORKSPACE": "ws"}, "azureml"),
        ({"CODESPACES": "true"}, "codespaces"),
        ({}, "local"),
    ],
)
def test_each_host_is_recognised_by_its_signal(env: dict[str, str], host: str) -> None:
    assert detect_host(env, nothing_exists)[0] == host


def test_kaggle_wins_over_inherited_colab_signals() -> None:
    env = {"KAGGLE_KERNEL_RUN_TYPE": "Batch", "COLAB_RELEASE_TAG": "inherited-from-base-image"}
    host, run_type, _, signals = detect_host(env, nothing_exists)
    assert (host, run_type, signals) == ("kaggle", "batch", ("KAGGLE_KERNEL_RUN_TYPE",))


def test_databricks_wins_over_colab() -> None:
    env = {"DATABRICKS_RUNTIME_VERSION": "15.4", "COLAB_RELEASE_TAG": "x"}
    assert detect_host(env, nothing_exists)[0] == "databricks"


def test_colab_enterprise_is_a_colab_variant() -> None:
    host, _, variant, _ = detect_host({"VERTEX_PRODUCT": "COLAB_ENTERPRISE"}, nothing_exists)
    assert (host, variant) == ("colab", "Colab Enterprise")


def test_gpu_environment_variables_do_not_make_a_host() -> None:
    # Colab CPU runtimes and plain CUDA images carry these; they prove nothing.
    env = {"NVIDIA_VISIBLE_DEVICES": "all", "CUDA_VERSION": "12.5.1", "COLAB_GPU": ""}
    assert detect_host(env, nothing_exists)[0] == "local"


def test_studio_lab_home_found_on_disk() -> None:
    assert detect_host({}, lambda p: p == "/home/studio-lab-user")[0] == "sagemaker-studio-lab"


def test_colab_shell_class_is_a_signal() -> None:
    shell_class = type("Shell", (), {"__module__": "google.colab._shell"})
    assert detect_host({}, nothing_exists, shell_class())[0] == "colab"


def test_override_forces_the_host() -> None:
    runtime = detect_runtime({"MLENV_RUNTIME": "kaggle"}, nothing_exists, shell=None)
    assert (runtime.host, runtime.forced, runtime.run_type) == ("kaggle", True, "interactive")


def test_override_keeps_the_detected_details_when_it_agrees() -> None:
    env = {"MLENV_RUNTIME": "Kaggle", "KAGGLE_KERNEL_RUN_TYPE": "Batch"}
    runtime = detect_runtime(env, nothing_exists)
    assert (runtime.host, runtime.run_type, runtime.is_batch) == ("kaggle", "batch", True)


def test_unknown_override_is_a_clear_error() -> None:
    with pytest.raises(MlenvError, match=r"(?s)MLENV_RUNTIME=.mars.*Use one of"):
        detect_runtime({"MLENV_RUNTIME": "mars"}, nothing_exists)


def test_detection_is_not_frozen_at_import() -> None:
    assert detect_runtime({}, nothing_exists).host == "local"
    assert detect_runtime({"COLAB_RELEASE_TAG": "x"}, nothing_exists).host == "colab"


# Frontend detection uses the shell's class hierarchy and the request metadata.


class ZMQInteractiveShell:
    def __init__(self, metadata: dict[str, Any] | None = None, user_ns: Any = None) -> None:
        parent = {"metadata": metadata or {}}
        self.kernel = type("Kernel", (), {"get_parent": lambda self: parent})()
        self.user_ns = user_ns or {}


class TerminalInteractiveShell:
    pass


class ColabShell(ZMQInteractiveShell):
    pass


ColabShell.__module__ = "google.colab._shell"


def test_frontend_terminal() -> None:
    assert detect_frontend("local", None, {}, TerminalInteractiveShell()) == "terminal"


def test_frontend_plain_python_without_shell() -> None:
    assert detect_frontend("local", None, {}, None) == "python"


def test_frontend_vscode_from_cell_id() -> None:
    shell = ZMQInteractiveShell({"cellId": "vscode-notebook-cell:/x.ipynb#W1sZmlsZQ=="})
    assert detect_frontend("colab", None, {}, shell) == "vscode"


def test_frontend_vscode_from_injected_name() -> None:
    shell = ZMQInteractiveShell(user_ns={"__vsc_ipynb_file__": "/x.ipynb"})
    assert detect_frontend("local", None, {}, shell) == "vscode"


def test_frontend_jupyterlab_from_metadata() -> None:
    shell = ZMQInteractiveShell({"deletedCells": [], "recordTiming": False})
    assert detect_frontend("local", None, {}, shell) == "jupyterlab"


def test_frontend_colab_web() -> None:
    assert detect_frontend("colab", None, {}, ColabShell()) == "colab"


def test_frontend_kaggle_batch_is_non_interactive() -> None:
    assert detect_frontend("kaggle", "batch", {}, ZMQInteractiveShell()) == "non-interactive"
    runtime = detect_runtime({"KAGGLE_KERNEL_RUN_TYPE": "Batch"}, nothing_exists, shell=None)
    assert runtime.is_batch and not runtime.widgets_useful


def test_frontend_kaggle_editor() -> None:
    assert detect_frontend("kaggle", "interactive", {}, ZMQInteractiveShell()) == "kaggle"


def test_frontend_papermill_is_non_interactive() -> None:
    env = {"PAPERMILL_OUTPUT_PATH": "/tmp/out.ipynb"}
    assert detect_frontend("local", None, env, ZMQInteractiveShell()) == "non-interactive"


def test_frontend_generic_jupyter() -> None:
    assert detect_frontend("local", None, {}, ZMQInteractiveShell()) == "jupyter"
