"""The public names: each resolves, and each function has a real signature and result type."""

from __future__ import annotations

import inspect

import pytest

import mlenv_magics

FUNCTIONS = ["add_data", "detect_runtime", "gpu_report", "run_on_kaggle"]


def test_every_public_name_resolves() -> None:
    for name in mlenv_magics.__all__:
        assert getattr(mlenv_magics, name) is not None
    assert sorted(set(mlenv_magics.__all__) - {"MlenvError", "__version__"}) == FUNCTIONS
    with pytest.raises(AttributeError):
        _ = mlenv_magics.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_have_named_options_and_a_result_type(name: str) -> None:
    signature = inspect.signature(getattr(mlenv_magics, name))
    kinds = {parameter.kind for parameter in signature.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds
    assert inspect.Parameter.VAR_POSITIONAL not in kinds
    assert signature.return_annotation not in (inspect.Signature.empty, "Any")


def test_gpu_report_returns_the_report_for_the_given_environment(clean_env) -> None:  # type: ignore[no-untyped-def]
    report = mlenv_magics.gpu_report(env={"PATH": "/nonexistent", "MLENV_GPU_BACKEND": "none"})
    assert type(report).__name__ == "GpuReport" and report.backend == "none"
