"""The exact steps to get an accelerator on this host, for when none was found.

Steps are short strings with two marks that every renderer understands: ``[[Runtime → Change
runtime type]]`` is a menu path or button (set off in HTML, plain in text) and ```--gpus all```
is code (``<code>`` in HTML, plain in text). :func:`plain` removes the marks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Situation:
    """What the probes saw, as far as the advice depends on it."""

    host: str
    wants: str = "gpu"
    frontend: str | None = None
    wsl: bool = False
    container: bool = False
    driver_problem: str | None = None
    driver_fixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Guidance:
    """How to get the accelerator: a title, numbered steps, and facts worth knowing."""

    title: str
    steps: tuple[str, ...]
    facts: tuple[str, ...] = field(default=())

    def text(self) -> str:
        lines = [plain(self.title)]
        lines += [f"{number}. {plain(step)}" for number, step in enumerate(self.steps, 1)]
        lines += [plain(fact) for fact in self.facts]
        return "\n".join(lines)


_MARK = re.compile(r"\[\[(.+?)\]\]|`([^`]+)`")


def segments(text: str) -> list[tuple[str, str]]:
    """``[("text", ...), ("menu", ...), ("code", ...)]`` in order."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _MARK.finditer(text):
        if match.start() > position:
            parts.append(("text", text[position : match.start()]))
        if match.group(1) is not None:
            parts.append(("menu", match.group(1)))
        else:
            parts.append(("code", match.group(2)))
        position = match.end()
    if position < len(text):
        parts.append(("text", text[position:]))
    return parts


def plain(text: str) -> str:
    return "".join(value for _, value in segments(text))


_COLAB = Guidance(
    "Get a GPU on Google Colab",
    (
        "Open [[Runtime → Change runtime type]] (also in the ▾ menu next to RAM/Disk).",
        "Set Hardware accelerator to [[T4 GPU]] and press [[Save]].",
        "The runtime restarts and loses its variables and files outside Drive: rerun the"
        " notebook from the top.",
    ),
    (
        "Offered: T4 GPU (free, subject to availability and usage limits); L4, A100, H100 and"
        " G4 with paid plans; TPU v5e-1 (free).",
    ),
)
_COLAB_TPU = Guidance(
    "Get a TPU on Google Colab",
    (
        "Open [[Runtime → Change runtime type]].",
        "Set Hardware accelerator to [[v5e-1 TPU]] and press [[Save]].",
        "The runtime restarts and loses all state: rerun the notebook from the top.",
    ),
)
_COLAB_VSCODE = Guidance(
    "Get a GPU for Colab in VS Code",
    (
        "A runtime's type cannot be changed in place: run the command [[Colab: Remove Server]].",
        "Then [[Select Kernel → Colab → New Colab Server]] and pick a GPU variant (for"
        " example T4).",
        "The new server starts empty: rerun the notebook.",
    ),
)
_KAGGLE = Guidance(
    "Get a GPU on Kaggle",
    (
        "In the notebook editor open [[Settings → Accelerator]] (or the right sidebar's"
        " [[Session options → Accelerator]]; [[View → Show sidebar]] if it is hidden).",
        "Choose [[GPU T4 x2]] (or [[TPU v5e-8]]); the session restarts.",
    ),
    (
        "Offered: GPU T4 x2 (two 16 GB T4s; frameworks use one unless told otherwise) and"
        " TPU v5e-8. The P100 is being phased out and today's torch has no kernels for it.",
        "GPU and TPU time is limited per week; Kaggle may ask for phone verification first.",
    ),
)
_KAGGLE_TPU = Guidance(
    "Get a TPU on Kaggle",
    (
        "Open [[Settings → Accelerator]] (or [[Session options → Accelerator]] in the right"
        " sidebar).",
        "Choose [[TPU v5e-8]]; the session restarts.",
    ),
)
_KAGGLE_BATCH = (
    "This is a Kaggle Batch run (Save Version / submission): it uses the accelerator saved in"
    " the notebook's settings. Set [[Settings → Accelerator]] in the editor, then save a new"
    " version."
)
_HOSTS = {
    "lightning": ("Lightning Studio", "Switch the Studio's machine to a GPU machine (machine"
                  " selector in the Studio), then rerun."),
    "paperspace": ("Paperspace Gradient", "Stop the notebook, change the machine type to a GPU"
                   " machine, then start it again."),
    "sagemaker-studio-lab": ("SageMaker Studio Lab", "Stop the runtime, choose compute type"
                             " [[GPU]], then [[Start runtime]]."),
    "sagemaker-studio": ("SageMaker Studio", "Change the instance type to a GPU instance (for"
                         " example `ml.g4dn.xlarge`)."),
    "databricks": ("Databricks", 'Attach the notebook to a cluster with a GPU node type and an'
                   ' "ML … GPU" runtime.'),
    "azureml": ("Azure ML", "Use a compute instance with an NC- or ND-series VM size."),
    "deepnote": ("Deepnote", "Pick a GPU machine in the environment settings' machine picker."),
    "binder": ("Binder", "Binder never offers a GPU. Open the notebook in Google Colab or on"
               " Kaggle instead."),
    "codespaces": ("GitHub Codespaces", "Choose a GPU machine type when creating the codespace"
                   " (if your account offers one), or open the notebook in Google Colab or on"
                   " Kaggle."),
}  # fmt: skip


def _local(situation: Situation) -> Guidance:
    steps = list(situation.driver_fixes)
    if situation.wsl:
        steps.append(
            "WSL2: install the NVIDIA driver on Windows (not inside Linux); WSL exposes it"
            " through `/dev/dxg`. Then `nvidia-smi` must work inside WSL."
        )
    else:
        steps.append(
            "Install the NVIDIA driver for your GPU; `nvidia-smi` ships with the driver (not"
            " with CUDA) and must work in a terminal before any framework can use the GPU."
        )
    if situation.container:
        steps.append(
            "This looks like a container: it must be started with `--gpus all` (NVIDIA"
            " Container Toolkit on the host)."
        )
    else:
        steps.append(
            "Docker: start the container with `--gpus all` (NVIDIA Container Toolkit on the host)."
        )
    steps.append(
        "VS Code / Jupyter: pick a kernel whose Python has the CUDA build of your framework."
    )
    return Guidance(
        "Get a GPU on this machine",
        tuple(steps),
        ("No GPU at hand? Open the notebook in Google Colab or on Kaggle.",),
    )


def guidance(situation: Situation) -> Guidance:
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
        name, step = _HOSTS[host]
        return Guidance(f"Get a GPU on {name}", (step,))
    if tpu:
        return Guidance(
            "Get a TPU",
            (
                "TPUs exist only on Google Cloud TPU VMs, Colab ([[Runtime → Change runtime"
                " type → v5e-1 TPU]]) and Kaggle ([[Settings → Accelerator → TPU v5e-8]]).",
            ),
        )
    return _local(situation)


def batch_note(host: str, run_type: str | None) -> str | None:
    if host == "kaggle" and run_type == "batch":
        return _KAGGLE_BATCH
    return None
