"""The `%mlenv_gpu` widget with real devices, in a real browser: JupyterLab 4 (ipywidgets 8) and
classic Notebook 6.5 (ipywidgets 7.7.1), each kernel replaying a real `nvidia-smi -q -x`
capture through the fake `nvidia-smi` of tests/fixtures/bin (a Tesla T4, and an A100 with four
MIG slices).

Every check reads the page: one widget row per device and MIG slice, the device names, memory
bars whose fill is exactly used / total from the capture, "n/a" where the capture has no value,
and no text repr in place of the widget. Each checked widget is screenshotted.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlenv_magics.testing import notebook_runner

from . import notebook_page
from .conftest import REPO_ROOT
from .png_pixels import pixel_stats
from .servers import JupyterServer, jupyter_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAKE_SMI_BIN = REPO_ROOT / "tests" / "fixtures" / "bin"
CAPTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "nvidia-smi"
DOC_IMAGE = REPO_ROOT / "docs" / "img" / "gpu-widget-t4.png"
CELLS = ["%load_ext mlenv_magics", "%mlenv_gpu"]
GPU_CELL = 1

# For each widget row (an HBox holding a progress bar): its two HTML texts (name, details),
# the bar's fill as the percentage the widget set, and whether the bar is shown.
ROWS_JS = """
(cell) => Array.from(cell.querySelectorAll('.widget-hbox'))
  .filter(row => row.querySelector(':scope > .jupyter-widgets .progress-bar'))
  .map(row => {
    const bar = row.querySelector(':scope > .jupyter-widgets .progress-bar');
    const progress = bar.closest('.jupyter-widgets');
    return {
      texts: Array.from(row.querySelectorAll(':scope > .widget-html'))
        .map(html => html.innerText.trim()),
      fill: bar.style.width,
      visible: getComputedStyle(progress).visibility === 'visible',
    };
  })
"""


@dataclass(frozen=True)
class DeviceRow:
    label: str
    name: str
    used_mib: int
    total_mib: int
    util: str
    temperature: str
    power: str

    @property
    def details(self) -> str:
        return (
            f"{self.used_mib} MiB / {self.total_mib} MiB · util {self.util}"
            f" · {self.temperature} · {self.power}"
        )


@dataclass(frozen=True)
class Capture:
    key: str  # names the notebook and its kernelspec
    fixture: str
    headline: str
    rows: tuple[DeviceRow, ...]


# Values as the capture files state them (fb_memory_usage, utilization, temperature,
# power_readings / gpu_power_readings); MIG slices carry no temperature or power of their own.
T4 = Capture(
    key="gpu-t4",
    fixture="t4-from-influxdata-telegraf.xml",
    headline="backend nvidia-smi · driver 515.105.01 · CUDA (driver) 11.7",
    rows=(DeviceRow("0", "Tesla T4", 1032, 15360, "0 %", "40 C", "27 W"),),
)
A100_SLICE = "NVIDIA A100-SXM4-80GB MIG slice"
A100_MIG = Capture(
    key="gpu-a100-mig",
    fixture="a100-sxm4-80gb-mig-x4-from-influxdata-telegraf.xml",
    headline="backend nvidia-smi · driver 535.54.03 · CUDA (driver) 12.2",
    rows=(
        DeviceRow("0", "NVIDIA A100-SXM4-80GB", 50, 81920, "n/a (MIG)", "27 C", "67 W"),
        *(
            DeviceRow(f"0:mig{i}", A100_SLICE, 12, 19968, "n/a (MIG)", "n/a", "n/a")
            for i in range(4)
        ),
    ),
)
CAPTURES = {capture.key: capture for capture in (T4, A100_MIG)}


@dataclass(frozen=True)
class GpuServer:
    frontend: notebook_page.Frontend
    server: JupyterServer


def _write_kernelspec(data_dir: Path, python_bin: Path, capture: Capture) -> None:
    """A kernelspec whose kernels replay ``capture``: the server sets this environment when
    it starts the kernel, as a GPU machine's would be."""
    spec_dir = data_dir / "kernels" / capture.key
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python_bin), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({capture.key})",
        "language": "python",
        "env": {
            "PATH": f"{FAKE_SMI_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLENV_GPU_BACKEND": "nvidia-smi",
            "MLENV_FAKE_SMI_FIXTURE": str(CAPTURES_DIR / capture.fixture),
        },
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def _write_notebook(folder: Path, capture: Capture) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": capture.key,
        "display_name": f"Python 3 ({capture.key})",
        "language": "python",
    }
    target = folder / f"{capture.key}.ipynb"
    nbformat.write(notebook, target)
    return target


