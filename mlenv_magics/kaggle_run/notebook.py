"""The notebook a run pushes, its name on Kaggle, and what its executed copy says."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from .errors import RemoteOptionError

NOTEBOOK_OUTPUT = "__notebook__.ipynb"  # the executed notebook, among a session's outputs
SLUG_PREFIX = "mlenv"
MAX_SLUG = 50
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cells": cells,
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def code_cell(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def from_code(code: str) -> dict[str, Any]:
    if not code.strip():
        raise RemoteOptionError("The cell is empty: there is nothing to run on Kaggle.")
    return _notebook([code_cell(code)])


def from_file(path: Path) -> dict[str, Any]:
    """A ``.py`` script becomes one cell; an ``.ipynb`` keeps its cells, without outputs."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RemoteOptionError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if path.suffix == ".py":
        return from_code(text)
    if path.suffix != ".ipynb":
        raise RemoteOptionError(f"{path} is neither a .py script nor an .ipynb notebook.")
    try:
        notebook = json.loads(text)
    except ValueError:
        raise RemoteOptionError(f"{path} is not a valid notebook (not JSON).") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise RemoteOptionError(f"{path} is not a valid notebook (no cells).")
    cells = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell["cell_type"] == "code":
            cells.append(code_cell(source))
        else:
            cells.append({"cell_type": cell["cell_type"], "metadata": {}, "source": source})
    if not any(c["cell_type"] == "code" and c["source"].strip() for c in cells):
        raise RemoteOptionError(f"{path} has no code to run.")
    return _notebook(cells)


def push_text(notebook: dict[str, Any]) -> str:
    """The notebook as Kaggle wants it: outputs emptied, each source one string, and no
    ``metadata.kaggle`` block (a pinned docker image there sends a TPU run to the CPU image)."""
    return json.dumps(notebook)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def derive_slug(notebook_name: str | None, cell_key: str | None, code: str) -> str:
    """``mlenv-<notebook>-<key>``: the same notebook and cell give the same slug on every run.

    ``cell_key`` is the frontend's cell id when it sends one; without it, the code itself
    identifies the cell (editing the cell then names a new notebook on Kaggle)."""
    stem = slugify(Path(notebook_name).stem) if notebook_name else "ipython"
    digest = hashlib.sha1((cell_key or code).encode(), usedforsecurity=False).hexdigest()[:8]
    room = MAX_SLUG - len(SLUG_PREFIX) - len(digest) - 2
    stem = (stem[:room].strip("-")) or "notebook"
    return f"{SLUG_PREFIX}-{stem}-{digest}"


def title_for(slug: str) -> str:
    # Kaggle derives the address from the title: the title must slugify back to the slug.
    return slug.replace("-", " ")


def code_outputs(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    for cell in notebook.get("cells") or []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            outputs.extend(o for o in cell.get("outputs") or [] if isinstance(o, dict))
    return outputs


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def remote_traceback(notebook: dict[str, Any] | None, log_text: str, lines: int = 8) -> str:
    """The last lines of the remote error: the executed notebook's error output, else the
    end of the log's stderr."""
    if notebook is not None:
        errors = [o for o in code_outputs(notebook) if o.get("output_type") == "error"]
        if errors:
            text = "\n".join(str(t) for t in errors[-1].get("traceback") or [])
            text = (
                strip_ansi(text).strip() or f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}"
            )
            return "\n".join(text.splitlines()[-lines:])
    tail = [line for line in strip_ansi(log_text).splitlines() if line.strip()]
    return "\n".join(tail[-lines:])
