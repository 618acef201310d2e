"""The executed notebooks, converted to HTML, read well without a kernel, network or secrets."""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mlenv_magics.testing import kaggle_fake, notebook_runner

from .conftest import ExecutedNotebook

WIDGET_VIEW = notebook_runner.WIDGET_VIEW
WIDGET_STATE = notebook_runner.WIDGET_STATE
WIDGET_REPRS = (
    "HBox(children=",
    "VBox(children=",
    "Box(children=",
    "IntProgress(",
    "FloatProgress(",
)


def _visible_text(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.kernel
def test_every_output_of_the_static_copy_has_text_or_html(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    for name, executed in executed_notebooks.items():
        static = notebook_runner.static_outputs(executed.notebook)
        for cell in static.cells:
            for output in cell.get("outputs", []):
                if output.output_type in {"display_data", "execute_result"}:
                    assert WIDGET_VIEW not in output.data
                    shown = output.data.get("text/html") or output.data.get("text/plain")
                    assert shown and shown.strip(), f"{name}: {cell.source[:40]!r}"
                    assert not str(shown).lstrip().startswith(WIDGET_REPRS), shown


@pytest.mark.kernel
def test_html_pages_show_no_widget_reprs_or_model_ids(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    for name, executed in executed_notebooks.items():
        page = executed.html
        for widget_repr in WIDGET_REPRS:
            assert widget_repr not in page, f"{name} shows {widget_repr}"
        assert WIDGET_VIEW not in page and WIDGET_STATE not in page
        assert "model_id" not in page
        for model_id in notebook_runner.widget_state(executed.notebook):
            assert model_id not in page, f"{name} shows a bare widget model id"


@pytest.mark.kernel
def test_quickstart_html_shows_gpu_text_progress_at_100_and_the_error(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    text = _visible_text(executed_notebooks["quickstart.ipynb"].html)
    assert "GPU report" in text
    assert "skipped: %%on_colab runs this cell only on Google Colab" in text
    assert re.search(r"competition:titanic: 100% \|#{20}\|", text)
    assert re.search(r"uciml/iris: (100% )?\|#{20}\|", text)
    assert "AcceleratorMissingError: No GPU" in text or "GPU report" in text
    assert "150 flowers of 3 species" in text


@pytest.mark.kernel
def test_no_credential_value_reaches_the_notebook_or_its_html(
    executed_notebooks: dict[str, ExecutedNotebook],
) -> None:
    defaults = kaggle_fake.KaggleFake()  # the credential values the fake hands out
    values = [defaults.token, defaults.key, defaults.user_secrets_token, defaults.proxy_token]
    for name, executed in executed_notebooks.items():
        notebook_text = executed.run.executed.read_text(encoding="utf-8")
        for value in [executed.planted_secret, *values]:
            assert value not in notebook_text, f"{name}: a credential in the notebook"
            assert value not in executed.html, f"{name}: a credential in the HTML"


def _progress_notebook() -> nbformat.NotebookNode:
    """A hand-made notebook as a widget frontend saves it: a tqdm-style bar that ended full,
    and a labelled bar whose object's text is only its widget repr."""
    state = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]},
        },
        "left": {"model_name": "HTMLModel", "state": {"value": "data.zip: 100%"}},
        "bar": {"model_name": "FloatProgressModel", "state": {"value": 2048, "max": 2048}},
        "right": {"model_name": "HTMLModel", "state": {"value": " 2.00k/2.00k [00:01&lt;00:00]"}},
        "plain": {
            "model_name": "VBoxModel",
            "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_third"]},
        },
        "label": {"model_name": "LabelModel", "state": {"value": "memory"}},
        "third": {"model_name": "IntProgressModel", "state": {"value": 1, "max": 4}},
    }
    view = {"version_major": 2, "version_minor": 0}
    cells = [
        new_code_cell(
            "bar",
            outputs=[
                new_output(
                    "display_data",
                    data={
                        WIDGET_VIEW: {**view, "model_id": "box"},
                        "text/plain": "data.zip:   0%|          | 0.00/2.00k",
                    },
                )
            ],
        ),
        new_code_cell(
            "view",
            outputs=[
                new_output(
                    "execute_result",
                    data={
                        WIDGET_VIEW: {**view, "model_id": "plain"},
                        "text/plain": "VBox(children=(Label(value='memory'), IntProgress(...)))",
                    },
                    execution_count=1,
                )
            ],
        ),
        new_code_cell(
            "rich",
            outputs=[
                new_output(
                    "execute_result",
                    data={
                        WIDGET_VIEW: {**view, "model_id": "gone"},
                        "text/plain": "a report",
                        "text/html": "<b>a report</b>",
                    },
                    execution_count=2,
                )
            ],
        ),
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["widgets"] = {WIDGET_STATE: {"state": state, "version_major": 2}}
    return notebook


def test_static_copy_turns_widget_state_into_text() -> None:
    notebook = _progress_notebook()
    static = notebook_runner.static_outputs(notebook)
    bar, view, rich = (cell.outputs[0].data for cell in static.cells)
    assert bar == {"text/plain": "data.zip: 100% |####################| 2.00k/2.00k [00:01<00:00]"}
    assert view == {"text/plain": "memory\n|#####               | 25%"}
    assert rich == {"text/plain": "a report", "text/html": "<b>a report</b>"}
    assert "widgets" not in static.metadata
    assert WIDGET_VIEW in notebook.cells[0].outputs[0].data, "the original is left alone"


def test_exported_html_of_a_widget_notebook_is_static(tmp_path) -> None:
    target = notebook_runner.export_html(_progress_notebook(), tmp_path / "page.html")
    page = target.read_text(encoding="utf-8")
    assert "data.zip: 100% |####################|" in _visible_text(page)
    assert "VBox(children=" not in page and WIDGET_VIEW not in page
