"""Run a notebook headless against the offline fakes, and keep what it showed.

    python -m mlenv_magics.testing.notebook_runner notebooks/quickstart.ipynb \
        [--out DIR] [--host kaggle|colab|local]

The notebook runs in a real Jupyter kernel (this interpreter, through ipykernel) with the
Kaggle fake serving, on loopback, its demo data and small stand-ins for the public data the
example notebooks use (``uciml/iris``, ``competition:titanic``). ``--host kaggle`` or
``--host colab`` simulates that host with the variables its runtime sets. Any cell error,
except in cells tagged ``raises-exception``, fails the run (exit status 1). The executed
notebook and a static HTML page are written to ``notebooks/out/`` (or ``--out``).

The HTML page is meant to be read without a kernel or network: every widget output is
rendered as the text or HTML its object offers, or as text built from the saved widget
state (progress bars become ``name: 100% |#####| ...`` lines).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import html
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlenvError

HOST_CHOICES = ("local", "kaggle", "colab")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
KERNEL_NAME = "mlenv-notebook-python"
CELL_TIMEOUT_S = 180
STARTUP_TIMEOUT_S = 90

# Variables through which a host announces itself or hands out credentials. The kernel
# starts without them, so the run depends only on the simulated host and the fakes.
_HOST_VARIABLE_PREFIXES = ("KAGGLE_", "COLAB_", "MLENV_", "GOOGLE_", "TPU_", "PAPERSPACE_")
_HOST_VARIABLES = {
    "TBE_RUNTIME_ADDR",
    "DATABRICKS_RUNTIME_VERSION",
    "VERTEX_PRODUCT",
    "SAGEMAKER_INTERNAL_IMAGE_URI",
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
    "ISTPUVM",
    "PAPERMILL_OUTPUT_PATH",
    "VSCODE_PID",
    "VSCODE_CWD",
    "PYCHARM_HOSTED",
    "SPYDER_ARGS",
    "JPY_SESSION_NAME",
}
COLAB_RELEASE_TAG = "release-colab-offline-demo"
IRIS_DATASET = "uciml/iris"
TITANIC_COMPETITION = "titanic"


class NotebookRunError(MlenvError):
    """The notebook could not be run, or one of its cells failed."""


@dataclass(frozen=True)
class NotebookRun:
    """Where a finished run left its results."""

    source: Path
    executed: Path
    html: Path
    host: str
    seconds: float
    cells: int

    def __repr__(self) -> str:
        return (
            f"{self.source.name}: {self.cells} cells ran on a simulated {self.host} host"
            f" in {self.seconds:.1f} s\n  notebook  {self.executed}\n  html      {self.html}"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.to_dict().items()
        )
        return f"<table>{rows}</table>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "executed": str(self.executed),
            "html": str(self.html),
            "host": self.host,
            "seconds": round(self.seconds, 3),
            "cells": self.cells,
        }


# -- environment -------------------------------------------------------------------------


def clean_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without any host signal or credential variable."""
    return {
        name: value
        for name, value in base.items()
        if name not in _HOST_VARIABLES and not name.startswith(_HOST_VARIABLE_PREFIXES)
    }


