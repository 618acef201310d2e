"""Parsing model and notebook sources, and refusing version numbers no Kaggle source has."""

from __future__ import annotations

import pytest

from mlenv_magics.data.sources import (
    FRAMEWORKS,
    KaggleDataset,
    KaggleModel,
    KaggleNotebook,
    framework_key,
    parse_source,
)
from mlenv_magics.errors import BadSourceError

GEMMA_2B = KaggleModel("google", "gemma", "pytorch", "2b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model:google/gemma/pytorch/2b", GEMMA_2B),
        ("model:google/gemma/PyTorch/2b", GEMMA_2B),
        ("model:google/gemma/pyTorch/2b", GEMMA_2B),
        ("model:google/gemma/py_torch/2b", GEMMA_2B),
        ("model:google/gemma/PY-TORCH/2b/", GEMMA_2B),
        ("models:google/gemma/pytorch/2b", GEMMA_2B),
        ("model:google/gemma/pytorch/2b/3", KaggleModel("google", "gemma", "pytorch", "2b", 3)),
        (
            "model:google/gemma/pytorch/2b/versions/3",
            KaggleModel("google", "gemma", "pytorch", "2b", 3),
        ),
        (
            "model:keras/gemma/keras/gemma_2b_en/2",
            KaggleModel("keras", "gemma", "keras", "gemma_2b_en", 2),
        ),
        (
            "model:google/gemma/tensorFlow2/1.1-2b-it",
            KaggleModel("google", "gemma", "tensorflow2", "1.1-2b-it"),
        ),
        ("https://www.kaggle.com/models/google/gemma/pyTorch/2b", GEMMA_2B),
        (
            "https://www.kaggle.com/models/google/gemma/pyTorch/2b/1",
            KaggleModel("google", "gemma", "pytorch", "2b", 1),
        ),
        (
            "kaggle.com/models/google/gemma/transformers/2b-it/2",
            KaggleModel("google", "gemma", "transformers", "2b-it", 2),
        ),
        (
            "https://www.kaggle.com/models/google/gemma/frameworks/PyTorch/variations/2b",
            GEMMA_2B,
        ),
        (
            "https://www.kaggle.com/models/google/gemma/frameworks/pyTorch/variations/2b/versions/4",
            KaggleModel("google", "gemma", "pytorch", "2b", 4),
        ),
        ("notebook:alice/train-run", KaggleNotebook("alice", "train-run")),
        ("notebooks:alice/train-run/", KaggleNotebook("alice", "train-run")),
        ("notebook:alice/train-run/versions/7", KaggleNotebook("alice", "train-run", 7)),
        ("https://www.kaggle.com/code/alice/train-run", KaggleNotebook("alice", "train-run")),
        (
            "https://www.kaggle.com/code/alice/train-run/output",
            KaggleNotebook("alice", "train-run"),
        ),
        ("www.kaggle.com/code/alice/train-run/notebook", KaggleNotebook("alice", "train-run")),
        (
            "https://www.kaggle.com/code/alice/train-run/versions/2",
            KaggleNotebook("alice", "train-run", 2),
        ),
        ("https://www.kaggle.com/kernels/alice/train-run", KaggleNotebook("alice", "train-run")),
    ],
)
def test_model_and_notebook_forms_parse(text: str, expected: object) -> None:
    assert parse_source(text) == expected


def test_framework_spellings_are_one_model_and_one_reference() -> None:
    spellings = ["pytorch", "PyTorch", "pyTorch", "PY_TORCH", "py-torch"]
    parsed = {parse_source(f"model:google/gemma/{name}/2b") for name in spellings}
    assert len(parsed) == 1
    (model,) = parsed
    assert isinstance(model, KaggleModel)
    assert model.ref == "google/gemma/pytorch/2b"
    assert model.framework_name == "pyTorch"
    assert model.web_url == "https://www.kaggle.com/models/google/gemma/pyTorch/2b"
    assert model.label == "kaggle model google/gemma/pytorch/2b"


def test_every_framework_parses_under_its_kaggle_spelling() -> None:
    for name in FRAMEWORKS:
        model = parse_source(f"model:o/m/{name}/v")
        assert isinstance(model, KaggleModel)
        assert model.framework == framework_key(name)
        assert model.framework_name == name


def test_notebook_labels_and_page() -> None:
    notebook = KaggleNotebook("alice", "train-run", 3)
    assert notebook.ref == "alice/train-run"
    assert notebook.web_url == "https://www.kaggle.com/code/alice/train-run"
    assert notebook.label == "kaggle notebook alice/train-run"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("model:google/gemma/pytorch", "model:owner/model/framework/variation"),
        ("model:google/gemma/pytorch/2b/1/extra", "model:owner/model/framework/variation"),
        ("model:google/../pytorch/2b", "model:owner/model/framework/variation"),
        ("model:google/gemma/torchy/2b", "'torchy'"),
        ("model:google/gemma/scikit--learn/2b/x", "not a number"),
        ("https://www.kaggle.com/models/google/gemma", "model:owner/model/framework/variation"),
        (
            "https://www.kaggle.com/models/google/gemma/frameworks/pyTorch",
            "model:owner/model/framework/variation",
        ),
        ("notebook:alice", "notebook:owner/slug"),
        ("notebook:alice/run/3", "notebook:owner/slug"),
        ("https://www.kaggle.com/code/alice", "notebook:owner/slug"),
        ("https://www.kaggle.com/code/alice/run?scriptVersionId=123456", "scriptVersionId"),
        ("google/gemma/pytorch/2b", "model:owner/model/framework/variation"),
    ],
)
def test_malformed_model_and_notebook_sources(text: str, says: str) -> None:
    with pytest.raises(BadSourceError) as info:
        parse_source(text)
    assert says in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "alice/tiny/versions/0",
        "alice/tiny/versions/007",
        "alice/tiny/versions/1000000001",
        "alice/tiny/versions/99999999999999999999999999999999",
        "alice/tiny/versions/-1",
        "alice/tiny/versions/1e3",
        "alice/tiny/versions/\u0663",
        "model:google/gemma/pytorch/2b/0",
        "model:google/gemma/pytorch/2b/01",
        "model:google/gemma/pytorch/2b/10000000000",
        "notebook:alice/run/versions/00",
        "notebook:alice/run/versions/4294967297",
        "https://www.kaggle.com/datasets/alice/tiny/versions/0",
    ],
)
def test_absurd_versions_are_refused(text: str) -> None:
    with pytest.raises(BadSourceError) as info:
        parse_source(text)
    assert "version" in str(info.value)


def test_the_largest_plausible_version_is_kept() -> None:
    assert parse_source("alice/tiny/versions/1000000000") == KaggleDataset("alice", "tiny", 10**9)


def test_every_framework_goes_on_the_wire_as_kagglesdks_enum() -> None:
    from kagglesdk.models.types.model_enums import ModelFramework

    from mlenv_magics.data.kaggle_api import model_framework

    members = {model_framework(framework_key(name)) for name in FRAMEWORKS}
    assert members == set(ModelFramework) - {ModelFramework.MODEL_FRAMEWORK_UNSPECIFIED}
    assert model_framework("pytorch").name == "MODEL_FRAMEWORK_PY_TORCH"
    assert model_framework("tensorflow2").name == "MODEL_FRAMEWORK_TENSOR_FLOW_2"
