"""``%%on_kaggle --remote`` in JupyterLab 4, in a real browser, against the Kaggle fake with a
queue time: the status view goes queued -> running -> complete with the elapsed time and the
run's URL, the remote log appears while the run is still going, and the remote notebook's
outputs land in the cell. The waits are real (polling every 5 s or more)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlenv_magics.testing import notebook_runner
from mlenv_magics.testing.kaggle_fake import KaggleFake

from . import notebook_page
from .conftest import REPO_ROOT
from .png_pixels import pixel_stats
from .servers import jupyter_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOC_IMAGE = REPO_ROOT / "docs" / "img" / "kaggle-run-widget.png"
WATCH_TIMEOUT_S = 150
STATE_JS = """
(cell) => {
  const state = cell.querySelector('.mlenv-kaggle-state');
  const log = cell.querySelector('.mlenv-kaggle-log');
  const elapsed = cell.querySelector('.mlenv-kaggle-elapsed');
  const link = cell.querySelector('.mlenv-kaggle-status a');
  return {
    state: state ? state.innerText.trim() : null,
    log: log ? log.innerText : '',
    elapsed: elapsed ? elapsed.innerText.trim() : null,
    href: link ? link.getAttribute('href') : null,
  };
}
"""


def _notebook(path: Path, gate: Path) -> Path:
    cell = (
        "%%on_kaggle --remote --out results\n"
        "import os, time\n"
        "print('epoch 1: loss 0.42', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.05)\n"
        "print('epoch 2: loss 0.17')\n"
        "from IPython.display import HTML\n"
        "HTML('<b class=\"remote-result\">accuracy 0.93</b>')"
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext mlenv_magics"),
        nbformat.v4.new_code_cell(cell),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


def _watch(page: Any, cell: Any, until: Any, seen: list[dict[str, Any]]) -> dict[str, Any]:
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        now = cell.evaluate(STATE_JS)
        if not seen or now != seen[-1]:
            seen.append(now)
        if until(now):
            return now
        page.wait_for_timeout(200)
    raise AssertionError(f"the status view never got there; seen: {seen[-5:]}")


@pytest.mark.parametrize("frontend_name", ["jupyterlab", "classic-notebook"])
def test_remote_run_status_view_and_streamed_log(
    request: pytest.FixtureRequest,
    frontend_name: str,
    browser: Any,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    if frontend_name == "jupyterlab":
        frontend, python_bin = notebook_page.LAB, request.getfixturevalue("lab_python")
        kind, output_area = "lab", ".jp-Cell-outputArea"
    else:
        frontend, python_bin = notebook_page.CLASSIC, request.getfixturevalue("classic_python")
        kind, output_area = "classic", ".output_wrapper"
    gate = tmp_path / "gate"
    notebook = _notebook(tmp_path / "remote.ipynb", gate)
    shots = artifacts_dir / frontend.name
    shots.mkdir(parents=True, exist_ok=True)
    with KaggleFake() as fake:
        fake.kernels.queue_seconds = 3.0
        env = notebook_runner.kernel_environment(tmp_path / "services", fake.env())
        with jupyter_server(kind, python_bin, tmp_path, [notebook], env) as server:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            try:
                notebook_page.open_notebook(page, frontend, server, notebook.name)
                notebook_page.run_all(page, frontend)
                cell = notebook_page.code_cell(page, frontend, 1)
                seen: list[dict[str, Any]] = []
                running = _watch(page, cell, lambda s: "epoch 1: loss 0.42" in s["log"], seen)
                # the log is on the page while the run still waits for the gate
                assert running["state"] == "running" and "epoch 2" not in running["log"]
                assert running["href"].startswith("https://www.kaggle.com/code/fake-user/mlenv-")
                shot = shots / "kaggle-run-running.png"
                cell.locator(".mlenv-kaggle-run").first.screenshot(path=str(shot))
                assert not pixel_stats(shot).looks_blank
                gate.touch()
                done = _watch(page, cell, lambda s: s["state"] == "complete", seen)
                assert "epoch 2: loss 0.17" in done["log"]
                states = [s["state"] for s in seen if s["state"]]
                assert states.index("queued") < states.index("running") < states.index("complete")
                assert done["elapsed"] and done["elapsed"] != "0s"
                result = cell.locator(".remote-result")
                result.wait_for(state="visible", timeout=30_000)
                assert result.inner_text() == "accuracy 0.93"
                notebook_page.wait_for_run(page, frontend, 2)
                texts = notebook_page.output_texts(page, frontend, 1)
                # JupyterLab tells the kernel the notebook name (mlenv-remote-...); Notebook 6 not
                prefix = "kaggle run fake-user/mlenv-" + ("remote-" if kind == "lab" else "")
                assert any(t.startswith(prefix) for t in texts), texts
                final = shots / "kaggle-run-complete.png"
                cell.locator(output_area).first.screenshot(path=str(final))
                assert not pixel_stats(final).looks_blank
                assert (server.root / "results" / "__notebook__.ipynb").exists()
                for value in (fake.token, fake.key):
                    assert value not in page.content()
            finally:
                page.screenshot(path=str(shots / "remote-run-page.png"), full_page=True)
                page.close()
    if os.environ.get("MLENV_UPDATE_DOC_IMAGES") and frontend is notebook_page.LAB:
        DOC_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(final, DOC_IMAGE)
    json.dumps(seen)