def kernel_environment(
    workdir: Path,
    service_env: Mapping[str, str],
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of the notebook's kernel: isolated home and caches, then the
    fakes' variables (which carry the simulated host's signals)."""
    env = clean_environment(os.environ if base is None else base)
    home = workdir / "home"
    for folder in (home, home / ".config", home / ".cache"):
        folder.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "MLENV_CACHE_DIR": str(workdir / "mlenv-cache"),
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    loopback = "127.0.0.1,localhost,::1"
    for name in ("NO_PROXY", "no_proxy"):
        # The fakes live on loopback: a proxy from the developer's shell must not see them.
        env[name] = ",".join(part for part in (env.get(name), loopback) if part)
    env.update(service_env)
    return env


def notebook_host(notebook: Any, requested: str | None) -> str:
    """``--host`` if given, else the host the notebook asks for in its metadata."""
    if requested:
        return requested
    wanted = notebook.metadata.get("mlenv", {}).get("simulate_host", "local")
    return str(wanted)


@contextlib.contextmanager
def offline_services(host: str, workdir: Path) -> Iterator[dict[str, str]]:
    """Start the Kaggle fake with its demo data; yield the variables a kernel needs.

    On a simulated Kaggle host the fake also answers the in-notebook attach calls and
    mounts attached data under the input root; on a simulated Colab host it serves
    Colab's Kaggle cache.
    """
    from . import kaggle_fake

    kaggle_mount = workdir / "kaggle-input"
    colab_mount = workdir / "colab-kaggle-cache"
    for folder in (kaggle_mount, colab_mount):
        folder.mkdir(parents=True, exist_ok=True)
    fake = kaggle_fake.KaggleFake(mount_root=kaggle_mount, colab_mount_root=colab_mount)
    with fake:
        kaggle_fake.seed_demo(fake)
        seed_notebook_examples(fake)
        service_env = fake.env()
        if host == "kaggle":
            service_env.update(fake.kaggle_notebook_env("Interactive"))
        elif host == "colab":
            service_env.update(fake.colab_env())
            service_env["COLAB_RELEASE_TAG"] = COLAB_RELEASE_TAG
        yield service_env


def seed_notebook_examples(fake: Any) -> None:
    """Small stand-ins for the public Kaggle data the example notebooks use, under the
    same names, so the notebooks read the same online and offline."""
    header = "Id,SepalLengthCm,SepalWidthCm,PetalLengthCm,PetalWidthCm,Species\n"
    species = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
    rows = [
        f"{i + 1},{4.5 + (i % 7) * 0.3:.1f},{2.5 + (i % 5) * 0.2:.1f},"
        f"{1.2 + (i % 3) * 2.0:.1f},{0.2 + (i % 3) * 0.8:.1f},{species[i % 3]}\n"
        for i in range(150)
    ]
    fake.add_dataset(
        IRIS_DATASET, files={"Iris.csv": (header + "".join(rows)).encode()}, title="Iris Species"
    )
    passengers = ["PassengerId,Survived,Pclass,Sex,Age,Fare\n"]
    passengers += [
        f"{i + 1},{(i * 7) % 3 == 0:d},{1 + i % 3},{('male', 'female')[i % 2]},"
        f"{18 + (i * 11) % 50},{7.25 + (i % 9) * 4.5:.2f}\n"
        for i in range(90)
    ]
    tests = ["PassengerId,Pclass,Sex,Age,Fare\n"]
    tests += [f"{i + 901},{1 + i % 3},{('male', 'female')[i % 2]},30,8.05\n" for i in range(30)]
    fake.add_competition(
        TITANIC_COMPETITION,
        {"train.csv": "".join(passengers).encode(), "test.csv": "".join(tests).encode()},
    )
    fake.colab_cached.add(IRIS_DATASET)


# -- kernel --------------------------------------------------------------------------------


def own_kernel_specs(spec_root: Path) -> Any:
    """A kernelspec directory under ``spec_root`` with one kernel: ipykernel on this very
    interpreter (``sys.executable``), whatever kernelspecs the machine has installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = spec_root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(spec_root / "kernels")])


def _kernel_manager(spec_root: Path, *, blocking: bool = False) -> Any:
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    manager_class = KernelManager if blocking else AsyncKernelManager
    # Local sockets rather than TCP: nothing else on the machine can reach the kernel.
    return manager_class(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=own_kernel_specs(spec_root),
        transport="ipc",
        ip=str(spec_root / "kernel"),
    )


