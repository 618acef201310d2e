"""The exact steps to get an accelerator on this host, for when none was found."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Situation:
    """What the probes saw, as far as the advice depends on it."""

    host: str
    wants: str = "gpu"
    frontend: str | None = None
    wsl: bool = False
    container: bool = False
    driver_problem: str | None = None
    tpu_runtime: bool = False


_COLAB = (
    "Google Colab: Runtime → Change runtime type → Hardware accelerator → T4 GPU → Save.\n"
    "The same dialog opens from the ▾ menu next to the RAM/Disk indicator.\n"
    "Changing the runtime type restarts the VM: all variables and files outside Drive are lost,"
    " so rerun the notebook from the top.\n"
    "Offered: T4 GPU (free, subject to availability and usage limits); L4, A100, H100 and"
    " G4 with paid plans; TPU v5e-1 (free)."
)
_COLAB_TPU = (
    "Google Colab: Runtime → Change runtime type → Hardware accelerator → v5e-1 TPU → Save"
    " (restarts the VM; all state is lost)."
)
_COLAB_VSCODE = (
    "Colab in VS Code: a runtime's type cannot be changed in place. Run the command"
    " 'Colab: Remove Server', then Select Kernel → Colab → New Colab Server and pick a GPU"
    " variant (for example T4). The new server starts empty: rerun the notebook."
)
_KAGGLE = (
    "Kaggle: in the notebook editor open Settings → Accelerator and choose GPU T4 x2"
    " (or TPU v5e-8), or use the right sidebar's Session options → Accelerator"
    " (View → Show sidebar if it is hidden). The session restarts.\n"
    "Offered: GPU T4 x2 (two 16 GB T4s; frameworks use one unless told otherwise) and"
    " TPU v5e-8. The P100 is being phased out and today's torch has no kernels for it.\n"
    "GPU and TPU time is limited per week; Kaggle may ask for phone verification first."
)
_KAGGLE_TPU = (
    "Kaggle: Settings → Accelerator → TPU v5e-8 (or Session options → Accelerator in the"
    " right sidebar). The session restarts."
)
_KAGGLE_BATCH = (
    "This is a Kaggle Batch run (Save Version / submission): it uses the accelerator saved in"
    " the notebook's settings. Set Settings → Accelerator in the editor, then save a new version."
)
_HOSTS = {
    "lightning": "Lightning Studio: switch the Studio's machine to a GPU machine"
    " (machine selector in the Studio), then rerun.",
    "paperspace": "Paperspace Gradient: stop the notebook, change the machine type to a GPU"
    " machine, then start it again.",
    "sagemaker-studio-lab": "SageMaker Studio Lab: stop the runtime, choose compute type GPU,"
    " then Start runtime.",
    "sagemaker-studio": "SageMaker Studio: change the instance type to a GPU instance"
    " (for example ml.g4dn.xlarge).",
    "databricks": "Databricks: attach the notebook to a cluster with a GPU node type and an"
    ' "ML … GPU" runtime.',
    "azureml": "Azure ML: use a compute instance with an NC- or ND-series VM size.",
    "deepnote": "Deepnote: pick a GPU machine in the environment settings' machine picker.",
    "binder": "Binder never offers a GPU. Open the notebook in Google Colab or on Kaggle instead.",
    "codespaces": "GitHub Codespaces: choose a GPU machine type when creating the codespace"
    " (if your account offers one), or open the notebook in Google Colab or on Kaggle.",
}


def _local(situation: Situation) -> str:
    lines = []
    if situation.driver_problem:
        lines.append(f"What failed: {situation.driver_problem}.")
    if situation.wsl:
        lines.append(
            "WSL2: install the NVIDIA driver on Windows (not inside Linux); WSL exposes it"
            " through /dev/dxg. Then `nvidia-smi` must work inside WSL."
        )
    else:
        lines.append(
            "Install the NVIDIA driver for your GPU; `nvidia-smi` ships with the driver (not"
            " with CUDA) and must work in a terminal before any framework can use the GPU."
        )
    lines.append(
        "Docker: start the container with `--gpus all` (NVIDIA Container Toolkit on the host)."
        if not situation.container
        else "This looks like a container: it must be started with `--gpus all` (NVIDIA"
        " Container Toolkit on the host)."
    )
    lines.append(
        "VS Code / Jupyter: pick a kernel whose Python has the CUDA build of your framework."
    )
    lines.append("No GPU at hand? Open the notebook in Google Colab or on Kaggle.")
    return "\n".join(lines)


def guidance_text(situation: Situation) -> str:
    """Steps to enable the wanted accelerator (``gpu`` or ``tpu``) on ``situation.host``."""
    host = situation.host
    tpu = situation.wants == "tpu"
    if host == "kaggle":
        return _KAGGLE_TPU if tpu else _KAGGLE
    if host == "colab":
        if situation.frontend == "vscode" and not tpu:
            return _COLAB_VSCODE
        return _COLAB_TPU if tpu else _COLAB
    if host in _HOSTS:
        return _HOSTS[host]
    if tpu:
        return (
            "TPUs exist only on Google Cloud TPU VMs, Colab (Runtime → Change runtime type →"
            " v5e-1 TPU) and Kaggle (Settings → Accelerator → TPU v5e-8)."
        )
    return _local(situation)


def batch_note(host: str, run_type: str | None) -> str | None:
    if host == "kaggle" and run_type == "batch":
        return _KAGGLE_BATCH
    return None
