"""The pure parts of remote runs: options, names, the pushed notebook, result objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlenv_magics.kaggle_run import KaggleRun, RemoteOptionError
from mlenv_magics.kaggle_run import notebook as nb
from mlenv_magics.kaggle_run.options import accelerator, kernel_ref, parse_duration
from mlenv_magics.kaggle_run.protocol import status_answer


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("90s", 90), ("45", 45)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "2x", "-5m", "0"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(RemoteOptionError):
        parse_duration(text)


def test_accelerators_map_to_kaggles_shapes() -> None:
    assert accelerator("gpu").shape == accelerator("T4x2").shape == "NvidiaTeslaT4"
    assert accelerator("none").shape is None and accelerator("tpu").shape == "TpuV5E8"
    with pytest.raises(RemoteOptionError, match="single T4 is not offered"):
        accelerator("t4")


def test_kernel_refs() -> None:
    assert kernel_ref("alice/my-run").version_label is None
    assert kernel_ref("alice/my-run/3").version_label == "v3"  # Kaggle answers 404 to "3"
    assert kernel_ref("https://www.kaggle.com/code/alice/my-run").ref == "alice/my-run"
    for bad in ("alice", "alice/run", "../x/y", "a/b/c/d"):
        with pytest.raises(RemoteOptionError):
            kernel_ref(bad)


def test_slugs_are_stable_short_and_match_their_title() -> None:
    one = nb.derive_slug("/home/me/My Training Notebook (copy).ipynb", "cell-7", "x = 1")
    assert one == nb.derive_slug("My Training Notebook (copy).ipynb", "cell-7", "x = 2")
    assert one != nb.derive_slug("My Training Notebook (copy).ipynb", "cell-8", "x = 1")
    assert one.startswith("mlenv-my-training-notebook-copy-") and len(one) <= 50
    assert nb.slugify(nb.title_for(one)) == one
    long = nb.derive_slug("a" * 200 + ".ipynb", None, "code")
    assert len(long) <= 50 and nb.slugify(nb.title_for(long)) == long


def test_a_notebook_file_is_pushed_without_outputs(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    cells = [{"cell_type": "code", "source": ["a\n", "b"], "outputs": [{"x": 1}], "metadata": {}}]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kaggle": {"accelerator": "tpu"}}}))
    pushed = json.loads(nb.push_text(nb.from_file(path)))
    assert pushed["cells"][0]["source"] == "a\nb" and pushed["cells"][0]["outputs"] == []
    assert "kaggle" not in pushed["metadata"]
    with pytest.raises(RemoteOptionError, match="nothing to run"):
        nb.from_code("   \n")


def test_status_answers_parse_as_kaggles_clients_do() -> None:
    assert status_answer({}).state == "queued"  # proto3 leaves out the zero value
    assert status_answer({"status": "COMPLETE"}).terminal
    assert status_answer({"status": "KERNEL_WORKER_STATUS_ERROR"}).state == "error"
    answer = status_answer({"status": "SOMETHING_NEW"})
    assert not answer.terminal  # unknown: keep waiting (bounded by --timeout)


def test_the_run_object_has_text_html_and_json() -> None:
    run = KaggleRun(
        ref="alice/mlenv-x-12345678",
        url="https://www.kaggle.com/code/alice/mlenv-x-12345678",
        version=2,
        status="running",
        accelerator="GPU T4 x2",
    )
    text = repr(run)
    assert text.startswith("kaggle run alice/mlenv-x-12345678 v2 · running · GPU T4 x2")
    assert "%mlenv_kaggle output alice/mlenv-x-12345678" in text
    assert "<table>" in run._repr_html_() and "&lt;" not in run._repr_html_().split("<b>")[0]
    data = run.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"ref", "url", "version", "status", "accelerator", "out", "files", "log"} <= set(data)
