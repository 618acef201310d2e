"""Each example notebook runs once per test session in a real kernel, against the fakes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlenv_magics.testing import notebook_runner

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
PLANTED_NAME = "KAGGLE_KEY"


@dataclass(frozen=True)
class ExecutedNotebook:
    run: notebook_runner.NotebookRun
    notebook: Any  # nbformat node, as written to run.executed
    html: str
    planted_secret: str

    def code_cell(self, start: str) -> Any:
        """The code cell whose source is ``start``, else the first one that starts with it."""
        code = [cell for cell in self.notebook.cells if cell.cell_type == "code"]
        for cell in code:
            if cell.source == start:
                return cell
        for cell in code:
            if cell.source.startswith(start):
                return cell
        raise AssertionError(f"no code cell starts with {start!r}")


def execute(name: str, out_dir: Path) -> ExecutedNotebook:
    import nbformat

    planted = "planted-" + secrets.token_hex(12)
    run = notebook_runner.run_notebook(
        NOTEBOOKS_DIR / name,
        out_dir=out_dir,
        extra_env={"KAGGLE_USERNAME": "notebook-user", PLANTED_NAME: planted},
    )
    return ExecutedNotebook(
        run=run,
        notebook=nbformat.read(run.executed, as_version=4),
        html=run.html.read_text(encoding="utf-8"),
        planted_secret=planted,
    )


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ExecutedNotebook]:
    out_dir = tmp_path_factory.mktemp("notebooks-out")
    return {
        name: execute(name, out_dir) for name in ("quickstart.ipynb", "kaggle.ipynb", "colab.ipynb")
    }


def stream_text(cell: Any, name: str = "stdout") -> str:
    return "".join(
        output.get("text", "")
        for output in cell.outputs
        if output.output_type == "stream" and output.name == name
    )


def rich_outputs(cell: Any) -> list[Any]:
    return [o for o in cell.outputs if o.output_type in {"display_data", "execute_result"}]