@contextlib.contextmanager
def own_kernel(
    spec_root: Path, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[Any]:
    """A started kernel of this interpreter and its blocking client, shut down on exit."""
    manager = _kernel_manager(spec_root, blocking=True)
    options: dict[str, Any] = {}
    if env is not None:
        options["env"] = dict(env)
    if cwd is not None:
        options["cwd"] = str(cwd)
    manager.start_kernel(**options)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=STARTUP_TIMEOUT_S)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute_notebook(
    notebook: Any,
    *,
    env: Mapping[str, str],
    cwd: Path,
    spec_root: Path,
    cell_timeout_s: int = CELL_TIMEOUT_S,
) -> Any:
    """Execute ``notebook`` (an nbformat node, changed in place) and return it.

    Raises :class:`NotebookRunError` naming the failing cell; the partly executed notebook
    is on the exception as ``.notebook``.
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    manager = _kernel_manager(spec_root)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=cell_timeout_s,
        startup_timeout=STARTUP_TIMEOUT_S,
        allow_errors=False,
        store_widget_state=True,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute(env=dict(env), cwd=str(cwd))
    except CellExecutionError as exc:
        error = NotebookRunError(
            f"A cell failed: {_first_lines(str(exc), 12)}",
            fix="Fix the cell (the executed notebook shows its output), or tag it "
            "'raises-exception' when the error is what the cell demonstrates.",
        )
        error.notebook = notebook  # type: ignore[attr-defined]
        raise error from None
    except (CellTimeoutError, DeadKernelError) as exc:
        error = NotebookRunError(
            f"The kernel did not finish: {_first_lines(str(exc), 4)}",
            fix=f"Look for a cell that blocks or runs longer than {cell_timeout_s} s.",
        )
        error.notebook = notebook  # type: ignore[attr-defined]
        raise error from None
    finally:
        # The client leaves a kernel it did not create running; this one is ours.
        if client.kc is not None:
            client.kc.stop_channels()
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=False)
    return notebook


def _first_lines(text: str, count: int) -> str:
    lines = [line for line in _strip_ansi(text).splitlines() if line.strip()]
    return "\n".join(lines[:count])


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


# -- static rendering ------------------------------------------------------------------------


_WIDGET_REPR = re.compile(r"^\s*(HBox|VBox|Box|IntProgress|FloatProgress|Output|HTML|Label)\(")


def widget_state(notebook: Any) -> dict[str, Any]:
    """The saved widget models, by model id (empty when none were saved)."""
    saved = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    state = saved.get("state", {}) if isinstance(saved, Mapping) else {}
    return dict(state)


def _html_to_text(value: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", "", value))
    return text.replace("\xa0", " ").replace("\u2007", " ").strip()


def _children(model: Mapping[str, Any]) -> list[str]:
    children = model.get("state", {}).get("children", [])
    return [str(child).removeprefix("IPY_MODEL_") for child in children]


_TEXT_MODELS = {"HTMLModel", "HTMLMathModel", "LabelModel", "TextModel", "TextareaModel"}
_PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
_STACKED_MODELS = {"VBoxModel", "AccordionModel", "TabModel"}


def widget_text(model_id: str, state: Mapping[str, Any], depth: int = 0) -> str:
    """Readable text for a saved widget tree: labels, values and progress bars."""
    model = state.get(model_id)
    if model is None or depth > 20:
        return ""
    name = str(model.get("model_name", ""))
    fields = model.get("state", {})
    if name in _TEXT_MODELS:
        return _html_to_text(str(fields.get("value", "")))
    if name in _PROGRESS_MODELS:
        return progress_text(fields)
    if name.endswith("BoxModel") or name in _STACKED_MODELS:
        children = _children(model)
        label_gives_percent = any(
            state.get(child, {}).get("model_name") in _TEXT_MODELS
            and widget_text(child, state, depth + 1).endswith("%")
            for child in children
        )
        parts = []
        for child in children:
            if label_gives_percent and state.get(child, {}).get("model_name") in _PROGRESS_MODELS:
                # tqdm's layout: the label left of the bar already says "100%".
                parts.append(progress_text(state[child].get("state", {}), percent=False))
            else:
                parts.append(widget_text(child, state, depth + 1))
        return ("\n" if name in _STACKED_MODELS else " ").join(part for part in parts if part)
    description = fields.get("description")
    value = fields.get("value")
    if value is None:
        return str(description or "")
    return f"{description}: {value}" if description else str(value)


def has_progress(model_id: str, state: Mapping[str, Any], depth: int = 0) -> bool:
    model = state.get(model_id)
    if model is None or depth > 20:
        return False
    if model.get("model_name") in _PROGRESS_MODELS:
        return True
    return any(has_progress(child, state, depth + 1) for child in _children(model))


def progress_text(fields: Mapping[str, Any], width: int = 20, percent: bool = True) -> str:
    low = float(fields.get("min", 0) or 0)
    high = float(fields.get("max", 100) or 0)
    value = float(fields.get("value", 0) or 0)
    fraction = 1.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    filled = round(fraction * width)
    bar = "#" * filled + " " * (width - filled)
    description = _html_to_text(str(fields.get("description", "") or ""))
    prefix = f"{description} " if description else ""
    suffix = f" {fraction:.0%}" if percent else ""
    return f"{prefix}|{bar}|{suffix}"


def static_outputs(notebook: Any) -> Any:
    """A copy of ``notebook`` whose outputs all render without a kernel or network.

    Widget views become the text or HTML their object offered, or text built from the
    saved widget state when the object's text is only a widget repr or when the view
    holds a progress bar (whose text was taken before it moved); the widget state itself
    is dropped from the copy.
    """
    static = copy.deepcopy(notebook)
    state = widget_state(notebook)
    for cell in static.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data or WIDGET_VIEW not in data:
                continue
            model_id = str(data[WIDGET_VIEW].get("model_id", ""))
            del data[WIDGET_VIEW]
            if has_progress(model_id, state):
                # The object's own text was taken when the bar was empty; the saved
                # state holds where it ended.
                data.pop("text/html", None)
                data["text/plain"] = widget_text(model_id, state)
                continue
            if "text/html" in data:
                continue
            plain = "".join(data.get("text/plain", ""))
            if not plain.strip() or _WIDGET_REPR.match(plain):
                text = widget_text(model_id, state)
                data["text/plain"] = text or "(an interactive view; run the notebook to see it)"
    static.metadata.pop("widgets", None)
    return static


def export_html(notebook: Any, target: Path) -> Path:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    body, _ = exporter.from_notebook_node(static_outputs(notebook))
    target.write_text(body, encoding="utf-8")
    return target


# -- the whole run ---------------------------------------------------------------------------


def default_out_dir(source: Path) -> Path:
    return source.resolve().parent / "out"


def run_notebook(
    source: Path | str,
    *,
    out_dir: Path | str | None = None,
    host: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> NotebookRun:
    """Execute ``source`` against the offline fakes; write the executed notebook and HTML.

    ``extra_env`` is added to the kernel's environment last (tests use it to plant values
    that must never show up in the outputs).
    """
    _require_notebook_tools()
    import nbformat

    source = Path(source)
    if not source.is_file():
        raise NotebookRunError(f"No notebook at {source}.", fix="Pass the path of an .ipynb file.")
    notebook = nbformat.read(source, as_version=4)
    chosen_host = notebook_host(notebook, host)
    if chosen_host not in HOST_CHOICES:
        raise NotebookRunError(
            f"Host {chosen_host!r} cannot be simulated.",
            fix=f"Use --host with one of: {', '.join(HOST_CHOICES)}.",
        )
    target_dir = Path(out_dir) if out_dir is not None else default_out_dir(source)
    target_dir.mkdir(parents=True, exist_ok=True)
    executed_path = target_dir / source.name
    html_path = target_dir / (source.stem + ".html")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlenv-notebook-") as scratch:
        workdir = Path(scratch)
        cwd = workdir / "work"
        cwd.mkdir()
        with offline_services(chosen_host, workdir) as service_env:
            env = kernel_environment(workdir, service_env)
            env.update(extra_env or {})
            try:
                execute_notebook(notebook, env=env, cwd=cwd, spec_root=workdir / "spec")
            except NotebookRunError:
                nbformat.write(notebook, executed_path)
                raise
    nbformat.write(notebook, executed_path)
    export_html(notebook, html_path)
    cells = sum(1 for cell in notebook.cells if cell.cell_type == "code")
    return NotebookRun(
        source=source,
        executed=executed_path,
        html=html_path,
        host=chosen_host,
        seconds=time.monotonic() - started,
        cells=cells,
    )


def _require_notebook_tools() -> None:
    import importlib.util

    missing = [
        name
        for name in ("nbformat", "nbclient", "nbconvert", "ipykernel")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise NotebookRunError(
            f"Running notebooks needs {', '.join(missing)}, which this Python lacks.",
            fix="pip install 'mlenv-magics[test]' (or: pip install nbclient nbconvert ipykernel).",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlenv_magics.testing.notebook_runner",
        description="Run notebooks headless against the offline fakes; fail on any cell error.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    parser.add_argument("--out", type=Path, metavar="DIR", help="default: notebooks/out")
    parser.add_argument(
        "--host",
        choices=HOST_CHOICES,
        help="simulate this host (default: the notebook's own choice, else local)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    failures = 0
    for source in args.notebooks:
        try:
            run = run_notebook(source, out_dir=args.out, host=args.host)
        except MlenvError as exc:
            failures += 1
            print(f"FAILED {source}: {exc}", file=sys.stderr, flush=True)
            continue
        print(repr(run), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
