"""The `%mlenv_gpu` view in a real browser: JupyterLab 4 (ipywidgets 8) and classic Notebook 6.5
(ipywidgets 7.7.1). GPU kernels replay a real `nvidia-smi -q -x` capture through the fake
`nvidia-smi` of tests/fixtures/bin (a Tesla T4, and an A100 with four MIG slices); the no-GPU
kernels run on this machine (no driver) as Google Colab, Kaggle and a local machine.

Every check reads the page: the status line, one card per GPU with its MIG slices inside,
memory bars whose fill is used / total from the capture, the host's numbered steps with the
menu path set off and no Markdown backticks, and no text repr in place of the widget. Each
view is screenshotted (``MLENV_UPDATE_DOC_IMAGES=1`` copies them to docs/img).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlenv_magics.testing import notebook_runner

from . import notebook_page
from .conftest import REPO_ROOT
from .png_pixels import pixel_stats
from .servers import DIRECT, JupyterServer, jupyter_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAKE_SMI_BIN = REPO_ROOT / "tests" / "fixtures" / "bin"
CAPTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "nvidia-smi"
DOC_IMAGES = REPO_ROOT / "docs" / "img"
CELLS = ["%load_ext mlenv_magics", "%mlenv_gpu"]
GPU_CELL = 1
LIVE_CELLS = ["%load_ext mlenv_magics", "%mlenv_gpu --live 0.5", "import time\ntime.sleep(20)"]
NO_GPU_PATH = "/usr/bin:/bin"  # this machine has no NVIDIA driver and no nvidia-smi

# What the view says, read from the DOM: status line, cards (with their meters), steps.
VIEW_JS = """
(cell) => {
  const text = (el) => el ? el.innerText.trim() : null;
  const status = cell.querySelector('[data-mlenv="status"]');
  const cards = Array.from(cell.querySelectorAll('div[data-mlenv-card]')).map(card => ({
    label: card.getAttribute('data-mlenv-card'),
    text: text(card),
    meters: Array.from(card.querySelectorAll('[data-mlenv-meter]')).map(m => ({
      kind: m.getAttribute('data-mlenv-meter'),
      fill: parseFloat(m.getAttribute('data-fill')),
      width: m.firstElementChild.getBoundingClientRect().width
        / m.getBoundingClientRect().width,
    })),
    slices: Array.from(card.querySelectorAll('tr[data-mlenv-card]')).map(text),
  }));
  const steps = cell.querySelector('[data-mlenv="steps"]');
  return {
    status: text(status), kind: status && status.getAttribute('data-kind'),
    cards,
    steps: steps ? Array.from(steps.querySelectorAll('li')).map(text) : [],
    menus: steps ? Array.from(steps.querySelectorAll('li span')).map(text) : [],
    code: steps ? Array.from(steps.querySelectorAll('li code')).map(text) : [],
    all: text(cell.querySelector('.mlenv-gpu') && cell),
    prose: Array.from(cell.querySelectorAll('.mlenv-gpu li, [data-mlenv="why"]')).map(text),
  };
}
"""


@dataclass(frozen=True)
class Case:
    key: str  # names the notebook, its kernelspec and its screenshot
    env: dict[str, str]
    status: str
    kind: str
    cards: dict[str, tuple[int, int]] = field(default_factory=dict)  # label: used, total MiB
    slices: int = 0
    steps: tuple[str, ...] = ()
    menus: tuple[str, ...] = ()
    cells: tuple[str, ...] = tuple(CELLS)


def _replay(fixture: str) -> dict[str, str]:
    return {
        "PATH": f"{FAKE_SMI_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLENV_GPU_BACKEND": "nvidia-smi",
        "MLENV_FAKE_SMI_FIXTURE": str(CAPTURES_DIR / fixture),
    }


CASES = {
    case.key: case
    for case in (
        Case(
            key="gpu-t4",
            env=_replay("t4-from-influxdata-telegraf.xml"),
            status="Tesla T4 · 15 GiB · CUDA 11.7",
            kind="ok",
            cards={"0": (1032, 15360)},
        ),
        Case(
            key="gpu-a100-mig",
            env=_replay("a100-sxm4-80gb-mig-x4-from-influxdata-telegraf.xml"),
            status="4 MIG slices of NVIDIA A100-SXM4-80GB · 19.5 GiB each · CUDA 12.2",
            kind="ok",
            cards={"0": (50, 81920)},
            slices=4,
        ),
        Case(
            key="gpu-none-colab",
            env={"PATH": NO_GPU_PATH, "COLAB_RELEASE_TAG": "release-colab_20260917"},
            status="No NVIDIA GPU found",
            kind="missing",
            steps=("Open Runtime → Change runtime type", "Set Hardware accelerator to T4 GPU"),
            menus=("Runtime → Change runtime type", "T4 GPU", "Save"),
        ),
        Case(
            key="gpu-none-kaggle",
            env={"PATH": NO_GPU_PATH, "KAGGLE_KERNEL_RUN_TYPE": "Interactive"},
            status="No NVIDIA GPU found",
            kind="missing",
            steps=("In the notebook editor open Settings → Accelerator", "Choose GPU T4 x2"),
            menus=("Settings → Accelerator", "GPU T4 x2"),
        ),
        Case(
            key="gpu-none-local",
            env={"PATH": NO_GPU_PATH},
            status="No NVIDIA GPU found",
            kind="missing",
            steps=("Install the NVIDIA driver",),  # then Docker or container advice, as fits
        ),
    )
}


@dataclass(frozen=True)
class GpuServer:
    frontend: notebook_page.Frontend
    server: JupyterServer
    live_env: dict[str, str]


def _write_kernelspec(data_dir: Path, python_bin: Path, key: str, env: dict[str, str]) -> None:
    """A kernelspec whose kernels get ``env``, as that machine's kernels would."""
    spec_dir = data_dir / "kernels" / key
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python_bin), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({key})",
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def _write_notebook(folder: Path, key: str, cells: tuple[str, ...] | list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": key,
        "display_name": f"Python 3 ({key})",
        "language": "python",
    }
    target = folder / f"{key}.ipynb"
    nbformat.write(notebook, target)
    return target


