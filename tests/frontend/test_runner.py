"""The notebook runner: its kernel environment, and how it fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlenv_magics.errors import MlenvError
from mlenv_magics.testing import notebook_runner

RUNNER = "mlenv_magics.testing.notebook_runner"


def _write(path: Path, *sources: str, tags: dict[int, list[str]] | None = None) -> Path:
    cells = [new_code_cell(source) for source in sources]
    for index, cell_tags in (tags or {}).items():
        cells[index].metadata["tags"] = cell_tags
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


def test_kernel_environment_drops_host_signals_and_isolates_home(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "KAGGLE_KERNEL_RUN_TYPE": "Batch",
        "COLAB_RELEASE_TAG": "release-colab-1",
        "KAGGLE_KEY": "from-the-developer-machine",
        "MLENV_RUNTIME": "kaggle",
        "CODESPACES": "true",
        "HOME": "/root",
    }
    env = notebook_runner.kernel_environment(tmp_path, {"MLENV_KAGGLE_API": "http://x"}, base)
    assert env["PATH"] == "/usr/bin"
    assert env["MLENV_KAGGLE_API"] == "http://x"
    for name in ("KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG", "KAGGLE_KEY", "CODESPACES"):
        assert name not in env
    assert env["MLENV_CACHE_DIR"].startswith(str(tmp_path))
    assert env["HOME"] == str(tmp_path / "home") and Path(env["HOME"]).is_dir()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("local", set()),
        (
            "kaggle",
            {"KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_DATA_PROXY_URL", "KAGGLE_CACHE_MOUNT_FOLDER"},
        ),
        ("colab", {"COLAB_RELEASE_TAG", "TBE_RUNTIME_ADDR", "COLAB_CACHE_MOUNT_FOLDER"}),
    ],
)
def test_offline_services_simulate_the_host(tmp_path: Path, host: str, expected: set[str]) -> None:
    host_names = {
        "KAGGLE_KERNEL_RUN_TYPE",
        "KAGGLE_DATA_PROXY_URL",
        "KAGGLE_CACHE_MOUNT_FOLDER",
        "COLAB_RELEASE_TAG",
        "TBE_RUNTIME_ADDR",
        "COLAB_CACHE_MOUNT_FOLDER",
    }
    with notebook_runner.offline_services(host, tmp_path) as env:
        assert env["MLENV_KAGGLE_API"].startswith("http://127.0.0.1:")
        assert host_names & set(env) == expected


@pytest.mark.kernel
def test_runner_cli_fails_with_the_cell_error_and_keeps_the_partial_notebook(
    tmp_path: Path,
) -> None:
    source = _write(
        tmp_path / "broken.ipynb",
        "print('first cell ran')",
        "raise ValueError('the data folder is empty')",
        "print('never reached')",
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlenv_magics.testing.notebook_runner",
            str(source),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "FAILED" in result.stderr and "the data folder is empty" in result.stderr
    assert "raises-exception" in result.stderr  # the message names the way out
    executed = nbformat.read(out / "broken.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "first cell ran\n"
    assert executed.cells[2].outputs == []


@pytest.mark.kernel
def test_tagged_cells_may_fail_and_the_run_goes_on(tmp_path: Path) -> None:
    source = _write(
        tmp_path / "tagged.ipynb",
        "raise RuntimeError('shown on purpose')",
        "print('still running')",
        tags={0: ["raises-exception"]},
    )
    run = notebook_runner.run_notebook(source, out_dir=tmp_path / "out")
    assert run.cells == 2 and run.host == "local"
    executed = nbformat.read(run.executed, as_version=4)
    assert executed.cells[0].outputs[0]["ename"] == "RuntimeError"
    assert executed.cells[1].outputs[0]["text"] == "still running\n"
    assert run.html.read_text(encoding="utf-8").count("still running") >= 1
    assert "tagged.ipynb" in repr(run) and run.to_dict()["cells"] == 2


def test_missing_notebook_and_unknown_host_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(MlenvError, match="No notebook at"):
        notebook_runner.run_notebook(tmp_path / "nothing.ipynb")
    source = _write(tmp_path / "one.ipynb", "1")
    with pytest.raises(MlenvError, match="cannot be simulated"):
        notebook_runner.run_notebook(source, host="databricks")


def _broken_python3_kernelspec(data_dir: Path) -> Path:
    """A machine whose ``python3`` kernelspec starts a program that is not Python at all."""
    spec = data_dir / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        '{"argv": ["/bin/false", "{connection_file}"], "display_name": "broken",'
        ' "language": "python"}',
        encoding="utf-8",
    )
    return data_dir


@pytest.mark.kernel
def test_kernels_run_this_interpreter_whatever_kernelspecs_the_machine_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(_broken_python3_kernelspec(tmp_path / "machine")))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "machine"))
    printed: list[str] = []
    with notebook_runner.own_kernel(tmp_path / "spec") as client:
        client.execute_interactive(
            "import sys; print(sys.executable)",
            timeout=60,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )
    assert "".join(printed).strip() == sys.executable
    # The runner, which names "python3" in the notebook's metadata, uses the same kernel.
    source = _write(tmp_path / "which.ipynb", "import sys; print(sys.executable)")
    run = notebook_runner.run_notebook(source, out_dir=tmp_path / "out")
    executed = nbformat.read(run.executed, as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == sys.executable
