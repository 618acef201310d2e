"""The quickstart, run with "Run All" in a real browser: JupyterLab 4 (ipywidgets 8) and classic
Notebook 6.5 with ipywidgets 7.7.1 (the stack Colab's frontend is built on).

Everything is checked from the page itself, and each checked output is screenshotted.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from . import notebook_page
from .conftest import REPO_ROOT, DemoKernel
from .png_pixels import pixel_stats
from .servers import jupyter_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUICKSTART = REPO_ROOT / "notebooks" / "quickstart.ipynb"
DOC_IMAGES = REPO_ROOT / "docs" / "img"
WIDGET_REPR = re.compile(r"^\s*(VBox|HBox|Box|IntProgress|FloatProgress)\(")


def _code_sources() -> list[str]:
    notebook = nbformat.read(QUICKSTART, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _index(sources: list[str], start: str) -> int:
    for index, source in enumerate(sources):
        if source == start:
            return index
    return next(i for i, source in enumerate(sources) if source.startswith(start))


def _screenshot(element: Any, folder: Path, name: str) -> Path:
    target = folder / f"{name}.png"
    element.scroll_into_view_if_needed(timeout=10_000)
    element.screenshot(path=str(target), timeout=30_000)
    stats = pixel_stats(target)
    assert not stats.looks_blank, f"{target.name} looks blank: {stats}"
    return target


def _gpu_is_present() -> bool:
    from mlenv_magics import gpu_report

    return bool(gpu_report().to_dict()["devices"])


@pytest.mark.parametrize("frontend_name", ["jupyterlab", "classic-notebook"])
def test_quickstart_renders_in_the_browser(
    request: pytest.FixtureRequest,
    frontend_name: str,
    browser: Any,
    demo_kernel: DemoKernel,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    if frontend_name == "jupyterlab":
        frontend, python_bin = notebook_page.LAB, request.getfixturevalue("lab_python")
        kind = "lab"
    else:
        frontend, python_bin = notebook_page.CLASSIC, request.getfixturevalue("classic_python")
        kind = "classic"
    shots = artifacts_dir / frontend.name
    shots.mkdir(parents=True, exist_ok=True)
    sources = _code_sources()

    with jupyter_server(kind, python_bin, tmp_path, [QUICKSTART], demo_kernel.env) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            notebook_page.open_notebook(page, frontend, server, QUICKSTART.name)
            notebook_page.run_all(page, frontend)
            notebook_page.wait_for_run(page, frontend, len(sources))
            _check_quickstart_page(page, frontend, sources, demo_kernel, shots)
        finally:
            page.screenshot(path=str(shots / "whole-page.png"), full_page=True)
            page.close()


def _check_quickstart_page(
    page: Any, frontend: notebook_page.Frontend, sources: list[str], kernel: DemoKernel, shots: Path
) -> None:
    # The GPU view renders as a widget, not as its text repr.
    gpu = _index(sources, "%mlenv_gpu")
    gpu_cell = notebook_page.code_cell(page, frontend, gpu)
    widget = gpu_cell.locator(".jupyter-widgets, [class*='widget-']").first
    widget.wait_for(state="visible", timeout=30_000)
    gpu_shot = _screenshot(gpu_cell.locator(frontend.output).first, shots, "gpu-widget")
    gpu_texts = notebook_page.output_texts(page, frontend, gpu)
    assert gpu_texts and not any(WIDGET_REPR.match(text) for text in gpu_texts), gpu_texts
    assert any(text.startswith("GPU report") for text in gpu_texts), gpu_texts
    if not _gpu_is_present():
        assert any(re.search(r"\bno (NVIDIA )?GPU\b", t, re.IGNORECASE) for t in gpu_texts)

    # The runtime report is there as rich output.
    report = _index(sources, "%mlenv")
    assert any("mlenv runtime" in t for t in notebook_page.output_texts(page, frontend, report))

    # Conditional cells: the skip line is shown.
    for magic, host in (("%%on_kaggle", "Kaggle"), ("%%on_colab", "Google Colab")):
        index = _index(sources, magic)
        texts = notebook_page.output_texts(page, frontend, index)
        expected = f"skipped: {magic} runs this cell only on {host}; this is local machine."
        assert texts == [expected], texts
        _screenshot(
            notebook_page.code_cell(page, frontend, index).locator(frontend.output).first,
            shots,
            f"skip-{magic.strip('%')}",
        )

    # Downloads: progress bars are widgets, full at the end, next to the summary line.
    progress_shots: list[Path] = []
    for start in ("iris_dir = %mlenv_add_data", "titanic_dir = %mlenv_add_data"):
        index = _index(sources, start)
        fractions = notebook_page.progress_fractions(page, frontend, index)
        assert fractions, f"no progress bar rendered for {start!r}"
        assert all(f >= 0.99 for f in fractions), fractions
        texts = notebook_page.output_texts(page, frontend, index)
        assert any(t.startswith("kaggle ") and ": downloaded, " in t for t in texts), texts
        bar = notebook_page.code_cell(page, frontend, index).locator(".progress-bar").first
        box = bar.locator("xpath=ancestor::*[contains(@class,'widget-hbox')][1]")
        target = box if box.count() else bar
        progress_shots.append(_screenshot(target, shots, f"progress-{len(progress_shots)}"))
    titanic = _index(sources, "titanic_dir = %mlenv_add_data")
    assert any("100%" in t for t in notebook_page.output_texts(page, frontend, titanic))

    # The data was read back.
    read = _index(sources, "import csv")
    assert notebook_page.output_texts(page, frontend, read) == [
        "150 flowers of 3 species\n90 passengers, 30 survived"
    ]

    # --require: one readable message, no traceback.
    require = _index(sources, "%mlenv_gpu --require gpu")
    require_texts = notebook_page.output_texts(page, frontend, require)
    if not _gpu_is_present():
        (message,) = require_texts
        assert message.startswith("AcceleratorMissingError: No GPU"), message
        assert "Traceback" not in message and "File " not in message
        assert len(message.splitlines()) <= 12
        _screenshot(
            notebook_page.code_cell(page, frontend, require).locator(frontend.output).first,
            shots,
            "require-gpu-error",
        )

    # No credential value anywhere on the page.
    visible = page.inner_text("body")
    markup = page.content()
    for value in kernel.secret_values:
        assert value not in visible and value not in markup

    if os.environ.get("MLENV_UPDATE_DOC_IMAGES") and frontend is notebook_page.LAB:
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(gpu_shot, DOC_IMAGES / "gpu-widget.png")
        shutil.copy(progress_shots[-1], DOC_IMAGES / "progress-bar.png")