def _changing_t4(folder: Path, steps: int = 8) -> str:
    import sys

    sys.path.insert(0, str(REPO_ROOT / "tests" / "gpu"))
    try:
        from gpu_kit import changing_t4
    finally:
        sys.path.remove(str(REPO_ROOT / "tests" / "gpu"))
    return str(changing_t4(folder, steps))


@pytest.fixture(scope="module", params=["jupyterlab", "classic-notebook"])
def gpu_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GpuServer]:
    """One server per frontend, serving one notebook per case plus the live one."""
    if request.param == "jupyterlab":
        frontend, kind = notebook_page.LAB, "lab"
        python_bin = Path(request.getfixturevalue("lab_python"))
    else:
        frontend, kind = notebook_page.CLASSIC, "classic"
        python_bin = Path(request.getfixturevalue("classic_python"))
    workdir = tmp_path_factory.mktemp(f"gpu-{kind}")
    sources = workdir / "notebooks"
    sources.mkdir()
    data_dir = workdir / "jupyter-data"
    notebooks = []
    for case in CASES.values():
        notebooks.append(_write_notebook(sources, case.key, case.cells))
        _write_kernelspec(data_dir, python_bin, case.key, case.env)
    captures = workdir / "changing"
    captures.mkdir()
    live_env = _replay("t4-from-influxdata-telegraf.xml")
    live_env["MLENV_FAKE_SMI_FIXTURE"] = _changing_t4(captures)
    live_env["MLENV_FAKE_SMI_STATE"] = str(captures / "position")
    notebooks.append(_write_notebook(sources, "gpu-live", LIVE_CELLS))
    _write_kernelspec(data_dir, python_bin, "gpu-live", live_env)
    env = notebook_runner.kernel_environment(workdir, {})
    env["JUPYTER_PATH"] = str(data_dir)
    with jupyter_server(kind, python_bin, workdir, notebooks, env) as server:
        yield GpuServer(frontend, server, live_env)


def _open_and_run(page: Any, gpu_server: GpuServer, key: str, cells: int, wait: bool) -> None:
    frontend = gpu_server.frontend
    try:
        notebook_page.open_notebook(
            page, frontend, gpu_server.server, f"{key}.ipynb", workspace=key
        )
        notebook_page.run_all(page, frontend)
        if wait:
            notebook_page.wait_for_run(page, frontend, cells)
    except AssertionError as error:
        log = gpu_server.server.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{error}\n{gpu_server.server.kind} server log:\n{log}") from error


def _shut_down_kernels(server: JupyterServer) -> None:
    """Each notebook's kernel ends with its test, so the next one starts on a quiet server."""
    import urllib.request

    url = f"{server.base_url}/api/kernels"
    with DIRECT.open(f"{url}?token={server.token}", timeout=10) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(
            f"{url}/{kernel['id']}?token={server.token}", method="DELETE"
        )
        with DIRECT.open(request, timeout=30):
            pass


def _widget(page: Any, frontend: notebook_page.Frontend, index: int) -> Any:
    cell = notebook_page.code_cell(page, frontend, index)
    outputs = cell.locator(frontend.output)
    # Whichever shows first: the widget, or a text / HTML repr in its place.
    outputs.locator(".jupyter-widgets.widget-vbox, pre, .mlenv-gpu").first.wait_for(
        state="visible", timeout=60_000
    )
    assert outputs.locator("pre").count() == 0, outputs.first.inner_html()[:2000]
    assert outputs.count() == 1, notebook_page.output_texts(page, frontend, index)
    widget = outputs.locator(".jupyter-widgets.widget-vbox").first
    widget.locator("[data-mlenv='status']").wait_for(state="visible", timeout=30_000)
    return cell, widget