@pytest.fixture(scope="module", params=["jupyterlab", "classic-notebook"])
def gpu_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GpuServer]:
    """One server per frontend, serving one notebook per capture."""
    if request.param == "jupyterlab":
        frontend, kind = notebook_page.LAB, "lab"
        python_bin = Path(request.getfixturevalue("lab_python"))
    else:
        frontend, kind = notebook_page.CLASSIC, "classic"
        python_bin = Path(request.getfixturevalue("classic_python"))
    workdir = tmp_path_factory.mktemp(f"gpu-{kind}")
    sources = workdir / "notebooks"
    sources.mkdir()
    notebooks = [_write_notebook(sources, capture) for capture in CAPTURES.values()]
    for capture in CAPTURES.values():
        _write_kernelspec(workdir / "jupyter-data", python_bin, capture)
    env = notebook_runner.kernel_environment(workdir, {})
    env["JUPYTER_PATH"] = str(workdir / "jupyter-data")
    with jupyter_server(kind, python_bin, workdir, notebooks, env) as server:
        yield GpuServer(frontend, server)


def _fill_percent(style_width: str) -> float:
    assert style_width.endswith("%"), f"the bar's width is not a percentage: {style_width!r}"
    return float(style_width[:-1])


@pytest.mark.parametrize("capture_key", list(CAPTURES))
def test_gpu_widget_shows_every_device(
    gpu_server: GpuServer, capture_key: str, browser: Any, artifacts_dir: Path
) -> None:
    capture = CAPTURES[capture_key]
    frontend = gpu_server.frontend
    shots = artifacts_dir / frontend.name
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        try:
            notebook_page.open_notebook(
                page, frontend, gpu_server.server, f"{capture.key}.ipynb", workspace=capture.key
            )
            notebook_page.run_all(page, frontend)
            notebook_page.wait_for_run(page, frontend, len(CELLS))
        except AssertionError as error:
            log = gpu_server.server.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{error}\n{gpu_server.server.kind} server log:\n{log}") from error
        shot = _check_gpu_widget(page, frontend, capture, shots)
    finally:
        page.screenshot(path=str(shots / f"{capture.key}-whole-page.png"), full_page=True)
        page.close()
    wanted_in_docs = frontend is notebook_page.LAB and capture is T4
    if wanted_in_docs and os.environ.get("MLENV_UPDATE_DOC_IMAGES"):
        DOC_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOC_IMAGE)


def _check_gpu_widget(
    page: Any, frontend: notebook_page.Frontend, capture: Capture, shots: Path
) -> Path:
    cell = notebook_page.code_cell(page, frontend, GPU_CELL)
    outputs = cell.locator(frontend.output)
    # Whichever shows first: the widget, or a text / HTML repr in its place.
    outputs.locator(".jupyter-widgets.widget-vbox, pre, table").first.wait_for(
        state="visible", timeout=30_000
    )
    assert outputs.locator("pre, table").count() == 0, outputs.first.inner_html()[:2000]
    assert outputs.count() == 1, notebook_page.output_texts(page, frontend, GPU_CELL)
    widget = outputs.locator(".jupyter-widgets.widget-vbox").first
    headline = widget.locator(".widget-html").first.inner_text()
    assert headline.startswith("GPU report · "), headline
    assert capture.headline in headline, headline

    rows = cell.evaluate(ROWS_JS)
    assert len(rows) == len(capture.rows), rows
    for seen, expected in zip(rows, capture.rows, strict=True):
        assert seen["texts"] == [f"{expected.label} {expected.name}", expected.details], seen
        assert seen["visible"], f"the memory bar of {expected.label} is hidden: {seen}"
        fill = _fill_percent(seen["fill"])
        assert fill == pytest.approx(100 * expected.used_mib / expected.total_mib), seen
        assert fill > 0, f"the memory bar of {expected.label} is empty: {seen}"

    target = shots / f"{capture.key}-widget.png"
    widget.scroll_into_view_if_needed(timeout=10_000)
    widget.screenshot(path=str(target), timeout=30_000)
    stats = pixel_stats(target)
    assert not stats.looks_blank, f"{target.name} looks blank: {stats}"
    return target
