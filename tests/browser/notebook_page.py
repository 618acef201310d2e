"""Drive a notebook page (JupyterLab 4 or classic Notebook 6.5) and read outputs from the DOM."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from .servers import DIRECT

RUN_TIMEOUT_S = int(os.environ.get("MLENV_BROWSER_RUN_TIMEOUT", "180"))
LOAD_TIMEOUT_MS = 90_000


@dataclass(frozen=True)
class Frontend:
    name: str
    code_cell: str  # one code cell, in document order
    prompt: str  # the execution-count prompt inside a code cell
    output: str  # one rendered output inside a code cell
    kernel_ready_js: str  # true once the kernel is connected and idle


LAB = Frontend(
    name="jupyterlab",
    code_cell=".jp-NotebookPanel .jp-Notebook .jp-Cell.jp-CodeCell",
    prompt=".jp-InputArea-prompt",
    output=".jp-OutputArea-output",
    kernel_ready_js=(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return !!s && s.getAttribute('data-status') === 'idle'; }"
    ),
)

CLASSIC = Frontend(
    name="classic-notebook",
    code_cell="#notebook-container .cell.code_cell",
    prompt=".input_prompt",
    output=".output_area .output_subarea",
    kernel_ready_js=(
        "() => !!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
        " && Jupyter.notebook.kernel.is_connected()"
        " && document.body.classList.contains('notebook_app')"
        " && !Jupyter.notebook.kernel_busy)"
    ),
)

# Progress bars of ipywidgets 7 and 8, as fractions of their track.
PROGRESS_FRACTIONS_JS = """
(cell) => Array.from(cell.querySelectorAll('.progress-bar')).map(bar => {
  const track = bar.parentElement.getBoundingClientRect();
  const filled = bar.getBoundingClientRect();
  const vertical = track.height > track.width;
  return vertical ? filled.height / track.height : filled.width / track.width;
})
"""


def open_notebook(
    page: Any, frontend: Frontend, server: Any, name: str, workspace: str | None = None
) -> None:
    """Open the notebook and wait (bounded) until its kernel is started and connected."""
    url = server.notebook_url(name, workspace)
    page.goto(url, timeout=LOAD_TIMEOUT_MS, wait_until="domcontentloaded")
    page.wait_for_selector(frontend.code_cell, timeout=LOAD_TIMEOUT_MS)
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        # The page may say "idle" before its websocket is up; the server knows better.
        if _kernel_connected(server) and page.evaluate(frontend.kernel_ready_js):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the {frontend.name} kernel did not connect within the time limit")


def _kernel_connected(server: Any) -> bool:
    url = f"{server.base_url}/api/kernels?token={server.token}"
    try:
        with DIRECT.open(url, timeout=5) as answer:
            kernels = json.load(answer)
    except (OSError, ValueError):
        return False
    return any(
        kernel.get("connections", 0) >= 1 and kernel.get("execution_state") == "idle"
        for kernel in kernels
    )


def run_all(page: Any, frontend: Frontend) -> None:
    """Run every cell through the frontend's own menu, as a user would."""
    if frontend is LAB:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    else:
        page.click("#celllink")
        page.click("#run_all_cells")


def _prompts(page: Any, frontend: Frontend) -> list[str]:
    return [
        text.strip()
        for text in page.locator(f"{frontend.code_cell} {frontend.prompt}").all_inner_texts()
    ]


def wait_for_run(page: Any, frontend: Frontend, code_cells: int) -> list[str]:
    """Wait (bounded) until every code cell shows an execution count and none is running."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    prompts: list[str] = []
    while time.monotonic() < deadline:
        prompts = _prompts(page, frontend)
        done = [p for p in prompts if re.search(r"\[\d+\]", p)]
        finished = len(prompts) == code_cells and len(done) == code_cells
        if finished and page.evaluate(frontend.kernel_ready_js):
            return prompts
        page.wait_for_timeout(500)
    raise AssertionError(f"cells did not finish within {RUN_TIMEOUT_S} s; prompts: {prompts}")


def code_cell(page: Any, frontend: Frontend, index: int) -> Any:
    return page.locator(frontend.code_cell).nth(index)


def output_texts(page: Any, frontend: Frontend, index: int) -> list[str]:
    return [
        text.strip()
        for text in code_cell(page, frontend, index).locator(frontend.output).all_inner_texts()
    ]


def progress_fractions(page: Any, frontend: Frontend, index: int) -> list[float]:
    cell = code_cell(page, frontend, index)
    return [float(x) for x in cell.evaluate(PROGRESS_FRACTIONS_JS)]