def _shoot(widget: Any, target: Path, doc_name: str) -> None:
    widget.scroll_into_view_if_needed(timeout=10_000)
    widget.screenshot(path=str(target), timeout=30_000)
    stats = pixel_stats(target)
    assert not stats.looks_blank, f"{target.name} looks blank: {stats}"
    if os.environ.get("MLENV_UPDATE_DOC_IMAGES"):
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, DOC_IMAGES / doc_name)


@pytest.mark.parametrize("case_key", list(CASES))
def test_gpu_view_shows_status_cards_and_steps(
    gpu_server: GpuServer, case_key: str, browser: Any, artifacts_dir: Path
) -> None:
    case = CASES[case_key]
    frontend = gpu_server.frontend
    shots = artifacts_dir / frontend.name
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        _open_and_run(page, gpu_server, case.key, len(case.cells), wait=True)
        cell, widget = _widget(page, frontend, GPU_CELL)
        seen = cell.evaluate(VIEW_JS)
        assert seen["status"].lstrip("● ") == case.status, seen["status"]
        assert seen["kind"] == case.kind
        assert [c["label"] for c in seen["cards"]] == list(case.cards), seen["cards"]
        for card in seen["cards"]:
            used, total = case.cards[card["label"]]
            memory = next(m for m in card["meters"] if m["kind"] == "memory")
            assert memory["fill"] == pytest.approx(100 * used / total, abs=0.05), memory
            assert memory["width"] == pytest.approx(used / total, abs=0.01), memory
            assert len(card["slices"]) == case.slices, card
        for start, step in zip(case.steps, seen["steps"], strict=False):
            assert step.startswith(start), (start, step)
        assert len(seen["steps"]) >= len(case.steps)
        assert all(menu in seen["menus"] for menu in case.menus), seen["menus"]
        if case.kind == "missing" and "colab" not in case.key and "kaggle" not in case.key:
            assert "--gpus all" in seen["code"], seen["code"]
        text = widget.inner_text()
        assert "`" not in text  # code is in code style, never Markdown backticks
        for sentence in seen["prose"]:  # reasons, notes and steps: each said once
            assert text.count(sentence) == 1, (sentence, text)
        _shoot(widget, shots / f"{case.key}.png", f"{case.key}-{frontend.name}.png")
    finally:
        page.screenshot(path=str(shots / f"{case.key}-whole-page.png"), full_page=True)
        page.close()
        _shut_down_kernels(gpu_server.server)


def test_live_view_updates_bars_and_sparklines_while_a_cell_runs(
    gpu_server: GpuServer, browser: Any, artifacts_dir: Path
) -> None:
    frontend = gpu_server.frontend
    shots = artifacts_dir / frontend.name
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        _open_and_run(page, gpu_server, "gpu-live", len(LIVE_CELLS), wait=False)
        cell, widget = _widget(page, frontend, 1)
        first = cell.evaluate(VIEW_JS)
        fill = first["cards"][0]["meters"][0]["fill"]
        # Event-driven, bounded: the page changes when the kernel thread sends new state.
        cell.locator(f"[data-mlenv-meter='memory']:not([data-fill='{fill:g}'])").first.wait_for(
            state="attached", timeout=30_000
        )
        spark = cell.locator("svg[data-mlenv-spark='memory']").first
        spark.wait_for(state="attached", timeout=30_000)
        points = spark.get_attribute("data-points")
        cell.locator(
            f"svg[data-mlenv-spark='memory']:not([data-points='{points}'])"
        ).first.wait_for(state="attached", timeout=30_000)
        page.wait_for_function(  # a short history drawn: several refreshes seen
            "(cell) => { const s = cell.querySelector(\"svg[data-mlenv-spark='memory']\");"
            " return !!s && s.getAttribute('data-points').split(' ').length >= 6; }",
            arg=cell.element_handle(),
            timeout=30_000,
        )
        later = cell.evaluate(VIEW_JS)
        assert later["cards"][0]["meters"][0]["fill"] != fill
        assert "live · every 0.5 s" in later["all"]
        # The sleeping cell is still running: the updates came from the kernel's thread.
        assert "[*]" in notebook_page.code_cell(page, frontend, 2).inner_text()
        _shoot(widget, shots / "gpu-live.png", f"gpu-live-{frontend.name}.png")
    finally:
        page.screenshot(path=str(shots / "gpu-live-whole-page.png"), full_page=True)
        page.close()
        _shut_down_kernels(gpu_server.server)
