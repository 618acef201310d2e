"""The example notebooks run headless in a real kernel and show what a user should see."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from mlenv_magics.testing import notebook_runner

from .conftest import NOTEBOOKS_DIR, ExecutedNotebook, rich_outputs, stream_text

pytestmark = pytest.mark.kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ANSI = "\x1b["
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}


def _gpu_is_present() -> bool:
    from mlenv_magics import gpu_report

    return bool(gpu_report().to_dict()["devices"])


def _widget_models(executed: ExecutedNotebook, cell: object) -> list[dict]:
    """Every saved widget model reachable from the views the cell displayed."""
    state = notebook_runner.widget_state(executed.notebook)
    pending = [o.data[WIDGET_VIEW]["model_id"] for o in rich_outputs(cell) if WIDGET_VIEW in o.data]
    seen: list[dict] = []
    while pending:
        model = state.get(pending.pop())
        if model is None:
            continue
        seen.append(model)
        children = model.get("state", {}).get("children", [])
        pending += [str(child).removeprefix("IPY_MODEL_") for child in children]
    return seen


def test_repository_notebooks_are_stripped_of_outputs() -> None:
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name} keeps outputs"
                assert cell.execution_count is None, f"{path.name} keeps execution counts"
        assert "widgets" not in notebook.metadata, f"{path.name} keeps widget state"


def test_install_cell_does_nothing_when_the_package_is_present(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    for executed in executed_notebooks.values():
        install = executed.code_cell("try:\n    import mlenv_magics")
        assert "%pip install" in install.source
        assert install.outputs == []


def test_quickstart_gpu_cell_is_a_widget_with_readable_text(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    (shown,) = rich_outputs(quickstart.code_cell("%mlenv_gpu"))
    assert WIDGET_VIEW in shown.data
    plain = shown.data["text/plain"]
    assert plain.startswith("GPU report")
    assert not re.match(r"^(VBox|HBox|Box)\(", plain)
    assert "text/html" in shown.data
    models = _widget_models(quickstart, quickstart.code_cell("%mlenv_gpu"))
    assert models, "the GPU view's widget state was not saved"
    if not _gpu_is_present():
        assert "No NVIDIA GPU found" in plain
        assert "How to get an accelerator here" in plain


def test_quickstart_runtime_report_names_host_and_credential_source_only(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    (report,) = rich_outputs(quickstart.code_cell("%mlenv"))
    plain = report.data["text/plain"]
    assert re.search(r"^host\s+local machine$", plain, re.MULTILINE)
    assert "KAGGLE_USERNAME/KAGGLE_KEY env" in plain or "KAGGLE_API_TOKEN env" in plain
    assert quickstart.planted_secret not in plain


def test_quickstart_conditional_cells_skip_with_one_line(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    for magic, host in (("on_kaggle", "Kaggle"), ("on_colab", "Google Colab")):
        text = stream_text(quickstart.code_cell(f"%%{magic}"))
        assert text.strip().splitlines() == [
            f"skipped: %%{magic} runs this cell only on {host}; this is local machine."
        ]
    assert stream_text(quickstart.code_cell("%%on_local")) == ""
    assert stream_text(quickstart.code_cell("print(")) == "results go to outputs\n"


def test_quickstart_downloads_show_progress_bars_that_end_full(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    for first_line in ("iris_dir = %mlenv_add_data", "titanic_dir = %mlenv_add_data"):
        cell = quickstart.code_cell(first_line)
        bars = [m for m in _widget_models(quickstart, cell) if m["model_name"] in PROGRESS_MODELS]
        assert bars, f"no progress bar in {first_line!r}"
        for bar in bars:
            assert bar["state"]["value"] == bar["state"]["max"], bar["state"]
            assert bar["state"].get("bar_style") == "success"


def test_quickstart_add_data_summaries_and_data_read_back(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    iris = stream_text(quickstart.code_cell("iris_dir = %mlenv_add_data"))
    assert re.match(r"kaggle dataset uciml/iris v\d+: downloaded, 1 file, [\d.]+ KiB at ", iris)
    listing = rich_outputs(quickstart.code_cell("iris_dir = %mlenv_add_data"))[-1]
    assert listing.output_type == "execute_result"
    assert listing.data["text/plain"] == "['Iris.csv']"
    titanic = stream_text(quickstart.code_cell("titanic_dir = %mlenv_add_data"))
    assert re.match(r"kaggle competition titanic: downloaded, 1 file, ", titanic)
    read_back = stream_text(quickstart.code_cell("import csv"))
    assert read_back == "150 flowers of 3 species\n90 passengers, 30 survived\n"


def test_quickstart_require_gpu_is_one_short_message(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    quickstart = executed_notebooks["quickstart.ipynb"]
    cell = quickstart.code_cell("%mlenv_gpu --require gpu")
    assert cell.metadata["tags"] == ["raises-exception"]
    assert quickstart.notebook.cells[-1] is cell, "Run all stops here: it must be the last cell"
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if _gpu_is_present():
        assert errors == []
        return
    (error,) = errors
    assert error.ename == "AcceleratorMissingError"
    text = "\n".join(error.traceback)
    assert text.startswith("AcceleratorMissingError: No GPU")
    assert "Traceback" not in text and "File " not in text
    assert ANSI not in text
    assert len(error.traceback) <= 12


def test_kaggle_notebook_attaches_then_finds_the_mount(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    kaggle = executed_notebooks["kaggle.ipynb"]
    assert kaggle.run.host == "kaggle"
    (report,) = rich_outputs(kaggle.code_cell("%mlenv"))
    assert re.search(r"^host\s+Kaggle", report.data["text/plain"], re.MULTILINE)
    gpu = rich_outputs(kaggle.code_cell("%mlenv_gpu"))[0]
    assert WIDGET_VIEW in gpu.data
    if not _gpu_is_present():
        assert "Settings → Accelerator" in gpu.data["text/plain"]
    assert re.match(
        r"kaggle dataset uciml/iris v\d+: attached, 1 file",
        stream_text(kaggle.code_cell("iris_dir = %mlenv_add_data")),
    )
    assert "kaggle competition titanic: attached, 2 files" in stream_text(
        kaggle.code_cell("titanic_dir = %mlenv_add_data")
    )
    inputs = stream_text(kaggle.code_cell("%%on_kaggle"))
    assert inputs == "run type: Interactive\ninputs: ['iris', 'titanic']\n"
    assert "skipped: %%on_colab" in stream_text(kaggle.code_cell("%%on_colab"))
    again = stream_text(kaggle.code_cell("%mlenv_add_data uciml/iris"))
    assert again.startswith("kaggle dataset uciml/iris: mounted, 1 file")
    assert stream_text(kaggle.code_cell("import csv")) == "90 passengers in train.csv\n"


def test_colab_notebook_uses_colab_cache_then_download_then_offline_cache(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    colab = executed_notebooks["colab.ipynb"]
    assert colab.run.host == "colab"
    (report,) = rich_outputs(colab.code_cell("%mlenv"))
    assert re.search(r"^host\s+Google Colab", report.data["text/plain"], re.MULTILINE)
    gpu = rich_outputs(colab.code_cell("%mlenv_gpu"))[0]
    if not _gpu_is_present():
        assert "Runtime → Change runtime type" in gpu.data["text/plain"]
    iris = stream_text(colab.code_cell("iris_dir = %mlenv_add_data"))
    assert iris.startswith("kaggle dataset uciml/iris: colab-cache, 1 file")
    titanic = stream_text(colab.code_cell("titanic_dir = %mlenv_add_data"))
    assert titanic.startswith("kaggle competition titanic: downloaded, 2 files")
    offline = stream_text(colab.code_cell("%mlenv_add_data competition:titanic --offline"))
    assert offline.startswith("kaggle competition titanic: cache, 2 files")
    release = stream_text(colab.code_cell("%%on_colab"))
    assert release == f"Colab release: {notebook_runner.COLAB_RELEASE_TAG}\n"
    assert "skipped: %%on_kaggle" in stream_text(colab.code_cell("%%on_kaggle"))
    assert stream_text(colab.code_cell("import csv")) == "150 flowers\n"


def test_no_output_carries_terminal_escapes(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    for name, executed in executed_notebooks.items():
        for cell in executed.notebook.cells:
            for output in cell.get("outputs", []):
                assert ANSI not in json.dumps(output), f"{name}: {cell.source[:40]!r}"
